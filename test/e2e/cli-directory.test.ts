import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { postForm } from '../support/http.js';
import { completeDeviceLogin, KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import { kentraCli, type Run } from '../support/kentra-cli.js';
import { storeMatrix } from '../support/postgres.js';

// Kentra's own CLI, as a real process, against a running server: sign-in, accounts and every `ad`
// command of the directory issue, and document 003's legacy walkthrough as written (with `kentra`
// in place of `az`). On SQLite and on PostgreSQL.

/** Document 003's directory steps, exactly as written there but for the command name. */
const LEGACY_WALKTHROUGH = `
set -euo pipefail
aksname=myakscluster
serverApplicationId=$(kentra ad app create \\
    --display-name "\${aksname}Server" \\
    --identifier-uris "https://\${aksname}Server" \\
    --query appId -o tsv)
kentra ad app update --id $serverApplicationId --set groupMembershipClaims=All
kentra ad sp create --id $serverApplicationId
serverApplicationSecret=$(kentra ad sp credential reset \\
    --name $serverApplicationId \\
    --credential-description "AKSPassword" \\
    --query password -o tsv)
kentra ad app permission add \\
    --id $serverApplicationId \\
    --api 00000003-0000-0000-c000-000000000000 \\
    --api-permissions e1fe6dd8-ba31-4d61-89e7-88639da4683d=Scope 06da0dbc-49e2-44d2-8312-53f166ab848a=Scope 7ab1d382-f21e-4acd-a863-ba3e13f7da61=Role
kentra ad app permission grant --id $serverApplicationId --api 00000003-0000-0000-c000-000000000000
kentra ad app permission admin-consent --id  $serverApplicationId
clientApplicationId=$(kentra ad app create \\
    --display-name "\${aksname}Client" \\
    --native-app \\
    --reply-urls "https://\${aksname}Client" \\
    --query appId -o tsv)
kentra ad sp create --id $clientApplicationId
oAuthPermissionId=$(kentra ad app show --id $serverApplicationId --query "oauth2Permissions[0].id" -o tsv)
kentra ad app permission add --id $clientApplicationId --api $serverApplicationId --api-permissions \${oAuthPermissionId}=Scope
kentra ad app permission grant --id $clientApplicationId --api $serverApplicationId
tenantId=$(kentra account show --query tenantId -o tsv)
echo "RESULT $serverApplicationId $clientApplicationId $serverApplicationSecret $tenantId $oAuthPermissionId"
`;

const stores = storeMatrix(after);

for (const store of stores) {
  describe(`kentra CLI directory commands on ${store.name}`, { timeout: 300_000 }, () => {
    let k: TestKentra;
    let dir: string;
    let env: NodeJS.ProcessEnv;

    const cli = kentraCli(() => env);
    const kentra = cli.run;
    const ok = cli.ok;
    const okJson = cli.json;

    before(async () => {
      k = await startTestKentra({ store: store.url ? await store.url() : undefined });
      dir = mkdtempSync(join(tmpdir(), 'kentra-cli-'));
      env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
    });
    after(async () => {
      await k?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('signs in with a password, keeps its files private, and shows the account', async () => {
      const { admin, tenantId, subscriptionId } = k.endpoints;
      const subs = await okJson('login', '-u', admin.userPrincipalName, '-p', admin.password);
      assert.deepEqual(
        subs.map((s: any) => [s.id, s.tenantId, s.user.name, s.user.type, s.isDefault]),
        [[subscriptionId, tenantId, admin.userPrincipalName, 'user', true]],
      );
      for (const f of ['profile.json', 'tokens.json']) assert.equal(statSync(join(dir, 'config', f)).mode & 0o777, 0o600, f);
      assert.equal((await ok('account', 'show', '--query', 'tenantId', '-o', 'tsv')).trim(), tenantId);
      assert.equal((await okJson('account', 'list')).length, 1);
      const table = await ok('account', 'list', '-o', 'table');
      assert.match(table, /^CloudName\s+HomeTenantId\s+IsDefault\s+Name\s+State\s+TenantId\n-+/);
      assert.match(await ok('account', 'show', '-o', 'yaml'), /^cloudName: Kentra$/m);
      assert.equal(await ok('account', 'show', '-o', 'none'), '');
      const token = await okJson('account', 'get-access-token', '--resource', '6dae42f8-4368-4678-94ff-3960e28e3630');
      assert.equal(decodeJwt(token.accessToken).aud, '6dae42f8-4368-4678-94ff-3960e28e3630');
      assert.equal(token.subscription, subscriptionId);
      const scoped = await okJson('account', 'get-access-token', '--scope', 'https://graph.microsoft.com/.default', '--tenant', tenantId);
      assert.equal(decodeJwt(scoped.accessToken).aud, 'https://graph.microsoft.com');
      const bad = await kentra(['account', 'get-access-token', '--resource', 'x', '--scope', 'y']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^ERROR: usage error/);
      const wrong = await kentra(['login', '-u', admin.userPrincipalName, '-p', 'wrong']);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /^ERROR: AADSTS50126: Error validating credentials due to invalid username or password\.$/m);
      await okJson('login', '-u', admin.userPrincipalName, '-p', admin.password);
    });

    it("runs document 003's legacy walkthrough as written, and the result works", async () => {
      const script = join(dir, 'walkthrough.sh');
      writeFileSync(script, `kentra() { "${process.execPath}" "${KENTRA_BIN}" "$@"; }\n${LEGACY_WALKTHROUGH}`);
      const r = await new Promise<Run>((resolve) => {
        const child = spawn('bash', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      });
      assert.equal(r.code, 0, r.stderr);
      const [serverApp, clientApp, serverSecret, tenantId, scopeId] = /RESULT (\S+) (\S+) (\S+) (\S+) (\S+)/.exec(r.stdout)!.slice(1);
      assert.equal(tenantId, k.endpoints.tenantId);
      assert.match(scopeId!, /^[0-9a-f-]{36}$/);
      assert.match(r.stderr, /WARNING: Invoking `kentra ad app permission grant/);
      const server = await okJson('ad', 'app', 'show', '--id', serverApp!);
      assert.equal(server.groupMembershipClaims, 'All');
      assert.deepEqual(server.identifierUris, ['https://myaksclusterServer']);
      const client = await okJson('ad', 'app', 'show', '--id', clientApp!);
      assert.equal(client.isFallbackPublicClient, true);
      assert.deepEqual(client.publicClient.redirectUris, ['https://myaksclusterClient']);
      // admin-consent gave the server app Directory.Read.All; its secret signs it in.
      const appToken = await postForm(
        `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
        {
          client_id: serverApp!,
          client_secret: serverSecret!,
          grant_type: 'client_credentials',
          scope: 'https://graph.microsoft.com/.default',
        },
        k.endpoints.caFile,
      );
      assert.deepEqual(decodeJwt(appToken.json().access_token).roles, ['Directory.Read.All']);
      const grants = await okJson('ad', 'sp', 'show', '--id', serverApp!, '--query', 'id', '-o', 'json');
      assert.match(grants, /^[0-9a-f-]{36}$/);
      // A user signs in through the client app for the server app, with directory roles and groups.
      const userToken = await postForm(
        `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
        {
          client_id: clientApp!,
          grant_type: 'password',
          username: k.endpoints.admin.userPrincipalName,
          password: k.endpoints.admin.password,
          scope: 'https://myaksclusterServer/.default',
        },
        k.endpoints.caFile,
      );
      assert.equal(userToken.status, 200, userToken.text);
      assert.equal(decodeJwt(userToken.json().access_token).scp, 'user_impersonation');
    });

    it('manages users, groups and members', async () => {
      const user = await okJson(
        'ad',
        'user',
        'create',
        '--display-name',
        'Bob',
        '--password',
        'Bob-Passw0rd!',
        '--user-principal-name',
        'bob@kentra.onmicrosoft.com',
      );
      assert.equal(user.userPrincipalName, 'bob@kentra.onmicrosoft.com');
      assert.equal((await okJson('ad', 'user', 'show', '--id', 'bob@kentra.onmicrosoft.com')).id, user.id);
      await ok('ad', 'user', 'update', '--id', user.id, '--display-name', 'Robert');
      assert.equal((await ok('ad', 'user', 'show', '--id', user.id, '--query', 'displayName', '-o', 'tsv')).trim(), 'Robert');
      assert.deepEqual(await okJson('ad', 'user', 'list', '--upn', 'bob@kentra.onmicrosoft.com', '--query', '[].displayName'), ['Robert']);
      const group = await okJson('ad', 'group', 'create', '--display-name', 'devs', '--mail-nickname', 'devs');
      const again = await kentra(['ad', 'group', 'create', '--display-name', 'devs', '--mail-nickname', 'devs']);
      assert.equal(JSON.parse(again.stdout).id, group.id);
      assert.match(again.stderr, /WARNING: A group with the same display name and mail nickname already exists, returning\./);
      await ok('ad', 'group', 'member', 'add', '--group', 'devs', '--member-id', user.id);
      assert.deepEqual(await okJson('ad', 'group', 'member', 'check', '--group', group.id, '--member-id', user.id), { value: true });
      assert.deepEqual(await okJson('ad', 'group', 'member', 'list', '--group', 'devs', '--query', '[].userPrincipalName'), [
        'bob@kentra.onmicrosoft.com',
      ]);
      const dup = await kentra(['ad', 'group', 'member', 'add', '--group', 'devs', '--member-id', user.id]);
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /^ERROR: One or more added object references already exist/);
      await ok('ad', 'group', 'member', 'remove', '--group', 'devs', '--member-id', user.id);
      assert.deepEqual(await okJson('ad', 'group', 'member', 'check', '--group', 'devs', '--member-id', user.id), { value: false });
      assert.equal((await okJson('ad', 'group', 'show', '-g', 'devs')).id, group.id);
      assert.ok((await okJson('ad', 'group', 'list', '--display-name', 'dev')).some((g: any) => g.id === group.id));
      await ok('ad', 'group', 'delete', '-g', group.id);
      assert.equal((await kentra(['ad', 'group', 'show', '-g', group.id])).code, 3);
      await ok('ad', 'user', 'delete', '--id', user.id);
      const gone = await kentra(['ad', 'user', 'show', '--id', user.id]);
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /^ERROR: Resource '.*' does not exist/);
    });

    it('manages applications, their credentials and service principals', async () => {
      const a = await okJson(
        'ad',
        'app',
        'create',
        '--display-name',
        'billing',
        '--web-redirect-uris',
        'https://billing.example/cb',
        '--identifier-uris',
        'api://billing',
      );
      assert.deepEqual(a.web.redirectUris, ['https://billing.example/cb']);
      assert.equal((await okJson('ad', 'app', 'list', '--app-id', a.appId)).length, 1);
      assert.equal((await okJson('ad', 'app', 'show', '--id', 'api://billing')).appId, a.appId);
      await ok(
        'ad',
        'app',
        'update',
        '--id',
        a.appId,
        '--public-client-redirect-uris',
        'http://localhost',
        '--set',
        'isFallbackPublicClient=true',
      );
      const updated = await okJson('ad', 'app', 'show', '--id', a.id);
      assert.equal(updated.isFallbackPublicClient, true);
      assert.deepEqual(updated.publicClient.redirectUris, ['http://localhost']);
      const first = await okJson('ad', 'app', 'credential', 'reset', '--id', a.appId, '--display-name', 'ci');
      assert.equal(first.appId, a.appId);
      assert.equal(first.tenant, k.endpoints.tenantId);
      const second = await okJson('ad', 'app', 'credential', 'reset', '--id', a.appId, '--append', '--years', '2');
      const creds = await okJson('ad', 'app', 'credential', 'list', '--id', a.appId);
      assert.equal(creds.length, 2);
      assert.ok(
        creds.every((c: any) => c.secretText === null && c.hint.length === 3),
        'secrets are never shown again',
      );
      await okJson('ad', 'sp', 'create', '--id', a.appId);
      const sp = await okJson('ad', 'sp', 'show', '--id', a.appId);
      assert.equal(sp.appId, a.appId);
      assert.ok((await okJson('ad', 'sp', 'list', '--display-name', 'billing')).some((s: any) => s.id === sp.id));
      for (const secret of [first.password, second.password]) {
        const res = await postForm(
          `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
          { client_id: a.appId, client_secret: secret, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' },
          k.endpoints.caFile,
        );
        assert.equal(res.status, 200, 'both appended secrets work');
      }
      await ok('ad', 'app', 'credential', 'delete', '--id', a.appId, '--key-id', creds[0].keyId);
      assert.equal((await okJson('ad', 'app', 'credential', 'list', '--id', a.appId)).length, 1);
      const spSecret = await okJson('ad', 'sp', 'credential', 'reset', '--id', a.appId);
      assert.ok(spSecret.password.length >= 16);
      assert.deepEqual(await okJson('ad', 'app', 'permission', 'list', '--id', a.appId), []);
      const owned = await okJson('ad', 'signed-in-user', 'list-owned-objects', '--type', 'application');
      assert.ok(
        owned.some((o: any) => o.appId === a.appId),
        'the creator owns the application',
      );
      assert.equal(
        (await ok('ad', 'signed-in-user', 'show', '--query', 'userPrincipalName', '-o', 'tsv')).trim(),
        k.endpoints.admin.userPrincipalName,
      );
      await ok('ad', 'sp', 'delete', '--id', a.appId);
      await ok('ad', 'app', 'delete', '--id', a.appId);
      assert.equal((await kentra(['ad', 'app', 'show', '--id', a.appId])).code, 3);
      const usage = await kentra(['ad', 'app', 'permission', 'add', '--id', 'api://x', '--api', 'y', '--api-permissions', 'nonsense']);
      assert.equal(usage.code, 2);
    });

    it('signs in as a service principal with a secret and with a certificate, and with a device code', async () => {
      const { servicePrincipal: sp, tenantId } = k.endpoints;
      await ok('logout');
      const subs = await okJson('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
      assert.equal(subs[0].user.type, 'servicePrincipal');
      const cert = await createSelfSignedCertificate({ commonName: 'cli-cert' });
      const pem = join(dir, 'cert.pem');
      writeFileSync(pem, `${cert.certPem}${cert.keyPem}`);
      const app = await okJson('ad', 'app', 'create', '--display-name', 'cert-app');
      await ok('ad', 'sp', 'create', '--id', app.appId);
      const token = (await okJson('account', 'get-access-token', '--scope', 'https://graph.microsoft.com/.default')).accessToken;
      const patch = await postForm(
        `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
        { client_id: sp.appId, client_secret: sp.secret, grant_type: 'client_credentials', scope: 'https://graph.microsoft.com/.default' },
        k.endpoints.caFile,
      );
      assert.equal(patch.status, 200);
      const res = await fetchJson(`${k.endpoints.authority}/v1.0/applications/${app.id}`, 'PATCH', token, {
        keyCredentials: [{ type: 'AsymmetricX509Cert', usage: 'Verify', key: cert.certDer.toString('base64') }],
      });
      assert.equal(res, 204);
      await ok('logout');
      await okJson('login', '--service-principal', '-u', app.appId, '--certificate', pem, '--tenant', tenantId, '--allow-no-subscriptions');
      const t = await okJson('account', 'get-access-token', '--scope', 'https://graph.microsoft.com/.default');
      assert.equal(decodeJwt(t.accessToken).appidacr, '2', 'a certificate credential');

      await ok('logout');
      const { admin, authority, caFile } = k.endpoints;
      let signIn: Promise<string> | undefined;
      const r = await kentra(['login', '--use-device-code'], {
        onStderr: (text) => {
          const m = /enter the code ([A-Z]{9}) to authenticate/.exec(text);
          if (m && !signIn) signIn = completeDeviceLogin(authority, caFile, m[1]!, admin.userPrincipalName, admin.password);
        },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(await signIn!, /You have signed in to the Microsoft Azure CLI application/);
      assert.equal(JSON.parse(r.stdout)[0].user.name, admin.userPrincipalName);
    });

    async function fetchJson(url: string, method: string, token: string, body: unknown): Promise<number> {
      const { httpsFetch } = await import('../support/http.js');
      const res = await httpsFetch(url, {
        method,
        caFile: k.endpoints.caFile,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return res.status;
    }
  });
}
