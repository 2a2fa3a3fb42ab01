import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { httpsFetch } from '../support/http.js';
import { kentraCli } from '../support/kentra-cli.js';
import { commandShims, KUBELOGIN_BIN, processRunner } from '../support/kubectl.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import type { Backend } from '../support/kube-apiserver.js';

// The cluster side of F6, F12 and F13 end to end: the real kubectl, Kentra's kubelogin as its exec
// plugin, and the built-in Kubernetes API of each emulated cluster (`<authority>/clusters/<uid>`),
// with kubeconfigs from `kentra aks get-credentials`.

const KUBELOGIN = KUBELOGIN_BIN;
const GUARD_DENY = 'User does not have access to the resource in Azure. Update role assignment to allow access.';
const PIPELINE = '88888888-0000-4000-8000-0000000000c1';
const WORKLOAD = '88888888-0000-4000-8000-0000000000c2';
const CROWDED = '88888888-0000-4000-8000-0000000000c3';
const D = 'kentra.onmicrosoft.com';
const USERS = ['ops', 'many', 'reader', 'writer', 'nsadmin', 'cadmin', 'devonly'];
const pw = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}-Passw0rd!`;

const SEED = `
tenants:
  - domain: ${D}
    users:
${USERS.map((u) => `      - { userPrincipalName: ${u}@${D}, password: '${pw(u)}' }`).join('\n')}
    applications:
      - { displayName: pipeline, appId: ${PIPELINE}, secrets: ['pipeline-secret-0123456789'] }
      - { displayName: workload, appId: ${WORKLOAD} }
      - { displayName: crowded, appId: ${CROWDED}, secrets: ['crowded-secret-0123456789'] }
    groups:
      - { displayName: aks-admins, members: [ops@${D}] }
    groupSets:
      - { prefix: many-, count: 250, members: [many@${D}] }
      - { prefix: crowd-, count: 201, members: ['app:${CROWDED}'] }
