import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { ALICE, API_APP, API_SECRET, CLI_APP, CLIENTS_TENANT, clientSeed, DAEMON_APP, DAEMON_SECRET } from '../support/client-seed.js';
import { KENTRA_BIN } from '../support/kentra.js';
import {
  createNetns,
  kentraEnv,
  netnsSkip,
  nsFetch,
  nsFetchAll,
  startKentraIn,
  type KentraInNetns,
  type Netns,
  type RunResult,
} from '../support/netns.js';
import { currentAzureCli, goTool } from '../support/tools.js';
import { parse } from 'yaml';

// Issue 19: clients left unchanged reach Kentra at Microsoft's own host names. Everything runs in a
// network namespace the test makes (its /etc/hosts gets the lines of `kentra env --hosts`), with
// `kentra up --azure-hostnames` inside it on 127.0.0.1:443; the machine's /etc/hosts is never touched.
// The clients get no Kentra setting beyond trusting its CA, taken from `kentra env`.

const CLIENT = join(resolve(dirname(fileURLToPath(import.meta.url))), 'clients/azure-by-name-client.js');
const AZ_CLI_APP = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';
const kubelogin = goTool('kubelogin');
const az = currentAzureCli();
const NODES = /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n\S+\s+Ready/m;

describe(
  "unchanged clients at Microsoft's host names (kentra up --azure-hostnames, in a network namespace)",
  { skip: netnsSkip(), timeout: 900_000 },
  () => {
    let ns: Netns;
    let k: KentraInNetns;
    let trust: Record<string, string>;
    let home: string;
    /** What a user's shell has: PATH, a HOME, and what `eval "$(kentra env)"` set; nothing else. */
    const clientEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH!,
      HOME: home,
      ...trust,
      ...extra,
    });

    /** Runs the client program (test/e2e/clients/azure-by-name-client.ts) in the namespace; its result. */
    const runClient = async (scenario: Record<string, unknown>, extraEnv: Record<string, string> = {}) => {
      const r = await ns.run(process.execPath, [CLIENT, JSON.stringify(scenario)], { env: clientEnv(extraEnv), timeoutMs: 90_000 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let out: { ok: boolean; result: any; error?: string };
      try {
        out = JSON.parse(line);
      } catch {
        throw new Error(`client printed no result: ${r.stdout} ${r.stderr}`);
      }
      assert.ok(out.ok, out.error);
      return out.result;
    };

    /**
     * A bash script in the namespace; each device-code prompt it prints (kubelogin's, az's) is answered
     * by a person signing in as `user` on the page the prompt names. Counts the sign-ins.
     */
    const shell = async (
      script: string,
      env: NodeJS.ProcessEnv,
      user: { username: string; password: string },
    ): Promise<RunResult & { signIns: number; pages: string[] }> => {
      const child = ns.spawn('bash', ['-c', `set -euo pipefail\n${script}`], { env, cwd: env.HOME ?? home });
      let stdout = '';
      let stderr = '';
      const signIns: Promise<string>[] = [];
      const codes = new Set<string>();
      child.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        for (const m of stderr.matchAll(/open the page (https:\/\/\S+) and enter the code ([A-Z0-9]+) to authenticate/g)) {
          if (codes.has(m[2]!)) continue;
          codes.add(m[2]!);
          signIns.push(runClient({ flow: 'device-login', verificationUri: m[1], userCode: m[2], ...user }).then((r) => r.page as string));
        }
      });
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
      const code = await new Promise<number | null>((r) => child.on('close', r));
      clearTimeout(timer);
      const pages = await Promise.all(signIns);
      return { code, stdout, stderr, signIns: signIns.length, pages };
    };

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
      for (const name of [
        'login.microsoftonline.com',
        'login.windows.net',
        'sts.windows.net',
        'management.azure.com',
        'graph.microsoft.com',
      ]) {
        assert.match(hosts.stdout, new RegExp(`^127\\.0\\.0\\.1 ${name.replace(/\./g, '\\.')}$`, 'm'));
      }
      assert.ok(trust.NODE_EXTRA_CA_CERTS && trust.REQUESTS_CA_BUNDLE && trust.SSL_CERT_FILE, JSON.stringify(trust));
      assert.equal(trust.AZURE_AUTHORITY_HOST, undefined, 'clients keep their default authority');
    });

    it('a second kentra up --azure-hostnames while port 443 is taken stops with a clear ERROR, exit 1', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'kentra-byname-second-'));
      try {
        const r = await ns.run(process.execPath, [KENTRA_BIN, 'up', '--data-dir', dataDir, '--port', '0', '--azure-hostnames'], {
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /^ERROR: --azure-hostnames needs port 443 on 127\.0\.0\.1, which something else already listens on$/m);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('each login alias (TLS for its name) answers as login.microsoftonline.com, by tenant GUID and by domain; v1 discovery at sts.windows.net as Guard reads it', async () => {
      const tid = k.endpoints.tenantId;
      const [v2, byDomain, alias, v1] = await nsFetchAll(ns, k.endpoints.caFile, [
        { url: `https://login.microsoftonline.com/${tid}/v2.0/.well-known/openid-configuration` },
        { url: `https://login.microsoftonline.com/${k.endpoints.tenantDomain}/v2.0/.well-known/openid-configuration` },
        { url: `https://login.windows.net/${tid}/v2.0/.well-known/openid-configuration` },
        { url: `https://sts.windows.net/${tid}/.well-known/openid-configuration` },
      ]);
      for (const r of [v2!, byDomain!, alias!]) {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json().issuer, `https://login.microsoftonline.com/${tid}/v2.0`);
        assert.equal(r.json().token_endpoint, `https://login.microsoftonline.com/${tid}/oauth2/v2.0/token`);
      }
      assert.equal(v1!.json().issuer, `https://sts.windows.net/${tid}/`);
      assert.equal(v1!.json().jwks_uri, `https://login.microsoftonline.com/${tid}/discovery/keys`);
      assert.equal(v1!.json().msgraph_host, 'graph.microsoft.com');
    });

    describe('msal-node and @azure/identity with their default authority', () => {
      it("msal-node client credentials: a v2 token whose issuer is Entra's, https://login.microsoftonline.com/<tid>/v2.0", async () => {
        const r = await runClient({
          flow: 'msal-client-secret',
          tenantId: CLIENTS_TENANT,
          clientId: DAEMON_APP,
          secret: DAEMON_SECRET,
          scopes: ['api://orders-api/.default'],
        });
        assert.equal(r.claims.iss, `https://login.microsoftonline.com/${CLIENTS_TENANT}/v2.0`);
        assert.equal(r.claims.aud, API_APP);
        assert.deepEqual(r.claims.roles, ['Orders.Read']);
      });

      it('msal-node ROPC at /common, then on-behalf-of (Kentra verifies the login.microsoftonline.com issuer), then Graph /me at graph.microsoft.com', async () => {
        const r = await runClient({
          flow: 'msal-ropc-obo',
          tenantId: CLIENTS_TENANT,
          clientId: CLI_APP,
          scopes: ['api://orders-api/access_as_user'],
          username: ALICE.username,
          password: ALICE.password,
          apiClientId: API_APP,
          apiSecret: API_SECRET,
          downstreamScopes: ['https://graph.microsoft.com/User.Read'],
          call: 'https://graph.microsoft.com/v1.0/me',
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
          flow: 'identity-client-secret',
          tenantId: k.endpoints.tenantId,
          clientId: sp.appId,
          secret: sp.secret,
          scopes: ['https://management.azure.com/.default'],
          call: 'https://management.azure.com/subscriptions?api-version=2022-12-01',
        });
        assert.equal(r.claims.iss, `https://sts.windows.net/${k.endpoints.tenantId}/`);
        assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
        assert.deepEqual(
          r.call.body.value.map((s: { subscriptionId: string }) => s.subscriptionId),
          [k.endpoints.subscriptionId],
        );
      });

      it('@azure/identity DefaultAzureCredential from AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET, then Graph lists users', async () => {
        const sp = k.endpoints.servicePrincipal;
        const r = await runClient({
          flow: 'identity-default',
          tenantId: k.endpoints.tenantId,
          clientId: sp.appId,
          secret: sp.secret,
          scopes: ['https://graph.microsoft.com/.default'],
          call: 'https://graph.microsoft.com/v1.0/users',
        });
        assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
        assert.ok(
          r.call.body.value.some((u: { userPrincipalName: string }) => u.userPrincipalName === k.endpoints.admin.userPrincipalName),
        );
      });

      it("@azure/identity UsernamePasswordCredential with the Azure CLI's client id, then ARM", async () => {
        const r = await runClient({
          flow: 'identity-username-password',
          tenantId: k.endpoints.tenantId,
          clientId: AZ_CLI_APP,
          username: k.endpoints.admin.userPrincipalName,
          password: k.endpoints.admin.password,
          scopes: ['https://management.azure.com/.default'],
          call: `https://management.azure.com/subscriptions/${k.endpoints.subscriptionId}?api-version=2022-12-01`,
        });
        assert.equal(r.claims.upn, k.endpoints.admin.userPrincipalName);
        assert.equal(r.call.status, 200, JSON.stringify(r.call.body));
        assert.equal(r.call.body.subscriptionId, k.endpoints.subscriptionId);
      });

      it("a Microsoft endpoint Kentra does not implement is refused naming the host and path, in Graph's shape", async () => {
        const sp = k.endpoints.servicePrincipal;
        const r = await runClient({
          flow: 'identity-client-secret',
          tenantId: k.endpoints.tenantId,
          clientId: sp.appId,
          secret: sp.secret,
          scopes: ['https://graph.microsoft.com/.default'],
          call: 'https://graph.microsoft.com/beta/users',
        });
        assert.equal(r.call.status, 404);
        assert.equal(r.call.body.error.code, 'NotImplementedByKentra');
        assert.match(r.call.body.error.message, /Kentra does not implement GET https:\/\/graph\.microsoft\.com\/beta\/users/);
      });
    });

    describe('the current Azure CLI in its default AzureCloud', { skip: az.skip || kubelogin.skip }, () => {
      it('az login (service principal), ad group create, aks create --enable-aad; az login -u/-p, aks get-credentials (converted to kubelogin -l azurecli), kubectl get nodes', async () => {
        // A HOME of its own: az's and kubelogin's caches start empty.
        const azHome = join(home, 'az');
        mkdirSync(azHome);
        const sp = k.endpoints.servicePrincipal;
        const admin = k.endpoints.admin;
        const envJson = await ns.run(process.execPath, [KENTRA_BIN, 'env', '--json', '--data-dir', k.dataDir]);
        const binDir = JSON.parse(envJson.stdout).binDir as string;
        const r = await shell(
          `
az cloud show --query name -o tsv
az login --service-principal -u ${sp.appId} -p '${sp.secret}' --tenant ${k.endpoints.tenantId} --query '[].{id:id,user:user.type}' -o tsv
gid=$(az ad group create --display-name myAKSAdminGroup --mail-nickname myAKSAdminGroup --query id -o tsv)
az ad group member add --group $gid --member-id ${admin.objectId}
az group create --name myResourceGroup --location eastus -o none
az aks create -g myResourceGroup -n myManagedCluster --enable-aad --aad-admin-group-object-ids $gid --generate-ssh-keys -o json > aks.json
echo "$gid" > group.txt
az account clear
az login -u ${admin.userPrincipalName} -p '${admin.password}' --query '[].user.name' -o tsv
az aks get-credentials --resource-group myResourceGroup --name myManagedCluster
kubectl get nodes
# As after eval "$(kentra env)" (the README's laptop steps): Kentra's own kubelogin first on PATH.
PATH="${binDir}:$PATH" kubectl get nodes`,
          clientEnv({ HOME: azHome, PATH: `${dirname(az.path)}:${dirname(kubelogin.path)}:${process.env.PATH}` }),
          { username: admin.userPrincipalName, password: admin.password },
        );
        assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
        const [cloud, spLogin, userLogin] = r.stdout.split('\n');
        assert.equal(cloud, 'AzureCloud');
        assert.equal(spLogin, `${k.endpoints.subscriptionId}\tservicePrincipal`);
        assert.equal(userLogin, admin.userPrincipalName);
        const gid = readFileSync(join(azHome, 'group.txt'), 'utf8').trim();
        const aks = JSON.parse(readFileSync(join(azHome, 'aks.json'), 'utf8'));
        assert.equal(aks.provisioningState, 'Succeeded');
        assert.equal(aks.aadProfile.managed, true);
        assert.deepEqual(aks.aadProfile.adminGroupObjectIDs, [gid]);
        // az 2.91 finds kubelogin on PATH and converts AKS's kubeconfig to -l azurecli: kubectl's token comes
        // from az's own sign-in (no device code), through `az account get-access-token` at login.microsoftonline.com.
        assert.match(
          r.stderr,
          /^WARNING: Merged "myManagedCluster" as current context in .*\n^WARNING: Converted kubeconfig to use Azure CLI authentication\.$/m,
        );
        const exec = parse(readFileSync(join(azHome, '.kube', 'config'), 'utf8')).users[0].user.exec;
        assert.deepEqual(exec.args.slice(0, 1), ['get-token']);
        assert.equal(exec.args[exec.args.indexOf('--login') + 1], 'azurecli');
        assert.ok(!exec.args.includes('--authority-host'), exec.args.join(' '));
        assert.equal(r.signIns, 0, r.stderr);
        assert.equal([...r.stdout.matchAll(new RegExp(NODES.source, 'gm'))].length, 2, r.stdout);
      });
    });

    describe('upstream kubelogin with the kubeconfig as AKS writes it (no --authority-host), and kubectl', { skip: kubelogin.skip }, () => {
      let dir: string;
      const admin = () => ({ username: k.endpoints.admin.userPrincipalName, password: k.endpoints.admin.password });
      const kubeEnv = () => clientEnv({ PATH: `${dirname(kubelogin.path)}:${process.env.PATH}`, KUBECONFIG: join(dir, 'config') });
      let credential: (format: 'exec' | 'azure') => Promise<string>;

      before(async () => {
        dir = mkdtempSync(join(home, 'kube-'));
        const ca = k.endpoints.caFile;
        const sp = k.endpoints.servicePrincipal;
        // Set up through Microsoft's names, as any script would: a token, an admin group, a cluster.
        const tokenFor = async (scope: string) => {
          const r = await nsFetch(ns, `https://login.microsoftonline.com/${k.endpoints.tenantId}/oauth2/v2.0/token`, {
            method: 'POST',
            caFile: ca,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: sp.appId,
              client_secret: sp.secret,
              scope,
            }).toString(),
          });
          assert.equal(r.status, 200, r.text);
          return r.json().access_token as string;
        };
        const graphToken = await tokenFor('https://graph.microsoft.com/.default');
        const armToken = await tokenFor('https://management.azure.com/.default');
        const call = (token: string) => async (method: string, url: string, body?: unknown) =>
          nsFetch(ns, url, {
            method,
            caFile: ca,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        const graph = call(graphToken);
        const arm = call(armToken);
        const group = await graph('POST', 'https://graph.microsoft.com/v1.0/groups', {
          displayName: 'aks-admins',
          mailNickname: 'aks-admins',
          mailEnabled: false,
          securityEnabled: true,
        });
        assert.equal(group.status, 201, group.text);
        const gid = group.json().id as string;
        const member = await graph('POST', `https://graph.microsoft.com/v1.0/groups/${gid}/members/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${k.endpoints.admin.objectId}`,
        });
        assert.equal(member.status, 204, member.text);
        const rg = `https://management.azure.com/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/byname`;
        assert.ok([200, 201].includes((await arm('PUT', `${rg}?api-version=2024-11-01`, { location: 'eastus' })).status));
        const mc = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks1`;
        const created = await arm('PUT', `${mc}?api-version=2026-04-01`, {
          location: 'eastus',
          properties: {
            dnsPrefix: 'aks1',
            agentPoolProfiles: [{ name: 'nodepool1', count: 1, mode: 'System' }],
            aadProfile: { managed: true, adminGroupObjectIDs: [gid] },
          },
        });
        assert.equal(created.status, 201, created.text);
        for (
          let i = 0;
          i < 100 && (await arm('GET', `${mc}?api-version=2026-04-01`)).json().properties.provisioningState !== 'Succeeded';
          i++
        )
          await new Promise((r) => setTimeout(r, 200));
        credential = async (format) => {
          const r = await arm('POST', `${mc}/listClusterUserCredential?api-version=2026-04-01&format=${format}`);
          assert.equal(r.status, 200, r.text);
          return Buffer.from(r.json().kubeconfigs[0].value, 'base64').toString('utf8');
        };
      });

      it("the exec kubeconfig is AKS's (no --authority-host, no --disable-instance-discovery); kubectl get nodes after one device-code sign-in at login.microsoftonline.com", async () => {
        const config = await credential('exec');
        const user = parse(config).users[0].user.exec;
        assert.deepEqual(user.args, [
          'get-token',
          '--environment',
          'AzurePublicCloud',
          '--server-id',
          AKS_SERVER_APP,
          '--client-id',
          '80faf920-1908-4b52-b5ef-a8e7bedfc67a',
          '--tenant-id',
          k.endpoints.tenantId,
          '--login',
          'devicecode',
        ]);
        writeFileSync(join(dir, 'config'), config);
        const r = await shell('kubectl get nodes', kubeEnv(), admin());
        assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
        assert.match(r.stderr, /open the page https:\/\/login\.microsoftonline\.com\/devicelogin and enter the code/);
        assert.equal(r.signIns, 1);
        assert.match(r.pages[0]!, /You have signed in/);
        assert.match(r.stdout, NODES);
      });

      it('document 002: --format azure is refused by kubectl until kubelogin convert-kubeconfig; then kubectl get nodes', async () => {
        writeFileSync(join(dir, 'config'), await credential('azure'));
        const r = await shell('kubectl get nodes || echo "exit $?"\nkubelogin convert-kubeconfig\nkubectl get nodes', kubeEnv(), admin());
        assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
        assert.match(r.stderr, /The azure auth plugin has been removed/i);
        assert.match(r.stdout, /^exit 1$/m);
        assert.match(r.stdout, NODES);
        const converted = parse((await ns.run('cat', [join(dir, 'config')])).stdout).users[0].user.exec.args as string[];
        assert.ok(!converted.includes('--authority-host'), converted.join(' '));
        assert.ok(r.signIns <= 1, `at most one sign-in (kubelogin may reuse its cached token): ${r.stderr}`);
      });
    });
  },
);
