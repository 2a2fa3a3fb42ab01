import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { postForm } from '../support/http.js';
import { kentraCli, type Run } from '../support/kentra-cli.js';
import { commandShims, KUBELOGIN_BIN, processRunner } from '../support/kubectl.js';
import { completeDeviceLogin, KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import type { Backend } from '../support/kube-apiserver.js';
import { claimsOf, expiredCopy } from '../support/webhook-contract.js';

// F3, F5, F7, F8 and F9 end to end: the real kubectl, Kentra's kubelogin as its exec plugin, and the
// built-in Kubernetes API of each emulated cluster (`<authority>/clusters/<uid>`), with kubeconfigs
// from `kentra aks get-credentials`.

const KUBELOGIN = KUBELOGIN_BIN;
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const D = 'kentra.onmicrosoft.com';
const OTHER = 'other.onmicrosoft.com';
const OTHER_TENANT = '77777777-7777-4777-8777-777777777777';
const GUEST_OID = '77777777-0000-4000-8000-00000000a001';
const USERS = ['alice', 'bob', 'carol'];
const pw = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}-Passw0rd!`;
const UNAUTHORIZED =
  /^error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)\n$/;

const SEED = `
tenants:
  - domain: ${D}
    users:
${USERS.map((u) => `      - { userPrincipalName: ${u}@${D}, password: '${pw(u)}' }`).join('\n')}
    groups:
      - { displayName: aks-admins, members: [alice@${D}] }
    guests:
      - { userPrincipalName: guest@${OTHER}, id: ${GUEST_OID} }
  - id: ${OTHER_TENANT}
    domain: ${OTHER}
    users:
      - { userPrincipalName: guest@${OTHER}, password: 'Guest-Passw0rd!' }
`;

/** Document 003's directory steps (with `kentra` in place of `az`). */
const LEGACY_APPS = `
set -euo pipefail
aksname=legacy
serverApplicationId=$(kentra ad app create --display-name "\${aksname}Server" --identifier-uris "https://\${aksname}Server" --query appId -o tsv)
kentra ad app update --id $serverApplicationId --set groupMembershipClaims=All >/dev/null
kentra ad sp create --id $serverApplicationId >/dev/null
serverApplicationSecret=$(kentra ad sp credential reset --name $serverApplicationId --credential-description "AKSPassword" --query password -o tsv)
kentra ad app permission add --id $serverApplicationId --api 00000003-0000-0000-c000-000000000000 \\
    --api-permissions e1fe6dd8-ba31-4d61-89e7-88639da4683d=Scope 06da0dbc-49e2-44d2-8312-53f166ab848a=Scope 7ab1d382-f21e-4acd-a863-ba3e13f7da61=Role >/dev/null