`;

export function clusterAccessRbacFlows(backend: Backend): void {
  describe(`cluster access with the real kubectl: F6, F12, F13, against ${backend.name}`, { timeout: 900_000, skip: backend.skip }, () => {
    let k: TestKentra;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const cli = kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: join(dir, 'config') }));
    let rbacClusterId: string;
    let uid: string;
    let many250: string;
    /** kubeconfig files of the AAD cluster (c1) and of the Azure RBAC cluster (c2) */
    const files = { admin: '', user: '', rbacUser: '' };

    const { run, kubectl, kubectlOk, whoami } = processRunner(() => env);
    /** `kubectl auth whoami`; on a kube-apiserver before 1.28 (no SelfSubjectReview v1) the same answer from its TokenReview, asked by the admin. */
    const whoamiRun = (kubeconfig: string, extraEnv: NodeJS.ProcessEnv = {}) =>
      whoami(kubeconfig, extraEnv, backend.selfSubjectReview ? undefined : files.admin);
    const whoamiOk = async (kubeconfig: string, extraEnv: NodeJS.ProcessEnv = {}) => {
      const r = await whoamiRun(kubeconfig, extraEnv);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    /** What the servers logged: Kentra's, and each real API server's. */
    const serverLogs = () =>
      [
        k.logs(),
        ...(backend.real
          ? readdirSync(join(k.dataDir, 'clusters')).map((u) => {
              try {
                return readFileSync(join(k.dataDir, 'clusters', u, 'kube-apiserver.log'), 'utf8');
              } catch {
                return '';
              }
            })
          : []),
      ].join('\n');
    /** A copy of a kubeconfig converted by `kubelogin convert-kubeconfig -l <mode>`. */
    const convert = async (from: string, name: string, mode: string) => {
      const file = join(dir, `${name}.kubeconfig`);
      writeFileSync(file, readFileSync(from));
      const r = await run('kubelogin', ['convert-kubeconfig', '-l', mode, '--kubeconfig', file]);
      assert.equal(r.code, 0, r.stderr);
      return file;
    };
    /** ropc through kubelogin for one user, with its own token cache. */
    const asUser = (name: string): NodeJS.ProcessEnv => ({
      AZURE_USERNAME: `${name}@${D}`,
      AZURE_PASSWORD: pw(name),
      KUBECACHEDIR: join(dir, `cache-${name}`),
    });
    const canI = async (kubeconfig: string, user: NodeJS.ProcessEnv, ...args: string[]) => {
      const r = await kubectl(kubeconfig, ['auth', 'can-i', ...args], user);
      assert.ok(r.code === 0 || r.code === 1, `can-i ${args.join(' ')}: ${r.code} ${r.stderr}`);
      return r.stdout.trim();
    };
    const id = async (...args: string[]) => (await cli.ok(...args, '--query', 'id', '-o', 'tsv')).trim();

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kentra-cluster-access-'));
      k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0', ...backend.args()] });
      const bin = commandShims(dir, { kubelogin: KUBELOGIN });
      env = {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: dir,
        KENTRA_DATA_DIR: k.dataDir,
        KUBECACHEDIR: join(dir, 'cache'),
        NODE_EXTRA_CA_CERTS: k.endpoints.caFile,
      };
      await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
      const admins = await id('ad', 'group', 'show', '--group', 'aks-admins');
      many250 = await id('ad', 'group', 'show', '--group', 'many-250');
      await cli.json('group', 'create', '--name', 'rg', '--location', 'eastus');
      await cli.json('aks', 'create', '-g', 'rg', '-n', 'c1', '--enable-aad', '--aad-admin-group-object-ids', `${admins},${many250}`);
      rbacClusterId = (await cli.json('aks', 'create', '-g', 'rg', '-n', 'c2', '--enable-aad', '--enable-azure-rbac')).id;
      files.admin = join(dir, 'c1-admin.kubeconfig');
      files.user = join(dir, 'c1-user.kubeconfig');
      files.rbacUser = join(dir, 'c2-user.kubeconfig');
      await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c1', '--admin', '--file', files.admin);
      await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c1', '--file', files.user);
      await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c2', '--file', files.rbacUser);
      const server = parse(readFileSync(files.user, 'utf8')).clusters[0].cluster.server as string;
      // The built-in API lives at <authority>/clusters/<uid>; a real API server names its issuer (the same URL) itself.
      const issuerUrl = backend.real
        ? (JSON.parse(await kubectlOk(files.admin, ['get', '--raw', '/.well-known/openid-configuration'])).issuer as string)
        : server;
      uid = /\/clusters\/([^/]+)$/.exec(issuerUrl)![1]!;
      if (backend.real) assert.match(server, /^https:\/\/127\.0\.0\.1:\d+$/, "the kubeconfig points at the cluster's own API server");
      else assert.equal(server, `${k.endpoints.authority}/clusters/${uid}`);
    });
    after(async () => {
      await k?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('F6 spn: a service principal bound to `view` by the cluster admin lists pods and is Forbidden on secrets', async (t) => {
      t.diagnostic(`against ${backend.versions()}`);
      const oid = await id('ad', 'sp', 'show', '--id', PIPELINE);
      await kubectlOk(files.admin, ['create', 'clusterrolebinding', 'pipeline-view', '--clusterrole', 'view', '--user', oid]);
      const file = await convert(files.user, 'spn', 'spn');
      const spn = {
        AAD_SERVICE_PRINCIPAL_CLIENT_ID: PIPELINE,
        AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: 'pipeline-secret-0123456789',
        KUBECACHEDIR: join(dir, 'cache-spn'),
      };
      const pods = await kubectl(file, ['get', 'pods', '-n', 'kube-system'], spn);
      assert.equal(pods.code, 0, pods.stderr);
      assert.match(pods.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
      assert.ok(pods.stdout.trim().split('\n').length > 1, `system pods listed:\n${pods.stdout}`);
      const secrets = await kubectl(file, ['get', 'secrets', '-n', 'kube-system'], spn);
      assert.equal(secrets.code, 1);
      assert.match(
        secrets.stderr,
        new RegExp(
          `Error from server \\(Forbidden\\): secrets is forbidden: User "${oid}" cannot list resource "secrets" in API group "" in the namespace "kube-system"`,
        ),
      );
      const who = await whoamiOk(file, spn);
      assert.match(who, new RegExp(`Username\\s+${oid}\\n`));
    });

    it('F6 azurecli: after `kentra login` as a member of the admin group, kubectl get nodes works', async () => {
      const config = join(dir, 'ops-config');
      await kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: config })).json(
        'login',
        '-u',
        `ops@${D}`,
        '-p',
        pw('ops'),
        '--allow-no-subscriptions',
      );
      const file = await convert(files.user, 'azurecli', 'azurecli');
      const nodes = await kubectlOk(file, ['get', 'nodes'], { KENTRA_CONFIG_DIR: config, KUBECACHEDIR: join(dir, 'cache-azurecli') });
      assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n\S+\s+Ready\s/);
      const who = await whoamiOk(file, { KENTRA_CONFIG_DIR: config });
      assert.match(who, new RegExp(`Username\\s+ops@${D.replace(/\./g, '\\.')}\\n`));
    });

    it('F6 workloadidentity with a service account token of the cluster; the SA token itself authenticates until the SA is deleted', async () => {
      await kubectlOk(files.admin, ['create', 'serviceaccount', 'app', '-n', 'default']);
      const federated = (
        await kubectlOk(files.admin, ['create', 'token', 'app', '-n', 'default', '--audience', 'api://AzureADTokenExchange'])
      ).trim();
      const tokenFile = join(dir, 'sa-token');
      writeFileSync(tokenFile, federated);
      const issuer = `${k.endpoints.authority}/clusters/${uid}`;
      const claims = JSON.parse(Buffer.from(federated.split('.')[1]!, 'base64url').toString());
      assert.equal(claims.iss, issuer);
      assert.equal(claims.sub, 'system:serviceaccount:default:app');
      // The issuer is public, as AKS's OIDC issuer is.
      const discovery = await httpsFetch(`${issuer}/.well-known/openid-configuration`, { caFile: k.endpoints.caFile });
      assert.equal(discovery.status, 200, discovery.text);
      assert.equal(discovery.json().issuer, issuer);
      const jwks = await httpsFetch(discovery.json().jwks_uri, { caFile: k.endpoints.caFile });
      assert.equal(jwks.status, 200);
      assert.ok(jwks.json().keys.length >= 1);

      // A federated identity credential on the app, through Graph, then `view` for its service principal.
      const graph = (await cli.json('account', 'get-access-token', '--resource', 'https://graph.microsoft.com')).accessToken as string;
      const appObjectId = await id('ad', 'app', 'show', '--id', WORKLOAD);
      const fic = await httpsFetch(`${k.endpoints.graphEndpoint}v1.0/applications/${appObjectId}/federatedIdentityCredentials`, {
        method: 'POST',
        caFile: k.endpoints.caFile,
        headers: { authorization: `Bearer ${graph}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'cluster-app',
          issuer,
          subject: 'system:serviceaccount:default:app',
          audiences: ['api://AzureADTokenExchange'],
        }),
      });
      assert.equal(fic.status, 201, fic.text);
      const spOid = await id('ad', 'sp', 'show', '--id', WORKLOAD);
      await kubectlOk(files.admin, ['create', 'clusterrolebinding', 'workload-view', '--clusterrole', 'view', '--user', spOid]);
      const file = await convert(files.user, 'workload', 'workloadidentity');
      const wi = {
        AZURE_CLIENT_ID: WORKLOAD,
        AZURE_TENANT_ID: k.endpoints.tenantId,
        AZURE_FEDERATED_TOKEN_FILE: tokenFile,
        AZURE_AUTHORITY_HOST: `${k.endpoints.authority}/`,
        KUBECACHEDIR: join(dir, 'cache-wi'),
      };
      const pods = await kubectl(file, ['get', 'pods', '-A'], wi);
      assert.equal(pods.code, 0, `${pods.stderr}\nserver log tail:\n${serverLogs().split('\n').slice(-15).join('\n')}`);
      assert.match(pods.stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS/);
      assert.match(pods.stdout, /\nkube-system\s+/);

      // The service account token with the default audience, as a static bearer token.
      const plain = (await kubectlOk(files.admin, ['create', 'token', 'app', '-n', 'default'])).trim();
      const admin = parse(readFileSync(files.admin, 'utf8'));
      const staticFile = join(dir, 'sa-static.kubeconfig');
      writeFileSync(
        staticFile,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          'current-context': 'sa',
          clusters: [{ name: 'c1', cluster: admin.clusters[0].cluster }],
          contexts: [{ name: 'sa', context: { cluster: 'c1', user: 'sa' } }],
          users: [{ name: 'sa', user: { token: plain } }],
        }),
      );
      const who = await whoamiOk(staticFile);
      assert.match(who, /Username\s+system:serviceaccount:default:app\n/);
      assert.match(who, /Groups\s+\[system:serviceaccounts system:serviceaccounts:default system:authenticated\]/);
      await kubectlOk(files.admin, ['delete', 'serviceaccount', 'app', '-n', 'default']);
      // kube-apiserver keeps a token it accepted for 10 s (its token cache): refused within 15 s.
      let gone = await whoamiRun(staticFile);
      for (const deadline = Date.now() + 15_000; gone.code === 0 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 1000));
        gone = await whoamiRun(staticFile);
      }
      assert.equal(gone.code, 1, 'refused within 15 s of the deletion');
      assert.match(gone.stderr, /error: You must be logged in to the server \(Unauthorized\)/);
    });

    it('F12: the four AKS RBAC roles at cluster scope and one at namespace scope decide what kubectl may do', async () => {
      const roles: [string, string][] = [
        ['reader', 'Reader'],
        ['writer', 'Writer'],
        ['nsadmin', 'Admin'],
        ['cadmin', 'Cluster Admin'],
      ];
      for (const [user, role] of roles) {
        await cli.json(
          'role',
          'assignment',
          'create',
          '--role',
          `Azure Kubernetes Service RBAC ${role}`,
          '--assignee',
          `${user}@${D}`,
          '--scope',
          rbacClusterId,
        );
      }
      await cli.json(
        'role',
        'assignment',
        'create',
        '--role',
        'Azure Kubernetes Service RBAC Reader',
        '--assignee',
        `devonly@${D}`,
        '--scope',
        `${rbacClusterId}/namespaces/dev`,
      );
      const file = await convert(files.rbacUser, 'ropc', 'ropc');

      // Reader
      const reader = asUser('reader');
      assert.match(await kubectlOk(file, ['get', 'pods', '-n', 'kube-system'], reader), /^NAME\s+READY/);
      assert.equal(await canI(file, reader, 'get', 'pods'), 'yes');
      const secrets = await kubectl(file, ['get', 'secrets', '-n', 'default'], reader);
      assert.equal(secrets.code, 1);
      assert.equal(
        secrets.stderr.trim(),
        `Error from server (Forbidden): secrets is forbidden: User "reader@${D}" cannot list resource "secrets" in API group "" in the namespace "default": ${GUARD_DENY}`,
      );
      assert.equal(await canI(file, reader, 'create', 'configmaps'), `no - ${GUARD_DENY}`);

      // Writer
      const writer = asUser('writer');
      assert.match(
        await kubectlOk(file, ['create', 'configmap', 'settings', '-n', 'default', '--from-literal', 'a=b'], writer),
        /^configmap\/settings created\n$/,
      );
      assert.equal(await canI(file, writer, 'get', 'secrets'), 'yes');
      assert.equal(await canI(file, writer, 'create', 'roles'), `no - ${GUARD_DENY}`);

      // Admin
      const nsadmin = asUser('nsadmin');
      assert.match(
        await kubectlOk(file, ['create', 'role', 'pod-reader', '-n', 'default', '--verb', 'get', '--resource', 'pods'], nsadmin),
        /^role\.rbac\.authorization\.k8s\.io\/pod-reader created\n$/,
      );
      const ns = await kubectl(file, ['create', 'namespace', 'by-admin'], nsadmin);
      assert.equal(ns.code, 1);
      assert.equal(
        ns.stderr.trim(),
        `Error from server (Forbidden): namespaces is forbidden: User "nsadmin@${D}" cannot create resource "namespaces" in API group "" at the cluster scope: ${GUARD_DENY}`,
      );
      assert.equal(await canI(file, nsadmin, 'create', 'namespaces'), `no - ${GUARD_DENY}`);

      // Cluster Admin
      const cadmin = asUser('cadmin');
      assert.match(await kubectlOk(file, ['create', 'namespace', 'dev'], cadmin), /^namespace\/dev created\n$/);
      assert.equal(await canI(file, cadmin, 'delete', 'namespaces'), 'yes');

      // A namespace-scope Reader
      const devonly = asUser('devonly');
      const inDev = await kubectl(file, ['get', 'pods', '-n', 'dev'], devonly);
      assert.equal(inDev.code, 0, inDev.stderr);
      assert.match(inDev.stderr + inDev.stdout, /No resources found in dev namespace\./);
      assert.equal(await canI(file, devonly, 'get', 'pods', '-n', 'dev'), 'yes');
      const inDefault = await kubectl(file, ['get', 'pods', '-n', 'default'], devonly);
      assert.equal(inDefault.code, 1);
      assert.equal(
        inDefault.stderr.trim(),
        `Error from server (Forbidden): pods is forbidden: User "devonly@${D}" cannot list resource "pods" in API group "" in the namespace "default": ${GUARD_DENY}`,
      );
      assert.equal(await canI(file, devonly, 'get', 'pods', '-n', 'default'), `no - ${GUARD_DENY}`);
    });

    it('F13: a user in 250 groups (the admin group past the 200th) is cluster admin; an application in 201 groups is refused', async () => {
      const file = await convert(files.user, 'overage', 'ropc');
      const many = asUser('many');
      assert.match(await kubectlOk(file, ['get', 'nodes'], many), /^NAME\s+STATUS/);
      const who = await whoamiOk(file, many);
      assert.match(who, new RegExp(`Username\\s+many@${D.replace(/\./g, '\\.')}\\n`));
      assert.ok(who.includes(many250), `the admin group is among the groups:\n${who}`);
      // The token really has the overage claim, not the groups.
      const cached = (await run('kubelogin', ['get-token', ...parse(readFileSync(file, 'utf8')).users[0].user.exec.args.slice(1)], many))
        .stdout;
      const claims = JSON.parse(Buffer.from(JSON.parse(cached).status.token.split('.')[1], 'base64url').toString());
      assert.equal(claims.groups, undefined);
      assert.deepEqual(claims._claim_names, { groups: 'src1' });

      // The application: bound to cluster-admin, so only the overage can refuse it.
      const oid = await id('ad', 'sp', 'show', '--id', CROWDED);
      await kubectlOk(files.admin, ['create', 'clusterrolebinding', 'crowded-admin', '--clusterrole', 'cluster-admin', '--user', oid]);
      const spnFile = await convert(files.user, 'crowded', 'spn');
      const r = await kubectl(spnFile, ['get', 'nodes'], {
        AAD_SERVICE_PRINCIPAL_CLIENT_ID: CROWDED,
        AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: 'crowded-secret-0123456789',
        KUBECACHEDIR: join(dir, 'cache-crowded'),
      });
      assert.equal(r.code, 1, r.stdout);
      // kubectl's discovery reports a 401 in client-go's words.
      assert.match(
        r.stderr,
        /error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/,
      );
      assert.ok(
        serverLogs().includes('service principal with group membership exceeding 200 is not supported'),
        "Guard's message is in the server log",
      );
    });
  });
}
