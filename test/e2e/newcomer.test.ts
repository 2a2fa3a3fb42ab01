import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { BUILD_SCRIPT } from '../support/kube-apiserver.js';
import { completeDeviceLogin, KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import type { Run } from '../support/kentra-cli.js';
import { machinePath } from '../support/user-shell.js';

// A newcomer's first hour (issue 13): what a user types in a fresh shell, as typed. The shell gets
// nothing from the test but HOME and KENTRA_DATA_DIR: `eval "$(kentra env)"` must put `kentra` and
// `kubelogin` on PATH and make Node, Python and Go trust Kentra's CA; then the real kubectl runs with
// the kubeconfig Kentra's own command wrote and Kentra's kubelogin as its exec plugin.

describe("a newcomer's first hour: the commands a user types", { timeout: 300_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let baseEnv: NodeJS.ProcessEnv;
  let adminGroup: string;

  /**
   * Runs a bash script as a user would type it, after `eval "$(node …/kentra.js env)"`. A device-code
   * prompt on stderr (kubelogin under kubectl) is completed as the admin, the way a person does it.
   */
  const shell = (script: string, opts: { env?: boolean } = {}): Promise<Run & { signedIn: boolean }> =>
    new Promise((resolveRun) => {
      const prelude = opts.env === false ? '' : `eval "$("${process.execPath}" "${KENTRA_BIN}" env)"\n`;
      const child = spawn('bash', ['-c', `set -e\n${prelude}${script}`], { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let signIn: Promise<string> | undefined;
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /enter the code ([A-Z0-9]{9}) to authenticate/.exec(stderr);
        if (m && !signIn)
          signIn = completeDeviceLogin(
            k.endpoints.authority,
            k.endpoints.caFile,
            m[1]!,
            k.endpoints.admin.userPrincipalName,
            k.endpoints.admin.password,
          );
      });
      child.on('close', async (code) => {
        if (signIn) await signIn;
        resolveRun({ code: code ?? -1, stdout, stderr, signedIn: !!signIn });
      });
    });

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-newcomer-'));
    baseEnv = { PATH: machinePath(), HOME: dir, KENTRA_DATA_DIR: k.dataDir, LANG: 'C.UTF-8' };
    // The set-up runs kentra by its path, so that each test below starts from `kentra env`.
    const setup = await shell(
      `kentra() { "${process.execPath}" "${KENTRA_BIN}" "$@"; }
kentra login -u '${k.endpoints.admin.userPrincipalName}' -p '${k.endpoints.admin.password}' >/dev/null
gid=$(kentra ad group create --display-name myAKSAdminGroup --mail-nickname myAKSAdminGroup --query id -o tsv)
kentra ad group member add --group myAKSAdminGroup --member-id "$(kentra ad signed-in-user show --query id -o tsv)"
echo "$gid"`,
      { env: false },
    );
    assert.equal(setup.code, 0, setup.stderr);
    adminGroup = setup.stdout.trim();
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('eval "$(kentra env)" readies a shell: kentra and kubelogin on PATH, Kentra\'s CA trusted by Node, Python and Go', async () => {
    const before = await shell('command -v kubelogin || echo "no kubelogin"', { env: false });
    assert.equal(before.stdout.trim(), 'no kubelogin', 'the test shell starts without kubelogin');
    const r = await shell(`
command -v kentra kubelogin
kubelogin --version | head -n 1
echo "SSL_CERT_FILE=$SSL_CERT_FILE"
echo "REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE"
echo "NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS"
python3 -c 'import os, requests; print("python", requests.get(os.environ["AZURE_AUTHORITY_HOST"] + "${k.endpoints.tenantId}/v2.0/.well-known/openid-configuration").status_code)'
echo 'apiVersion: v1
kind: Config' > "$HOME/empty-kubeconfig"
kubectl --kubeconfig "$HOME/empty-kubeconfig" --token unused --server "\${AZURE_AUTHORITY_HOST%/}" get --raw /${k.endpoints.tenantId}/v2.0/.well-known/openid-configuration | head -c 40; echo
`);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /\/kentra$/);
    assert.match(lines[1]!, /\/kubelogin$/);
    assert.equal(lines[2], 'kubelogin version');
    const bundle = /SSL_CERT_FILE=(.*)/.exec(r.stdout)![1]!;
    assert.ok(bundle.startsWith(k.dataDir), `the bundle is written into the data dir: ${bundle}`);
    const pems = readFileSync(bundle, 'utf8').match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    assert.ok(pems.length > 50, `the bundle holds the system roots too (Go's SSL_CERT_FILE replaces them): ${pems.length} certificates`);
    assert.ok(readFileSync(bundle, 'utf8').includes(readFileSync(k.endpoints.caFile, 'utf8').trim()), "and Kentra's CA");
    assert.match(r.stdout, new RegExp(`REQUESTS_CA_BUNDLE=${bundle}`));
    assert.match(r.stdout, new RegExp(`NODE_EXTRA_CA_CERTS=${k.endpoints.caFile}`));
    assert.match(r.stdout, /^python 200$/m, 'Python requests trusts Kentra');
    assert.match(r.stdout, /^\{"\w+":/m, 'Go (kubectl, system pool) trusts Kentra');
    assert.doesNotMatch(r.stderr, /certificate/);
  });

  it('kubelogin against an authority whose CA is not trusted says what to run', async () => {
    // A shell without `kentra env`, and no Kentra data directory to find the CA in.
    const r = await shell(
      `unset KENTRA_DATA_DIR
"${process.execPath}" "${KENTRA_BIN.replace(/cli\/bin\.cjs$/, 'kubelogin/bin.cjs')}" get-token --login ropc --server-id 6dae42f8-4368-4678-94ff-3960e28e3630 \\
  --client-id 80faf920-1908-4b52-b5ef-a8e7bedfc67a --tenant-id '${k.endpoints.tenantId}' --authority-host '${k.endpoints.authority}/' \\
  --username '${k.endpoints.admin.userPrincipalName}' --password '${k.endpoints.admin.password}' --cache-dir "$HOME/tls-cache"`,
      { env: false },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: failed to get token: .*certificate/m);
    assert.match(r.stderr, /eval "\$\(kentra env\)"/, `the fix is named: ${r.stderr}`);
    // With the local Kentra's data directory known, kubelogin trusts that Kentra's CA by itself.
    const local = await shell(
      `"${process.execPath}" "${KENTRA_BIN.replace(/cli\/bin\.cjs$/, 'kubelogin/bin.cjs')}" get-token --login ropc --server-id 6dae42f8-4368-4678-94ff-3960e28e3630 \\
  --client-id 80faf920-1908-4b52-b5ef-a8e7bedfc67a --tenant-id '${k.endpoints.tenantId}' --authority-host '${k.endpoints.authority}/' \\
  --username '${k.endpoints.admin.userPrincipalName}' --password '${k.endpoints.admin.password}' --cache-dir "$HOME/tls-cache"`,
      { env: false },
    );
    assert.equal(local.code, 0, local.stderr);
    assert.equal(JSON.parse(local.stdout).kind, 'ExecCredential');
  });

  it('document 004: aksarc get-credentials, then kubectl get nodes as an admin-group member', async () => {
    const customLocation = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/rgArc/providers/Microsoft.ExtendedLocation/customLocations/hci`;
    const r = await shell(`
kentra group create --name rgArc --location centralus >/dev/null
kentra aksarc create -n arc1 -g rgArc --custom-location '${customLocation}' --vnet-ids lnet1 --aad-admin-group-object-ids '${adminGroup}' --generate-ssh-keys --control-plane-ip 192.168.1.190 >/dev/null
kentra aksarc get-credentials --resource-group rgArc --name arc1
kubectl get nodes`);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.ok(r.signedIn, 'kubelogin asked for a device-code sign-in');
    assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n\S+\s+Ready/);
    const user = parse(readFileSync(join(dir, '.kube', 'config'), 'utf8')).users.find((u: any) => u.name === 'clusterUser_rgArc_arc1').user;
    assert.equal(
      user.exec.args[user.exec.args.indexOf('--server-id') + 1],
      '6256c85f-0aad-4d50-b960-e6e9b21efe35',
      'the Arc server application',
    );
  });

  it('document 002: get-credentials --format azure, kubelogin convert-kubeconfig, kubectl get nodes (offline)', async () => {
    const r = await shell(`
kentra group create --name myResourceGroup --location centralus >/dev/null
kentra aks create --resource-group myResourceGroup --name myManagedCluster --enable-aad --aad-admin-group-object-ids '${adminGroup}' --aad-tenant-id '${k.endpoints.tenantId}' --generate-ssh-keys >/dev/null
kentra aks get-credentials --resource-group myResourceGroup --name myManagedCluster --format azure
kubectl get nodes 2>&1 | head -n 1 || true
kubelogin convert-kubeconfig
kubectl get nodes`);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.match(r.stdout, /The azure auth plugin has been removed/, 'kubectl refuses the auth-provider format first');
    assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n\S+\s+Ready/m);
    const user = parse(readFileSync(join(dir, '.kube', 'config'), 'utf8')).users.find(
      (u: any) => u.name === 'clusterUser_myResourceGroup_myManagedCluster',
    ).user;
    assert.deepEqual(user.exec.args.slice(0, 5), [
      'get-token',
      '--login',
      'devicecode',
      '--server-id',
      '6dae42f8-4368-4678-94ff-3960e28e3630',
    ]);
  });

  it('attack: a token for the AKS server app is refused by the Arc cluster, and an Arc token by the AKS cluster', async () => {
    const AKS = ['6dae42f8-4368-4678-94ff-3960e28e3630', '80faf920-1908-4b52-b5ef-a8e7bedfc67a'];
    const ARC = ['6256c85f-0aad-4d50-b960-e6e9b21efe35', '3f4439ff-e698-4d6d-84fe-09c9d574f06b'];
    // Each kubeconfig's exec args rewritten to ask for the other server app (tokens both users hold already).
    const crossed = (context: string, from: string[], to: string[]) =>
      shell(`
kubectl config view --raw --minify --context ${context} > "$HOME/${context}-crossed.yaml"
sed -i -e 's/${from[0]}/${to[0]}/' -e 's/${from[1]}/${to[1]}/' "$HOME/${context}-crossed.yaml"
grep -q -- '${to[0]}' "$HOME/${context}-crossed.yaml"
kubectl --kubeconfig "$HOME/${context}-crossed.yaml" get nodes || echo "exit $?"`);
    for (const r of [await crossed('arc1', ARC, AKS), await crossed('myManagedCluster', AKS, ARC)]) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'exit 1\n');
      assert.match(r.stderr, /error: You must be logged in to the server/);
    }
    assert.match(
      k.logs(),
      /expected audience \\"6256c85f-0aad-4d50-b960-e6e9b21efe35\\" got \[\\"6dae42f8/,
      'the Arc cluster names the audience it wants',
    );
  });

  it('attack: aks get-versions without a token is refused', async () => {
    const { httpsFetch } = await import('../support/http.js');
    const r = await httpsFetch(
      `${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}/providers/Microsoft.ContainerService/locations/centralus/kubernetesVersions?api-version=2024-02-01`,
      { caFile: k.endpoints.caFile },
    );
    assert.equal(r.status, 401);
    assert.ok(r.json().error.code, r.text);
  });

  it("aks create --generate-ssh-keys: the key it made in ~/.ssh is the cluster's linuxProfile", async () => {
    const r = await shell(`kentra aks show -g myResourceGroup -n myManagedCluster --query linuxProfile -o json
cat "$HOME/.ssh/id_rsa.pub"; stat -c %a "$HOME/.ssh/id_rsa"`);
    assert.equal(r.code, 0, r.stderr);
    const [json, pub, mode] = [
      r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1),
      ...r.stdout
        .slice(r.stdout.lastIndexOf('}') + 2)
        .trim()
        .split('\n'),
    ];
    assert.deepEqual(JSON.parse(json!), { adminUsername: 'azureuser', ssh: { publicKeys: [{ keyData: pub }] } });
    assert.match(pub!, /^ssh-rsa AAAAB3NzaC1yc2E/);
    assert.equal(mode, '600');
  });

  it('an admin group ID that is not a group of the tenant gets a warning', async () => {
    const r = await shell(
      `kentra aks update -g myResourceGroup -n myManagedCluster --aad-admin-group-object-ids 00000000-1111-4222-8333-444444444444,'${adminGroup}' >/dev/null`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^WARNING: The admin group '00000000-1111-4222-8333-444444444444' is not a group in tenant [0-9a-f-]+: its members will not be cluster admins/m,
    );
    assert.doesNotMatch(r.stderr, new RegExp(adminGroup), 'the real group is not warned about');
  });

  it('aks get-credentials --admin twice: the same credential, merged silently the second time', async () => {
    const r = await shell(`
kentra aks get-credentials --resource-group myResourceGroup --name myManagedCluster --admin
kentra aks get-credentials --resource-group myResourceGroup --name myManagedCluster --admin
kubectl get nodes -o name | head -n 1`);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.equal(r.stderr.match(/Merged "myManagedCluster-admin" as current context/g)?.length, 2, r.stderr);
    assert.match(r.stdout, /^node\//);
  });

  it('kubectl 1.32 and 1.33: auth can-i --list', async () => {
    for (const v of ['1.32', '1.33']) {
      const r = await shell(`/usr/lib/google-cloud-sdk/bin/kubectl.${v} auth can-i --list`);
      assert.equal(r.code, 0, `kubectl ${v}: ${r.stderr}${r.stdout}`);
      assert.match(r.stdout, /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs/, `kubectl ${v}`);
      assert.doesNotMatch(r.stderr, /protobuf/);
    }
  });

  it('kubelogin lists only the login modes it has', async () => {
    const r = await shell('kubelogin get-token --help');
    assert.equal(r.code, 0, r.stderr);
    const modes = /Supported methods: ([^.]+)\./.exec(r.stdout)![1]!.split(', ');
    for (const mode of modes) {
      const run = await shell(
        `kubelogin get-token --login ${mode} --server-id x --client-id x --tenant-id x --cache-dir "$HOME/modes" --timeout 2s </dev/null || true`,
      );
      assert.doesNotMatch(run.stderr, /not available/, `${mode} is listed: ${run.stderr}`);
    }
  });

  it('usage errors, --subscription and a missing resource group answer as az does', async () => {
    const usage = await shell('kentra aks show --resource-group myResourceGroup || echo "exit $?"');
    assert.match(usage.stderr, /^ERROR: the following arguments are required: --name\/-n\n/);
    assert.equal(usage.stdout, 'exit 2\n');
    const bySubscription = await shell(
      `kentra aks show -g myResourceGroup -n myManagedCluster --subscription '${k.endpoints.subscriptionId}' --query name -o tsv`,
    );
    assert.equal(bySubscription.code, 0, bySubscription.stderr);
    assert.equal(bySubscription.stdout, 'myManagedCluster\n');
    const unknown = await shell('kentra aks show -g myResourceGroup -n myManagedCluster --subscription nope || echo "exit $?"');
    assert.equal(unknown.stderr, "ERROR: Subscription 'nope' not found. Check the spelling and casing and try again.\n");
    assert.equal(unknown.stdout, 'exit 1\n');
    const noGroup = await shell('kentra aks show -g nope -n myManagedCluster || echo "exit $?"');
    assert.match(noGroup.stderr, /^ERROR: \(ResourceGroupNotFound\) Resource group 'nope' could not be found\./);
    assert.equal(noGroup.stdout, 'exit 3\n');
  });

  it('aks get-versions, which K8sVersionNotSupported tells a user to run, lists the versions create accepts', async () => {
    const refused = await shell(
      'kentra aks create -g myResourceGroup -n old --kubernetes-version 1.19 --generate-ssh-keys || echo "exit $?"',
    );
    assert.match(refused.stderr, /Please use \[az aks get-versions\] command/);
    const r = await shell(`kentra aks get-versions --location centralus --query 'values[?isDefault].version' -o tsv
kentra aks get-versions -l centralus --query 'values[].version' -o tsv`);
    assert.equal(r.code, 0, r.stderr);
    const [byDefault, ...all] = r.stdout.trim().split('\n');
    assert.equal(byDefault, '1.32');
    assert.ok(all.includes('1.20') && all.includes('1.34') && !all.includes('1.19'), r.stdout);
  });

  it('ad sp create-for-rbac --role --scopes: a service principal that can sign in and use its role', async () => {
    const scope = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/myResourceGroup`;
    const r = await shell(`kentra ad sp create-for-rbac --name ci-pipeline --role Contributor --scopes '${scope}'`);
    assert.equal(r.code, 0, r.stderr);
    const sp = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(sp).sort(), ['appId', 'displayName', 'password', 'tenant']);
    assert.equal(sp.displayName, 'ci-pipeline');
    assert.equal(sp.tenant, k.endpoints.tenantId);
    assert.match(r.stderr, /WARNING: Creating 'Contributor' role assignment under scope/);
    assert.match(r.stderr, /WARNING: The output includes credentials that you must protect/);
    const asSp = await shell(`export KENTRA_CONFIG_DIR="$HOME/ci"
kentra login --service-principal -u '${sp.appId}' -p '${sp.password}' --tenant '${sp.tenant}' >/dev/null
kentra aks list -g myResourceGroup --query '[].name' -o tsv`);
    assert.equal(asSp.code, 0, asSp.stderr);
    assert.equal(asSp.stdout, 'myManagedCluster\n');
  });

  describe('scripts/build-kube-apiserver.sh started twice at once', () => {
    // A FAKE cached kube-apiserver (a shell script that prints the version) stands for the real build,
    // which takes about 10 minutes: what is tested is the cache and the lock, not the compiler.
    const fakeBinary = (cache: string) => {
      const bin = join(cache, 'kube-apiserver-v1.20.2', 'kube-apiserver');
      mkdirSync(join(cache, 'kube-apiserver-v1.20.2'), { recursive: true });
      writeFileSync(bin, '#!/bin/sh\necho "Kubernetes v1.20.2"\n');
      chmodSync(bin, 0o755);
      return bin;
    };
    const build = (cache: string): Promise<Run & { ms: number }> =>
      new Promise((resolveRun) => {
        const started = Date.now();
        const child = spawn('bash', [BUILD_SCRIPT, cache], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        // Never a real 10-minute build here: a run that goes past 60 s is stopped (and fails the test).
        const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolveRun({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
        });
      });

    it('a cached build prints its path at once in both', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'kentra-build-cache-'));
      try {
        const bin = fakeBinary(cache);
        const [a, b] = await Promise.all([build(cache), build(cache)]);
        for (const r of [a, b]) {
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, `${bin}\n`);
        }
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });

    it('a second run waits for the build in progress (the lock in the cache folder), says so, then prints the path', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'kentra-build-cache-'));
      try {
        const lock = join(cache, '.build-kube-apiserver.lock');
        // The "other build": holds the lock until the test has seen the second run wait, then leaves the binary.
        const release = join(cache, 'release');
        const holder = spawn(
          'flock',
          [
            '--exclusive',
            lock,
            'bash',
            '-c',
            `while [ ! -e '${release}' ]; do sleep 0.1; done; mkdir -p '${cache}/kube-apiserver-v1.20.2'; printf '#!/bin/sh\\necho "Kubernetes v1.20.2"\\n' > '${cache}/kube-apiserver-v1.20.2/kube-apiserver'; chmod 755 '${cache}/kube-apiserver-v1.20.2/kube-apiserver'`,
          ],
          { stdio: 'ignore' },
        );
        const holderDone = new Promise((r) => holder.on('close', r));
        while (spawnSync('flock', ['--nonblock', lock, 'true']).status === 0) await new Promise((r) => setTimeout(r, 50));
        const second = build(cache);
        // Let the second run reach the lock before the holder finishes.
        const deadline = Date.now() + 20_000;
        let waited = false;
        while (!waited && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          waited = spawnSync('bash', ['-c', `pgrep -f "${BUILD_SCRIPT} ${cache}" >/dev/null`]).status === 0;
          if (waited) await new Promise((r) => setTimeout(r, 1000));
        }
        writeFileSync(release, '');
        await holderDone;
        const r = await second;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /waiting for another build/);
        assert.equal(r.stdout, `${join(cache, 'kube-apiserver-v1.20.2', 'kube-apiserver')}\n`);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  });

  describe('scripts/build-go-tool.sh started twice at once (upstream kubelogin, helm, etcd, kube-apiserver)', () => {
    const GO_TOOL = join(BUILD_SCRIPT, '..', 'build-go-tool.sh');
    // A FAKE cached kubelogin (a shell script) stands for the real build: what is tested is the cache
    // and the lock, not the Go compiler.
    const cached = (cache: string) => {
      const dir = join(cache, 'kubelogin-v0.2.19');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'kubelogin'), '#!/bin/sh\necho v0.2.19\n');
      chmodSync(join(dir, 'kubelogin'), 0o755);
      writeFileSync(join(dir, '.built'), '');
      return join(dir, 'kubelogin');
    };
    const run = (cache: string): Promise<Run> =>
      new Promise((resolveRun) => {
        const child = spawn('bash', [GO_TOOL, 'kubelogin', cache], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolveRun({ code: code ?? -1, stdout, stderr });
        });
      });

    it('a second run waits for the build in progress (a lock per tool), says so, then prints the cached path', async () => {
      const cache = mkdtempSync(join(tmpdir(), 'kentra-go-cache-'));
      try {
        const lock = join(cache, '.build-kubelogin.lock');
        const release = join(cache, 'release');
        const holder = spawn('flock', ['--exclusive', lock, 'bash', '-c', `while [ ! -e '${release}' ]; do sleep 0.1; done`], {
          stdio: 'ignore',
        });
        const holderDone = new Promise((r) => holder.on('close', r));
        while (spawnSync('flock', ['--nonblock', lock, 'true']).status === 0) await new Promise((r) => setTimeout(r, 50));
        const second = run(cache);
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && spawnSync('bash', ['-c', `pgrep -f "${GO_TOOL} kubelogin ${cache}" >/dev/null`]).status !== 0)
          await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, 1000));
        const bin = cached(cache); // the other build finishes: its binary and stamp are in the cache
        writeFileSync(release, '');
        await holderDone;
        const r = await second;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /waiting for another build of kubelogin v0\.2\.19/);
        assert.equal(r.stdout, `${bin}\n`);
        const [a, b] = await Promise.all([run(cache), run(cache)]);
        for (const x of [a, b]) assert.deepEqual([x.code, x.stdout, x.stderr], [0, `${bin}\n`, '']);
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    });
  });
});