kentra ad app permission grant --id $serverApplicationId --api 00000003-0000-0000-c000-000000000000 >/dev/null
kentra ad app permission admin-consent --id  $serverApplicationId >/dev/null
clientApplicationId=$(kentra ad app create --display-name "\${aksname}Client" --native-app --reply-urls "https://\${aksname}Client" --query appId -o tsv)
kentra ad sp create --id $clientApplicationId >/dev/null
oAuthPermissionId=$(kentra ad app show --id $serverApplicationId --query "oauth2Permissions[0].id" -o tsv)
kentra ad app permission add --id $clientApplicationId --api $serverApplicationId --api-permissions \${oAuthPermissionId}=Scope >/dev/null
kentra ad app permission grant --id $clientApplicationId --api $serverApplicationId >/dev/null
tenantId=$(kentra account show --query tenantId -o tsv)
echo "RESULT $serverApplicationId $clientApplicationId $serverApplicationSecret $tenantId"
`;

export function clusterAccessFlows(backend: Backend): void {
  describe(
    `cluster access with the real kubectl: F3, F5, F7, F8, F9, against ${backend.name}`,
    { timeout: 900_000, skip: backend.skip },
    () => {
      let k: TestKentra;
      let dir: string;
      let env: NodeJS.ProcessEnv;
      const cli = kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: join(dir, 'config') }));
      let adminGroup: string;
      const files = { user: '', admin: '', legacyAdmin: '', legacyUser: '' };
      let legacy: { server: string; client: string; tenant: string };
      let legacyCarolToken = '';

      const { run, kubectl, kubectlOk, whoami } = processRunner(() => env);
      /** `kubectl auth whoami`; on a kube-apiserver before 1.28 (no SelfSubjectReview v1) the same answer from its TokenReview, asked by `reviewer`. */
      const whoamiOk = async (kubeconfig: string, extraEnv: NodeJS.ProcessEnv, reviewer: string) => {
        const r = await whoami(kubeconfig, extraEnv, backend.selfSubjectReview ? undefined : reviewer);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };
      /** kubectl, completing a device-code sign-in as `user` when kubelogin prints one. */
      const kubectlDevice = async (kubeconfig: string, args: string[], user: string, extraEnv: NodeJS.ProcessEnv = {}) => {
        let signIn: Promise<string> | undefined;
        const r = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], extraEnv, (stderr) => {
          const m = /enter the code ([A-Z]{9}) to authenticate/.exec(stderr);
          if (m && !signIn) signIn = completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, m[1]!, `${user}@${D}`, pw(user));
        });
        if (signIn) await signIn;
        return { ...r, signedIn: !!signIn };
      };
      /** Rewrites every `command: kubelogin` exec user to run Kentra's kubelogin with this node. */
      const useKentraKubelogin = (file: string) => {
        const config = parse(readFileSync(file, 'utf8'));
        for (const u of config.users) {
          const exec = u.user?.exec;
          if (exec?.command === 'kubelogin') {
            exec.command = process.execPath;
            exec.args = [KUBELOGIN, ...exec.args];
          }
        }
        writeFileSync(file, stringify(config));
        return config;
      };
      const execArgs = (file: string): string[] => parse(readFileSync(file, 'utf8')).users[0].user.exec.args;
      const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];
      /** A kubeconfig for the same cluster with a static bearer token and no exec plugin. */
      const staticToken = (from: string, name: string, token: string) => {
        const config = parse(readFileSync(from, 'utf8'));
        const file = join(dir, `${name}.kubeconfig`);
        writeFileSync(
          file,
          stringify({
            apiVersion: 'v1',
            kind: 'Config',
            'current-context': name,
            clusters: [{ name: 'c', cluster: config.clusters[0].cluster }],
            contexts: [{ name, context: { cluster: 'c', user: name } }],
            users: [{ name, user: { token } }],
          }),
        );
        return file;
      };
      const passwordGrant = async (tenant: string, clientId: string, scope: string, username: string, password: string) => {
        const res = await postForm(
          `${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`,
          { grant_type: 'password', client_id: clientId, scope, username, password },
          k.endpoints.caFile,
        );
        assert.equal(res.status, 200, res.text);
        return res.json().access_token as string;
      };
      /**
       * Polls kubectl until it is refused with a 401, for at most 15 s: a real kube-apiserver keeps a token
       * review for its webhook cache TTL (2 s), and one restarted for a changed setting (local accounts
       * turned off, as AKS rolls its control plane) refuses connections for a moment first.
       */
      const untilUnauthorized = async (kubeconfig: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
        const deadline = Date.now() + 15_000;
        let r: Run;
        for (;;) {
          r = await kubectl(kubeconfig, args, extraEnv);
          if ((r.code !== 0 && UNAUTHORIZED.test(r.stderr)) || Date.now() > deadline) break;
          await new Promise((s) => setTimeout(s, 1000));
        }
        assert.equal(r.code, 1, `still accepted after 15 s:\n${r.stdout}`);
        assert.match(r.stderr, UNAUTHORIZED, `not refused with a 401 within 15 s:\n${r.stderr}`);
      };
      const id = async (...args: string[]) => (await cli.ok(...args, '--query', 'id', '-o', 'tsv')).trim();
      const ropc = (user: string, cache: string): NodeJS.ProcessEnv => ({
        AAD_LOGIN_METHOD: 'ropc',
        AAD_USER_PRINCIPAL_NAME: user,
        AAD_USER_PRINCIPAL_PASSWORD: user.startsWith('guest@') ? 'Guest-Passw0rd!' : pw(user.split('@')[0]!),
        KUBECACHEDIR: join(dir, cache),
      });

      before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'kentra-cluster-access-f-'));
        k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0', ...backend.args()] });
        const bin = commandShims(dir, { kentra: KENTRA_BIN });
        env = {
          PATH: `${bin}:${process.env.PATH}`,
          HOME: dir,
          KENTRA_DATA_DIR: k.dataDir,
          KUBECACHEDIR: join(dir, 'cache'),
          NODE_EXTRA_CA_CERTS: k.endpoints.caFile,
        };
        await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
        adminGroup = await id('ad', 'group', 'show', '--group', 'aks-admins');
        await cli.json('group', 'create', '--name', 'rg', '--location', 'eastus');
        await cli.json('aks', 'create', '-g', 'rg', '-n', 'c1', '--enable-aad', '--aad-admin-group-object-ids', adminGroup);
        files.user = join(dir, 'c1-user.kubeconfig');
        files.admin = join(dir, 'c1-admin.kubeconfig');
        await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c1', '--file', files.user);
        useKentraKubelogin(files.user);
      });
      after(async () => {
        await k?.close();
        rmSync(dir, { recursive: true, force: true });
      });

      it('F5: an admin-group member signs in with the device code, lists nodes, and the next command uses the cache', async (t) => {
        t.diagnostic(`against ${backend.versions()}`);
        const args = execArgs(files.user);
        assert.equal(flag(args, '--login'), 'devicecode');
        assert.equal(flag(args, '--server-id'), AKS_SERVER);
        const first = await kubectlDevice(files.user, ['get', 'nodes'], 'alice');
        assert.equal(first.code, 0, first.stderr);
        assert.ok(first.signedIn, 'kubelogin asked for a device-code sign-in');
        assert.match(
          first.stderr,
          /To sign in, use a web browser to open the page https:\/\/localhost:\d+\/devicelogin and enter the code [A-Z]{9} to authenticate\./,
        );
        const lines = first.stdout.trimEnd().split('\n');
        assert.match(lines[0]!, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
        assert.ok(lines.length > 1, first.stdout);
        for (const line of lines.slice(1)) assert.match(line, /^aks-nodepool1-\S+\s+Ready\s/);

        const second = await kubectlDevice(files.user, ['get', 'pods', '-A'], 'alice');
        assert.equal(second.code, 0, second.stderr);
        assert.ok(!second.signedIn, 'no second device-code prompt');
        assert.doesNotMatch(second.stderr, /enter the code/);
        assert.match(second.stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
        assert.match(second.stdout, /\nkube-system\s+coredns-\S+\s/);
        assert.match(second.stdout, /\nkube-system\s+kube-proxy-\S+\s/);
      });

      it('F7: a user outside the admin group with no binding is Forbidden; expired, wrong-audience, wrong-tenant and tampered tokens get 401', async () => {
        const bob = ropc(`bob@${D}`, 'cache-bob');
        const forbidden = await kubectl(files.user, ['get', 'pods'], bob);
        assert.equal(forbidden.code, 1, forbidden.stdout);
        assert.equal(
          forbidden.stderr,
          `Error from server (Forbidden): pods is forbidden: User "bob@${D}" cannot list resource "pods" in API group "" in the namespace "default"\n`,
        );

        // A good token of bob's as a static token: the same refusal, so the static kubeconfig itself works.
        const good = await passwordGrant(k.endpoints.tenantId, AKS_CLIENT, `${AKS_SERVER}/.default`, `bob@${D}`, pw('bob'));
        const control = await kubectl(staticToken(files.user, 'bob-good', good), ['get', 'pods']);
        assert.equal(control.code, 1);
        assert.match(control.stderr, /^Error from server \(Forbidden\): pods is forbidden: User "bob@kentra\.onmicrosoft\.com"/);

        // Expired: bob's real claims, two hours old, signed with Kentra's own signing key.
        const expired = expiredCopy(good, k.dataDir);

        const armToken = await passwordGrant(
          k.endpoints.tenantId,
          AZURE_CLI,
          'https://management.azure.com/.default',
          `bob@${D}`,
          pw('bob'),
        );
        assert.notEqual(claimsOf(armToken).aud, AKS_SERVER);
        const otherTenant = await passwordGrant(OTHER_TENANT, AKS_CLIENT, `${AKS_SERVER}/.default`, `guest@${OTHER}`, 'Guest-Passw0rd!');
        assert.equal(claimsOf(otherTenant).tid, OTHER_TENANT);
        const [ph, pp, sig] = good.split('.');
        const i = Math.floor(sig!.length / 2);
        const tampered = `${ph}.${pp}.${sig!.slice(0, i)}${sig![i] === 'A' ? 'B' : 'A'}${sig!.slice(i + 1)}`;

        for (const [name, token] of [
          ['expired', expired],
          ['wrong-audience', armToken],
          ['wrong-tenant', otherTenant],
          ['tampered', tampered],
        ] as const) {
          const r = await kubectl(staticToken(files.user, name, token), ['get', 'pods']);
          assert.equal(r.code, 1, `${name}: ${r.stdout}`);
          assert.match(r.stderr, UNAUTHORIZED, `${name}: ${r.stderr}`);
        }
      });

      it('F8: the local admin credential (CN=masterclient) works until local accounts are disabled', async () => {
        await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c1', '--admin', '--file', files.admin);
        const config = parse(readFileSync(files.admin, 'utf8'));
        const cert = new X509Certificate(Buffer.from(config.users[0].user['client-certificate-data'], 'base64'));
        assert.match(cert.subject, /(^|\n)CN=masterclient(\n|$)/);
        const nodes = await kubectlOk(files.admin, ['get', 'nodes']);
        assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\naks-nodepool1-/);

        const off = await cli.json('aks', 'update', '-g', 'rg', '-n', 'c1', '--disable-local-accounts');
        assert.equal(off.disableLocalAccounts, true);
        const refused = await cli.run([
          'aks',
          'get-credentials',
          '-g',
          'rg',
          '-n',
          'c1',
          '--admin',
          '--file',
          join(dir, 'refused.kubeconfig'),
        ]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /Getting static credential is not allowed because this cluster is set to disable local accounts\./);
        await untilUnauthorized(files.admin, ['get', 'nodes']);
      });

      it('F9: legacy integration: bindings by UPN and by a guest object ID, and both users list pods', async () => {
        const script = await run('bash', ['-c', LEGACY_APPS], { KENTRA_CONFIG_DIR: join(dir, 'config') });
        assert.equal(script.code, 0, script.stderr);
        const [server, client, secret, tenant] = /RESULT (\S+) (\S+) (\S+) (\S+)/.exec(script.stdout)!.slice(1) as [
          string,
          string,
          string,
          string,
        ];
        legacy = { server, client, tenant };
        await cli.json('feature', 'register', '--namespace', 'Microsoft.ContainerService', '--name', 'AllowLegacyAADIntegration');
        const created = await cli.json(
          'aks',
          'create',
          '-g',
          'rg',
          '-n',
          'legacy',
          '--node-count',
          '1',
          '--generate-ssh-keys',
          '--aad-server-app-id',
          server,
          '--aad-server-app-secret',
          secret,
          '--aad-client-app-id',
          client,
          '--aad-tenant-id',
          tenant,
        );
        assert.equal(created.aadProfile.managed, false);
        files.legacyAdmin = join(dir, 'legacy-admin.kubeconfig');
        files.legacyUser = join(dir, 'legacy-user.kubeconfig');
        await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'legacy', '--admin', '--file', files.legacyAdmin);
        await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'legacy', '--file', files.legacyUser);
        useKentraKubelogin(files.legacyUser);
        const args = execArgs(files.legacyUser);
        assert.equal(flag(args, '--server-id'), server, 'the legacy server app is the audience');
        assert.equal(flag(args, '--client-id'), client);

        const bindings = join(dir, 'bindings.yaml');
        writeFileSync(
          bindings,
          [
            { name: 'carol-admin', subject: { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `carol@${D}` } },
            { name: 'guest-admin', subject: { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: GUEST_OID } },
          ]
            .map((b) =>
              stringify({
                apiVersion: 'rbac.authorization.k8s.io/v1',
                kind: 'ClusterRoleBinding',
                metadata: { name: b.name },
                roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
                subjects: [b.subject],
              }),
            )
            .join('---\n'),
        );
        const applied = await kubectlOk(files.legacyAdmin, ['apply', '-f', bindings]);
        assert.equal(
          applied,
          'clusterrolebinding.rbac.authorization.k8s.io/carol-admin created\nclusterrolebinding.rbac.authorization.k8s.io/guest-admin created\n',
        );

        const carol = ropc(`carol@${D}`, 'cache-carol');
        const pods = await kubectlOk(files.legacyUser, ['get', 'pods', '--all-namespaces'], carol);
        assert.match(pods, /^NAMESPACE\s+NAME\s+READY\s+STATUS/);
        assert.match(pods, /\nkube-system\s+coredns-/);
        const token = await run(process.execPath, args, carol);
        assert.equal(token.code, 0, token.stderr);
        legacyCarolToken = JSON.parse(token.stdout).status.token;
        assert.equal(claimsOf(legacyCarolToken).aud, server);

        // The guest signs in to the resource tenant with its home account; the binding names its guest object ID there.
        const guest = ropc(`guest@${OTHER}`, 'cache-guest');
        const guestPods = await kubectl(files.legacyUser, ['get', 'pods', '--all-namespaces'], guest);
        assert.equal(guestPods.code, 0, guestPods.stderr);
        assert.match(guestPods.stdout, /\nkube-system\s+coredns-/);
        const who = await whoamiOk(files.legacyUser, guest, files.legacyAdmin);
        assert.match(who, new RegExp(`Username\\s+${GUEST_OID}\\n`), 'a guest (no upn claim) is known by its object ID');
      });

      it('F3: migrating the legacy cluster to managed integration refuses the legacy-audience token; a fresh get-credentials works', async () => {
        assert.ok(legacyCarolToken, 'F9 ran');
        const old = staticToken(files.legacyUser, 'legacy-token', legacyCarolToken);
        await kubectlOk(old, ['get', 'pods', '-A']);
        const migrated = await cli.json(
          'aks',
          'update',
          '-g',
          'rg',
          '-n',
          'legacy',
          '--enable-aad',
          '--aad-admin-group-object-ids',
          adminGroup,
        );
        assert.equal(migrated.aadProfile.managed, true);
        await untilUnauthorized(old, ['get', 'pods', '-A']);

        const fresh = join(dir, 'legacy-managed.kubeconfig');
        await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'legacy', '--file', fresh);
        useKentraKubelogin(fresh);
        const args = execArgs(fresh);
        assert.equal(flag(args, '--server-id'), AKS_SERVER);
        assert.notEqual(flag(args, '--server-id'), legacy.server);
        const r = await kubectlDevice(fresh, ['get', 'nodes'], 'alice', { KUBECACHEDIR: join(dir, 'cache-f3') });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.signedIn);
        assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\naks-nodepool1-/);
      });
    },
  );
}
