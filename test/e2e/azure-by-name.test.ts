import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { ALICE, API_APP, API_SECRET, CLI_APP, CLIENTS_TENANT, clientSeed, DAEMON_APP, DAEMON_SECRET } from '../support/client-seed.js';
import { KENTRA_BIN } from '../support/kentra.js';
import { createNetns, kentraEnv, netnsSkip, startKentraIn, type KentraInNetns, type Netns } from '../support/netns.js';

// Issue 19: clients left unchanged reach Kentra at Microsoft's own host names. Everything runs in a
// network namespace the test makes (its /etc/hosts gets the lines of `kentra env --hosts`), with
// `kentra up --azure-hostnames` inside it on 127.0.0.1:443; the machine's /etc/hosts is never touched.
// The clients get no Kentra setting beyond trusting its CA, taken from `kentra env`.

const CLIENT = join(resolve(dirname(fileURLToPath(import.meta.url))), 'clients/azure-by-name-client.js');
const AZ_CLI_APP = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

describe('unchanged clients at Microsoft\'s host names (kentra up --azure-hostnames, in a network namespace)', { skip: netnsSkip(), timeout: 900_000 }, () => {
  let ns: Netns;
  let k: KentraInNetns;
  let trust: Record<string, string>;
  let home: string;
  /** What a user's shell has: PATH, a HOME, and what `eval "$(kentra env)"` set; nothing else. */
  const clientEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH!, HOME: home, ...trust, ...extra });

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'kentra-byname-home-'));
    ns = createNetns();
    const cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    k = await startKentraIn(ns, { seed: clientSeed({ certificatePem: cert.certPem }) });
    const hosts = await ns.run(process.execPath, [KENTRA_BIN, 'env', '--hosts', '--data-dir', k.dataDir]);
    assert.equal(hosts.code, 0, hosts.stderr);
    ns.addHosts(hosts.stdout);
    trust = await kentraEnv(ns, k.dataDir);
  });
  after(async () => {
    await k?.stop();
    await ns?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('kentra env --hosts prints one /etc/hosts line per Microsoft name; kentra env sets no authority', async () => {
    const hosts = await ns.run(process.execPath, [KENTRA_BIN, 'env', '--hosts', '--data-dir', k.dataDir]);
    for (const name of ['login.microsoftonline.com', 'login.windows.net', 'sts.windows.net', 'management.azure.com', 'graph.microsoft.com']) {
      assert.match(hosts.stdout, new RegExp(`^127\\.0\\.0\\.1 ${name.replace(/\./g, '\\.')}$`, 'm'));
    }
    assert.ok(trust.NODE_EXTRA_CA_CERTS && trust.REQUESTS_CA_BUNDLE && trust.SSL_CERT_FILE, JSON.stringify(trust));
    assert.equal(trust.AZURE_AUTHORITY_HOST, undefined, 'clients keep their default authority');
  });

  describe('msal-node and @azure/identity with their default authority', () => {
    const runClient = async (scenario: Record<string, unknown>, extraEnv: Record<string, string> = {}) => {
      const r = await ns.run(process.execPath, [CLIENT, JSON.stringify(scenario)], { env: clientEnv(extraEnv), timeoutMs: 90_000 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let out: { ok: boolean; result: any; error?: string };
      try { out = JSON.parse(line); } catch { throw new Error(`client printed no result: ${r.stdout} ${r.stderr}`); }
      assert.ok(out.ok, out.error);
      return out.result;
    };

    it('msal-node client credentials: a v2 token whose issuer is Entra\'s, https://login.microsoftonline.com/<tid>/v2.0', async () => {
      const r = await runClient({ flow: 'msal-client-secret', tenantId: CLIENTS_TENANT, clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'] });
      assert.equal(r.claims.iss, `https://login.microsoftonline.com/${CLIENTS_TENANT}/v2.0`);
      assert.equal(r.claims.aud, API_APP);
      assert.deepEqual(r.claims.roles, ['Orders.Read']);
    });

    it('msal-node ROPC at /common, then on-behalf-of (Kentra verifies the login.microsoftonline.com issuer), then Graph /me at graph.microsoft.com', async () => {
      const r = await runClient({
        flow: 'msal-ropc-obo', tenantId: CLIENTS_TENANT, clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], username: ALICE.username, password: ALICE.password,
        apiClientId: API_APP, apiSecret: API_SECRET, downstreamScopes: ['https://graph.microsoft.com/User.Read'], call: 'https://graph.microsoft.com/v1.0/me',
      });
      assert.equal(r.user.claims.iss, `https://login.microsoftonline.com/${CLIENTS_TENANT}/v2.0`);
      // msal's own cloud metadata for Microsoft's hosts: accounts are cached under login.windows.net, as with Entra.
      assert.equal(r.user.environment, 'login.windows.net');
      assert.equal(r.obo.claims.iss, `https://sts.windows.net/${CLIENTS_TENANT}/`);
      assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
      assert.equal(r.call.body.userPrincipalName, ALICE.username);
    });

    it('@azure/identity ClientSecretCredential with no options, then ARM at management.azure.com lists the subscription', async () => {
      const sp = k.endpoints.servicePrincipal;
      const r = await runClient({
        flow: 'identity-client-secret', tenantId: k.endpoints.tenantId, clientId: sp.appId, secret: sp.secret, scopes: ['https://management.azure.com/.default'],
        call: 'https://management.azure.com/subscriptions?api-version=2022-12-01',
      });
      assert.equal(r.claims.iss, `https://sts.windows.net/${k.endpoints.tenantId}/`);
      assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
      assert.deepEqual(r.call.body.value.map((s: { subscriptionId: string }) => s.subscriptionId), [k.endpoints.subscriptionId]);
    });

    it('@azure/identity DefaultAzureCredential from AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET, then Graph lists users', async () => {
      const sp = k.endpoints.servicePrincipal;
      const r = await runClient({
        flow: 'identity-default', tenantId: k.endpoints.tenantId, clientId: sp.appId, secret: sp.secret, scopes: ['https://graph.microsoft.com/.default'],
        call: 'https://graph.microsoft.com/v1.0/users',
      });
      assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
      assert.ok(r.call.body.value.some((u: { userPrincipalName: string }) => u.userPrincipalName === k.endpoints.admin.userPrincipalName));
    });

    it('@azure/identity UsernamePasswordCredential with the Azure CLI\'s client id, then ARM', async () => {
      const r = await runClient({
        flow: 'identity-username-password', tenantId: k.endpoints.tenantId, clientId: AZ_CLI_APP, username: k.endpoints.admin.userPrincipalName, password: k.endpoints.admin.password,
        scopes: ['https://management.azure.com/.default'], call: `https://management.azure.com/subscriptions/${k.endpoints.subscriptionId}?api-version=2022-12-01`,
      });
      assert.equal(r.claims.upn, k.endpoints.admin.userPrincipalName);
      assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
      assert.equal(r.call.body.subscriptionId, k.endpoints.subscriptionId);
    });

    it('a Microsoft endpoint Kentra does not implement is refused naming the host and path, in Graph\'s shape', async () => {
      const sp = k.endpoints.servicePrincipal;
      const r = await runClient({
        flow: 'identity-client-secret', tenantId: k.endpoints.tenantId, clientId: sp.appId, secret: sp.secret, scopes: ['https://graph.microsoft.com/.default'],
        call: 'https://graph.microsoft.com/beta/users',
      });
      assert.equal(r.call.status, 404);
      assert.equal(r.call.body.error.code, 'NotImplementedByKentra');
      assert.match(r.call.body.error.message, /Kentra does not implement GET https:\/\/graph\.microsoft\.com\/beta\/users/);
    });
  });
});
