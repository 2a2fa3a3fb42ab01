import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kentraCli } from '../support/kentra-cli.js';
import { commandShims, KUBELOGIN_BIN, processRunner } from '../support/kubectl.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { realApiserverBackend } from '../support/kube-apiserver.js';
import { goTool } from '../support/tools.js';

// helm 3 (upstream helm.sh/helm/v3, built by scripts/build-go-tool.sh), a prerequisite of source
// document 002, against a cluster whose real kube-apiserver Kentra runs: an admin-group member signs
// in through Kentra's kubelogin (the exec plugin of the kubeconfig `get-credentials` wrote, which helm's
// client-go runs as kubectl does) and installs, lists and uninstalls a small chart; a user with no
// binding is refused with Kubernetes' Forbidden text.

const backend = realApiserverBackend();
const helmTool = goTool('helm');
const D = 'kentra.onmicrosoft.com';
const ADMINS = '88888888-0000-4000-8000-0000000000a1';
const ALICE = '88888888-0000-4000-8000-000000000001';
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: bob@${D}, password: 'Bob-Passw0rd!' }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [${ALICE}] }
`;

/** The chart: a ConfigMap and a Role, named after the release. */
function writeChart(dir: string): string {
  const chart = join(dir, 'kentra-demo');
  mkdirSync(join(chart, 'templates'), { recursive: true });
  writeFileSync(
    join(chart, 'Chart.yaml'),
    'apiVersion: v2\nname: kentra-demo\ndescription: A ConfigMap and a Role\ntype: application\nversion: 0.1.0\nappVersion: "1.0.0"\n',
  );
  writeFileSync(join(chart, 'values.yaml'), 'greeting: hello from helm\n');
  writeFileSync(
    join(chart, 'templates', 'configmap.yaml'),
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
`,
  );
  writeFileSync(
    join(chart, 'templates', 'role.yaml'),
    `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .Release.Name }}-reader
rules:
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get", "list", "watch"]
`,
  );
  return chart;
}

describe(
  "helm 3 against a real kube-apiserver, through Kentra's kubelogin",
  { timeout: 300_000, skip: backend.skip || helmTool.skip },
  () => {
    let k: TestKentra;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let user: string;
    let chart: string;
    const cli = kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: join(dir, 'config') }));
    const { run, kubectl, kubectlOk } = processRunner(() => env);
    const as = (name: string, pw: string): NodeJS.ProcessEnv => ({
      AAD_LOGIN_METHOD: 'ropc',
      AAD_USER_PRINCIPAL_NAME: `${name}@${D}`,
      AAD_USER_PRINCIPAL_PASSWORD: pw,
      KUBECACHEDIR: join(dir, `cache-${name}`),
    });
    const alice = () => as('alice', 'Alice-Passw0rd!');
    const bob = () => as('bob', 'Bob-Passw0rd!');
    const helm = (args: string[], who: NodeJS.ProcessEnv) => run(helmTool.path, [...args, '--kubeconfig', user], who);

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kentra-helm-'));
      k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0', ...backend.args()] });
      // helm keeps its own state under these; nothing of the user's home is read.
      env = {
        PATH: `${commandShims(dir, { kubelogin: KUBELOGIN_BIN })}:${process.env.PATH}`,
        HOME: dir,
        NODE_EXTRA_CA_CERTS: k.endpoints.caFile,
        KENTRA_DATA_DIR: k.dataDir,
        HELM_CACHE_HOME: join(dir, 'helm-cache'),
        HELM_CONFIG_HOME: join(dir, 'helm-config'),
        HELM_DATA_HOME: join(dir, 'helm-data'),
      };
      await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
      await cli.json('group', 'create', '--name', 'rg', '--location', 'eastus');
      await cli.json('aks', 'create', '-g', 'rg', '-n', 'apps', '--enable-aad', '--aad-admin-group-object-ids', ADMINS);
      user = join(dir, 'apps-user.kubeconfig');
      await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'apps', '--format', 'exec', '--file', user);
      chart = writeChart(dir);
    });
    after(async () => {
      await k?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('an admin-group member installs a chart (a ConfigMap and a Role), lists it and uninstalls it', async (t) => {
      const version = spawnSync(helmTool.path, ['version'], { encoding: 'utf8', env }).stdout.trim();
      t.diagnostic(`${version}; against ${backend.versions()}`);
      assert.match(version, /^version\.BuildInfo\{Version:"v3\.21\.4"/);

      const installed = await helm(['install', 'demo', chart, '--namespace', 'team', '--create-namespace'], alice());
      assert.equal(installed.code, 0, installed.stderr);
      assert.match(installed.stdout, /^NAME: demo\nLAST DEPLOYED: .+\nNAMESPACE: team\nSTATUS: deployed\nREVISION: 1\nTEST SUITE: None\n$/);
      assert.equal(
        await kubectlOk(user, ['get', 'configmap', 'demo-settings', '-n', 'team', '-o', 'jsonpath={.data.greeting}'], alice()),
        'hello from helm',
      );
      assert.equal(
        await kubectlOk(user, ['get', 'role', 'demo-reader', '-n', 'team', '-o', 'jsonpath={.rules[0].resources[0]}'], alice()),
        'configmaps',
      );

      const listed = await helm(['list', '--namespace', 'team', '-o', 'json'], alice());
      assert.equal(listed.code, 0, listed.stderr);
      const releases = JSON.parse(listed.stdout) as Record<string, string>[];
      assert.deepEqual(
        releases.map(({ name, namespace, revision, status, chart: c, app_version }) => ({
          name,
          namespace,
          revision,
          status,
          chart: c,
          app_version,
        })),
        [{ name: 'demo', namespace: 'team', revision: '1', status: 'deployed', chart: 'kentra-demo-0.1.0', app_version: '1.0.0' }],
      );

      const removed = await helm(['uninstall', 'demo', '--namespace', 'team'], alice());
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, 'release "demo" uninstalled\n');
      const gone = await kubectl(user, ['get', 'configmap', 'demo-settings', '-n', 'team'], alice());
      assert.equal(gone.code, 1);
      assert.equal(gone.stderr, 'Error from server (NotFound): configmaps "demo-settings" not found\n');
      const empty = await helm(['list', '--namespace', 'team', '-o', 'json'], alice());
      assert.equal(empty.stdout.trim(), '[]');
    });

    it("a user with no binding is refused with Kubernetes' Forbidden text, and nothing is installed", async (t) => {
      const refused = await helm(['install', 'bobs', chart, '--namespace', 'team'], bob());
      t.diagnostic(`helm printed: ${refused.stderr.trim()}`);
      assert.equal(refused.code, 1, refused.stdout);
      // helm first looks for what the chart would create; the API server's Forbidden text is the end of its message.
      assert.equal(
        refused.stderr,
        `Error: INSTALLATION FAILED: Unable to continue with install: could not get information about the resource ConfigMap "bobs-settings" in namespace "team": configmaps "bobs-settings" is forbidden: User "bob@${D}" cannot get resource "configmaps" in API group "" in the namespace "team"\n`,
      );
      const none = await kubectl(user, ['get', 'configmap', 'bobs-settings', '-n', 'team'], alice());
      assert.equal(none.stderr, 'Error from server (NotFound): configmaps "bobs-settings" not found\n');
    });
  },
);
