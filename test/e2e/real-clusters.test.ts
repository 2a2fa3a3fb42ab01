import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { createCertificateAuthority } from '../../src/pki/index.js';
import { serviceAccountSigningKey } from '../../src/access/index.js';
import { kentraCli } from '../support/kentra-cli.js';
import { commandShims, KUBELOGIN_BIN, processRunner } from '../support/kubectl.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { minorOf, realApiserver, realApiserverBackend } from '../support/kube-apiserver.js';

// Real kube-apiservers as the user meets them: a cluster's API server outlives a Kentra restart with
// its data, stops and starts with `aks stop|start`, and is gone with its folder after `aks delete`;
// and a kube-apiserver Kentra does not run, attached with `kentra aks attach` and configured only
// with what `kentra aks webhook-config` wrote, lets Entra users in through Kentra's webhooks.

const backend = realApiserverBackend();
const { binaries } = realApiserver();
const D = 'kentra.onmicrosoft.com';
const ALICE = '88888888-0000-4000-8000-000000000001';
const ADMINS = '88888888-0000-4000-8000-0000000000a1';
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: bob@${D}, password: 'Bob-Passw0rd!' }
    groups:
      - { displayName: onprem-admins, id: ${ADMINS}, members: [${ALICE}] }
`;

const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

describe('real kube-apiservers: restart, stop and start, delete, and an attached cluster', { timeout: 900_000, skip: backend.skip }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: join(dir, 'config') }));
  const { run, kubectl, kubectlOk } = processRunner(() => env);
  const started: ChildProcess[] = [];
  const login = async () => cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
  /** `kentra up` on the test's own data folder, so that it outlives a stop (startTestKentra keeps a given folder). */
  const start = async () => {
    const dataDir = join(dir, 'kentra-data');
    mkdirSync(dataDir, { recursive: true });
    k = await startTestKentra({ seed: SEED, dataDir, extraArgs: ['--provisioning-delay', '0', ...backend.args()] });
    env = {
      PATH: `${commandShims(dir, { kubelogin: KUBELOGIN_BIN })}:${process.env.PATH}`,
      HOME: dir,
      KENTRA_DATA_DIR: k.dataDir,
      NODE_EXTRA_CA_CERTS: k.endpoints.caFile,
      KUBECACHEDIR: join(dir, 'cache'),
    };
    await login();
  };
  /** kubectl until it succeeds (a real API server takes seconds to start), for at most 60 s. */
  const eventually = async (kubeconfig: string, args: string[]) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await kubectl(kubeconfig, args);
      if (r.code === 0 || Date.now() > deadline) return r;
      await sleep(1000);
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-real-clusters-'));
    await start();
    await cli.json('group', 'create', '--name', 'rg', '--location', 'eastus');
  });
  after(async () => {
    await k?.close();
    // The attached API servers and their etcds: killed, and waited for, before their folders go.
    await Promise.all(
      started.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('close', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('a Kentra restart restarts the cluster with its data; stop and start; delete stops it and removes its folder', async () => {
    await cli.json('aks', 'create', '-g', 'rg', '-n', 'c1');
    const admin = join(dir, 'c1-admin.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'c1', '--admin', '--file', admin);
    const server = parse(readFileSync(admin, 'utf8')).clusters[0].cluster.server as string;
    assert.match(server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await kubectlOk(admin, ['create', 'configmap', 'kept', '--from-literal', 'answer=42']), 'configmap/kept created\n');
    const [uid] = readdirSync(join(k.dataDir, 'clusters'));
    const folder = join(k.dataDir, 'clusters', uid!);
    const pidOf = (name: string) => Number(readFileSync(join(folder, `${name}.pid`), 'utf8'));
    const before = { apiserver: pidOf('kube-apiserver'), etcd: pidOf('etcd') };
    assert.ok(alive(before.apiserver) && alive(before.etcd));

    await k.close();
    assert.ok(!alive(before.apiserver) && !alive(before.etcd), 'Kentra stops its API servers when it stops');
    await start();
    const after = await eventually(admin, ['get', 'configmap', 'kept', '-o', 'jsonpath={.data.answer}']);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, '42', 'the same kubeconfig reaches the restarted API server, with its data');
    assert.notEqual(pidOf('kube-apiserver'), before.apiserver);

    await cli.ok('aks', 'stop', '-g', 'rg', '-n', 'c1');
    assert.equal((await cli.json('aks', 'show', '-g', 'rg', '-n', 'c1')).powerState.code, 'Stopped');
    const down = await kubectl(admin, ['get', 'ns']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /The connection to the server 127\.0\.0\.1:\d+ was refused/);
    await cli.ok('aks', 'start', '-g', 'rg', '-n', 'c1');
    assert.equal((await cli.json('aks', 'show', '-g', 'rg', '-n', 'c1')).powerState.code, 'Running');
    assert.equal(await kubectlOk(admin, ['get', 'configmap', 'kept', '-o', 'jsonpath={.data.answer}']), '42');

    const running = pidOf('kube-apiserver');
    await cli.ok('aks', 'delete', '-g', 'rg', '-n', 'c1', '--yes');
    const deadline = Date.now() + 30_000;
    while ((alive(running) || existsSync(folder)) && Date.now() < deadline) await sleep(500);
    assert.ok(!alive(running), 'the API server stopped with the delete');
    assert.ok(!existsSync(folder), 'its folder (etcd data, keys) is removed');
  });

  it("clusters report the kube-apiserver's own version and refuse another; kubectl 1.27–1.33 each work against it", async (t) => {
    const version = binaries!.version;
    t.diagnostic(`against ${backend.versions()}`);
    const created = await cli.json('aks', 'create', '-g', 'rg', '-n', 'ver', '--enable-aad', '--aad-admin-group-object-ids', ADMINS);
    assert.equal(created.kubernetesVersion, version);
    assert.equal(created.currentKubernetesVersion, version);
    assert.equal(created.agentPoolProfiles[0].orchestratorVersion, version);
    const versions = await cli.json('aks', 'get-versions', '-l', 'eastus');
    assert.deepEqual(
      versions.values.map((v: { version: string; patchVersions: object }) => [v.version, Object.keys(v.patchVersions)]),
      [[version.split('.').slice(0, 2).join('.'), [version]]],
    );
    // Another is refused in ARM's shape, and nothing is created.
    const refused = await cli.run(['aks', 'create', '-g', 'rg', '-n', 'ver-old', '--kubernetes-version', '1.29.4']);
    assert.equal(refused.code, 1);
    const message = `Version 1.29.4 is not supported in this region: Kentra runs every cluster's API server with the kube-apiserver it was started with (--kube-apiserver), which is ${version}. Leave the Kubernetes version out or use ${version}. Please use [az aks get-versions] command to get the supported version list in this region.`;
    assert.equal(refused.stderr, `ERROR: (K8sVersionNotSupported) ${message}\nCode: K8sVersionNotSupported\nMessage: ${message}\n`);
    const gone = await cli.run(['aks', 'show', '-g', 'rg', '-n', 'ver-old']);
    assert.match(gone.stderr, /^ERROR: \(ResourceNotFound\)/, gone.stderr);

    const admin = join(dir, 'ver-admin.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'ver', '--admin', '--file', admin);
    const server = JSON.parse(await kubectlOk(admin, ['version', '-o', 'json'])).serverVersion;
    assert.equal(server.gitVersion, `v${version}`, 'what the API server itself says');
    assert.match(
      await kubectlOk(admin, ['get', 'nodes']),
      new RegExp(`\\naks-nodepool1-\\S+\\s+Ready\\s+\\S+\\s+\\S+\\s+v${version.replace(/\./g, '\\.')}\\n`),
    );

    const user = join(dir, 'ver-user.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'ver', '--file', user);
    const ropcEnv = (name: string, pw: string) => ({
      AAD_LOGIN_METHOD: 'ropc',
      AAD_USER_PRINCIPAL_NAME: `${name}@${D}`,
      AAD_USER_PRINCIPAL_PASSWORD: pw,
      KUBECACHEDIR: join(dir, `ver-cache-${name}`),
    });
    const kubectls = readdirSync(KUBECTL_DIR)
      .filter((f) => /^kubectl\.1\.\d+$/.test(f))
      .sort((a, b) => minorOf(a.slice(8)) - minorOf(b.slice(8)));
    assert.ok(kubectls.length >= 7, `kubectl versions on the machine: ${kubectls.join(', ')}`);
    const seen: string[] = [];
    for (const name of kubectls) {
      const bin = join(KUBECTL_DIR, name);
      const runAs = (args: string[], who: NodeJS.ProcessEnv) => run(bin, ['--kubeconfig', user, ...args], who);
      const nodes = await runAs(['get', 'nodes'], ropcEnv('alice', 'Alice-Passw0rd!'));
      assert.equal(nodes.code, 0, `${name}: ${nodes.stderr}`);
      assert.match(nodes.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\naks-nodepool1-/, name);
      const bob = await runAs(['get', 'pods'], ropcEnv('bob', 'Bob-Passw0rd!'));
      assert.equal(bob.code, 1, name);
      assert.equal(
        bob.stderr,
        `Error from server (Forbidden): pods is forbidden: User "bob@${D}" cannot list resource "pods" in API group "" in the namespace "default"\n`,
        name,
      );
      if (!backend.selfSubjectReview) {
        seen.push(name);
        continue;
      } // kube-apiserver before 1.28: no SelfSubjectReview v1
      const who = await runAs(['auth', 'whoami'], ropcEnv('alice', 'Alice-Passw0rd!'));
      if (minorOf(name.slice(8)) < 28) {
        // kubectl 1.27 asks only for SelfSubjectReview v1alpha1/v1beta1, which a 1.30+ server no longer serves (upstream's skew, not Kentra's).
        assert.equal(who.code, 1, name);
        assert.match(
          who.stderr,
          /^error: the selfsubjectreviews API is not enabled in the cluster\nenable APISelfSubjectReview feature gate and authentication\.k8s\.io\/v1alpha1 or authentication\.k8s\.io\/v1beta1 API\n+$/,
          name,
        );
        seen.push(`${name} (auth whoami: not served to it)`);
        continue;
      }
      assert.equal(who.code, 0, `${name}: ${who.stderr}`);
      assert.match(who.stdout, new RegExp(`Username\\s+alice@${D.replace(/\./g, '\\.')}\\n`), name);
      seen.push(name);
    }
    t.diagnostic(`kubectl versions that worked: ${seen.join(', ')}`);
  });

  /** A kube-apiserver Kentra does not run ("the other party's"): its own CA, keys and etcd; `start(flags)` once the webhook files exist. */
  const startExternal = async (name: string) => {
    const ext = join(dir, name);
    mkdirSync(ext);
    const ca = await createCertificateAuthority(`${name}-ca`);
    const serving = await ca.issue({ commonName: 'kube-apiserver', ipAddresses: ['127.0.0.1'], usage: 'server' });
    const root = await ca.issue({ commonName: `${name}-root`, organizations: ['system:masters'], usage: 'client' });
    const sa = await serviceAccountSigningKey();
    const file = (f: string, text: string) => {
      writeFileSync(join(ext, f), text, { mode: 0o600 });
      return join(ext, f);
    };
    const caFile = file('ca.pem', ca.certPem);
    const [apiPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;
    // The API server's log is kept in memory, for the assertions' messages: a file written from the
    // 'data' handler could be written after `after` has removed the folder (output still in the pipe
    // when the process is killed), an uncaught ENOENT that fails the file once its tests have passed.
    let apiserverLog = '';
    const proc = (cmd: string, args: string[], keepLog: boolean) => {
      const p = spawn(cmd, args, { cwd: ext, stdio: ['ignore', 'ignore', keepLog ? 'pipe' : 'ignore'] });
      p.stderr?.on('data', (d: Buffer) => {
        apiserverLog += d.toString();
      });
      started.push(p);
      return p;
    };
    const log = () => apiserverLog;
    return {
      ext,
      server,
      caFile,
      log,
      /** Starts etcd and the API server with these flags added; resolves to a system:masters kubeconfig once it is ready. */
      start: async (flags: string[]) => {
        proc(
          binaries!.etcd,
          [
            '--name',
            'default',
            '--data-dir',
            join(ext, 'etcd'),
            '--listen-client-urls',
            `http://127.0.0.1:${etcdPort}`,
            '--advertise-client-urls',
            `http://127.0.0.1:${etcdPort}`,
            '--listen-peer-urls',
            `http://127.0.0.1:${peerPort}`,
            '--initial-advertise-peer-urls',
            `http://127.0.0.1:${peerPort}`,
            '--initial-cluster',
            `default=http://127.0.0.1:${peerPort}`,
          ],
          false,
        );
        proc(
          binaries!.kubeApiserver,
          [
            '--bind-address=127.0.0.1',
            `--secure-port=${apiPort}`,
            ...(minorOf(binaries!.version) < 24 ? ['--insecure-port=0'] : []),
            '--advertise-address=127.0.0.1',
            '--endpoint-reconciler-type=none',
            `--etcd-servers=http://127.0.0.1:${etcdPort}`,
            '--service-cluster-ip-range=10.96.0.0/24',
            `--cert-dir=${ext}`,
            `--tls-cert-file=${file('serving.pem', serving.certPem)}`,
            `--tls-private-key-file=${file('serving-key.pem', serving.keyPem)}`,
            `--client-ca-file=${caFile}`,
            `--service-account-key-file=${file('sa.pub', sa.publicKeyPem)}`,
            `--service-account-signing-key-file=${file('sa.key', sa.privateKeyPem)}`,
            `--service-account-issuer=${server}`,
            `--api-audiences=${server}`,
            '--anonymous-auth=false',
            ...flags,
          ],
          true,
        );
        const rootConfig = file(
          'root.kubeconfig',
          stringify({
            apiVersion: 'v1',
            kind: 'Config',
            'current-context': 'root',
            clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
            users: [
              {
                name: 'root',
                user: {
                  'client-certificate-data': Buffer.from(root.certPem).toString('base64'),
                  'client-key-data': Buffer.from(root.keyPem).toString('base64'),
                },
              },
            ],
            contexts: [{ name: 'root', context: { cluster: name, user: 'root' } }],
          }),
        );
        const up = await eventually(rootConfig, ['get', '--raw', '/readyz']);
        assert.equal(up.code, 0, `${up.stderr}\n${log().split('\n').slice(-10).join('\n')}`);
        return rootConfig;
      },
    };
  };
  const ropc = (name: string, pw: string) => ({
    AAD_LOGIN_METHOD: 'ropc',
    AAD_USER_PRINCIPAL_NAME: `${name}@${D}`,
    AAD_USER_PRINCIPAL_PASSWORD: pw,
    KUBECACHEDIR: join(dir, `cache-${name}`),
  });
  const ALICE_PW = 'Alice-Passw0rd!';
  const BOB_PW = 'Bob-Passw0rd!';
  /** `kubectl auth whoami` natively (SelfSubjectReview) where the server has it. */
  const whoami = async (kubeconfig: string, extraEnv: NodeJS.ProcessEnv) => {
    const r = await kubectl(kubeconfig, ['auth', 'whoami'], extraEnv);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it('the attached webhook-mode and structured-authentication kube-apiservers accept the same Kentra tokens for the same user', async (t) => {
    t.diagnostic(`against ${backend.versions()}`);
    const webhookApi = await startExternal('onprem');
    const structured = minorOf(binaries!.version) >= 30;
    const jwtApi = structured ? await startExternal('onprem-jwt') : null;
    const webhookOut = join(dir, 'webhooks');
    const jwtOut = join(dir, 'webhooks-jwt');

    const attach = async (name: string, api: { server: string; caFile: string }, out: string) => {
      await cli.json(
        'aks',
        'attach',
        '-g',
        'rg',
        '-n',
        name,
        '--server',
        api.server,
        '--ca-file',
        api.caFile,
        '--aad-admin-group-object-ids',
        ADMINS,
        '--kubernetes-version',
        binaries!.version,
      );
      return cli.json('aks', 'webhook-config', '-g', 'rg', '-n', name, '--dir', out);
    };
    const webhookConfig = await attach('onprem', webhookApi, webhookOut);
    // Webhook mode: the flags as printed (the structured file is the alternative, not used here).
    const webhookRoot = await webhookApi.start(webhookConfig.flags as string[]);
    // AKS's admin-group binding, as webhook-config wrote it for this cluster.
    assert.match(
      await kubectlOk(webhookRoot, ['apply', '-f', join(webhookOut, 'admin-group-binding.yaml')]),
      /clusterrolebinding\.rbac\.authorization\.k8s\.io\/aks-cluster-admin-binding-aad created/,
    );

    const user = join(dir, 'onprem-user.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'onprem', '--file', user);
    const kc = parse(readFileSync(user, 'utf8'));
    assert.equal(kc.clusters[0].cluster.server, webhookApi.server);
    assert.equal(kc.users[0].user.exec.command, 'kubelogin');
    // The exec plugin's arguments say devicecode; ropc comes from the environment, as kubelogin reads it.
    const ns = await kubectl(user, ['get', 'namespaces'], ropc('alice', ALICE_PW));
    assert.equal(ns.code, 0, ns.stderr);
    assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE\n(.*\n)*kube-system\s+Active/);
    const bob = await kubectl(user, ['get', 'namespaces'], ropc('bob', BOB_PW));
    assert.equal(bob.code, 1);
    assert.equal(
      bob.stderr,
      `Error from server (Forbidden): namespaces is forbidden: User "bob@${D}" cannot list resource "namespaces" in API group "" at the cluster scope\n`,
    );
    if (!jwtApi) return; // before 1.30 there is no structured authentication configuration

    // Structured mode: the same cluster's settings, --authentication-config in place of the three token webhook flags.
    const jwtConfig = await attach('onprem-jwt', jwtApi, jwtOut);
    const authConfig = join(jwtOut, 'authentication-config.yaml');
    assert.equal(
      parse(readFileSync(authConfig, 'utf8')).apiVersion,
      minorOf(binaries!.version) >= 34 ? 'apiserver.config.k8s.io/v1' : 'apiserver.config.k8s.io/v1beta1',
    );
    const jwtFlags = [
      ...(jwtConfig.flags as string[]).filter((f) => !f.startsWith('--authentication-token-webhook')),
      `--authentication-config=${authConfig}`,
    ];
    const jwtRoot = await jwtApi.start(jwtFlags);
    await kubectlOk(jwtRoot, ['apply', '-f', join(jwtOut, 'admin-group-binding.yaml')]);
    const jwtUser = join(dir, 'onprem-jwt-user.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'onprem-jwt', '--file', jwtUser);

    // The same user, through kubelogin with the same token cache, is the same Kubernetes user on both.
    const aliceWebhook = await whoami(user, ropc('alice', ALICE_PW));
    const aliceJwt = await whoami(jwtUser, ropc('alice', ALICE_PW));
    const rows = (table: string) =>
      table
        .split('\n')
        .filter((l) => /^(Username|Groups)\s/.test(l))
        .map((l) => l.split(/\s+/).join(' '));
    assert.match(
      aliceJwt,
      new RegExp(`^ATTRIBUTE\\s+VALUE\\nUsername\\s+alice@${D.replace(/\./g, '\\.')}\\nGroups\\s+\\[${ADMINS} system:authenticated\\]\\n`),
    );
    assert.deepEqual(rows(aliceJwt), rows(aliceWebhook));
    // What differs: the webhook adds the object ID as an extra (Azure RBAC reads it); the structured file cannot (see docs).
    assert.match(aliceWebhook, new RegExp(`\\nExtra: oid\\s+\\[${ALICE}\\]\\n`));
    assert.doesNotMatch(aliceJwt, /Extra: oid/);
    const jwtNs = await kubectl(jwtUser, ['get', 'namespaces'], ropc('alice', ALICE_PW));
    assert.equal(jwtNs.code, 0, `${jwtNs.stderr}\n${jwtApi.log().split('\n').slice(-10).join('\n')}`);
    const jwtBob = await kubectl(jwtUser, ['get', 'namespaces'], ropc('bob', BOB_PW));
    assert.equal(jwtBob.stderr, bob.stderr, 'the same refusal for a user without a binding');

    // A Kentra token for another audience (ARM) is refused by both, each in its own way (401).
    const arm = await cli.ok('account', 'get-access-token', '--query', 'accessToken', '-o', 'tsv');
    for (const [name, from] of [
      ['webhook', user],
      ['jwt', jwtUser],
    ] as const) {
      const cfg = parse(readFileSync(from, 'utf8'));
      const file = join(dir, `${name}-arm-token.kubeconfig`);
      writeFileSync(file, stringify({ ...cfg, users: [{ name: cfg.users[0].name, user: { token: arm.trim() } }] }));
      const r = await kubectl(file, ['get', 'namespaces']);
      assert.equal(r.code, 1, `${name}: ${r.stdout}`);
      assert.match(
        r.stderr,
        /^error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)\n$/,
        `${name}: ${r.stderr}`,
      );
    }
  });
});
