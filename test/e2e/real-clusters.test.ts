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
import { realApiserver, realApiserverBackend } from '../support/kube-apiserver.js';

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

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

describe('real kube-apiservers: restart, stop and start, delete, and an attached cluster', { timeout: 900_000, skip: backend.skip }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => ({ ...env, KENTRA_CONFIG_DIR: join(dir, 'config') }));
  const { kubectl, kubectlOk } = processRunner(() => env);
  const started: ChildProcess[] = [];
  const login = async () => cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
  /** `kentra up` on the test's own data folder, so that it outlives a stop (startTestKentra keeps a given folder). */
  const start = async () => {
    const dataDir = join(dir, 'kentra-data');
    mkdirSync(dataDir, { recursive: true });
    k = await startTestKentra({ seed: SEED, dataDir, extraArgs: ['--provisioning-delay', '0', ...backend.args()] });
    env = { PATH: `${commandShims(dir, { kubelogin: KUBELOGIN_BIN })}:${process.env.PATH}`, HOME: dir, KENTRA_DATA_DIR: k.dataDir, NODE_EXTRA_CA_CERTS: k.endpoints.caFile, KUBECACHEDIR: join(dir, 'cache') };
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
    for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
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

  it('an attached kube-apiserver configured with webhook-config lets the admin group in and refuses others', async () => {
    // The other party's cluster: its own CA, serving certificate, service-account key, etcd and API server.
    const ext = join(dir, 'ext');
    mkdirSync(ext);
    const ca = await createCertificateAuthority('onprem-ca');
    const serving = await ca.issue({ commonName: 'kube-apiserver', ipAddresses: ['127.0.0.1'], usage: 'server' });
    const root = await ca.issue({ commonName: 'onprem-root', organizations: ['system:masters'], usage: 'client' });
    const sa = await serviceAccountSigningKey();
    const file = (name: string, text: string) => { writeFileSync(join(ext, name), text, { mode: 0o600 }); return join(ext, name); };
    const caFile = file('ca.pem', ca.certPem);
    const [apiPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;

    await cli.json('aks', 'attach', '-g', 'rg', '-n', 'onprem', '--server', server, '--ca-file', caFile, '--aad-admin-group-object-ids', ADMINS, '--kubernetes-version', '1.20.2');
    const out = join(dir, 'webhooks');
    const config = await cli.json('aks', 'webhook-config', '-g', 'rg', '-n', 'onprem', '--dir', out);
    const flags = (config.flags as string[]).filter((f) => !f.startsWith('--authentication-config'));

    const proc = (cmd: string, args: string[], log: string) => {
      const p = spawn(cmd, args, { cwd: ext, stdio: ['ignore', 'ignore', 'pipe'] });
      let text = '';
      p.stderr!.on('data', (d: Buffer) => { text += d.toString(); writeFileSync(join(ext, log), text); });
      started.push(p);
      return p;
    };
    proc(binaries!.etcd, ['--name', 'default', '--data-dir', join(ext, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-cluster', `default=http://127.0.0.1:${peerPort}`], 'etcd.log');
    proc(binaries!.kubeApiserver, [
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, '--insecure-port=0', '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none',
      `--etcd-servers=http://127.0.0.1:${etcdPort}`, '--service-cluster-ip-range=10.96.0.0/24', `--cert-dir=${ext}`,
      `--tls-cert-file=${file('serving.pem', serving.certPem)}`, `--tls-private-key-file=${file('serving-key.pem', serving.keyPem)}`, `--client-ca-file=${caFile}`,
      `--service-account-key-file=${file('sa.pub', sa.publicKeyPem)}`, `--service-account-signing-key-file=${file('sa.key', sa.privateKeyPem)}`,
      `--service-account-issuer=${server}`, `--api-audiences=${server}`, '--anonymous-auth=false',
      ...flags,
    ], 'kube-apiserver.log');
    const rootConfig = file('root.kubeconfig', stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'root',
      clusters: [{ name: 'onprem', cluster: { server, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
      users: [{ name: 'root', user: { 'client-certificate-data': Buffer.from(root.certPem).toString('base64'), 'client-key-data': Buffer.from(root.keyPem).toString('base64') } }],
      contexts: [{ name: 'root', context: { cluster: 'onprem', user: 'root' } }],
    }));
    const up = await eventually(rootConfig, ['get', '--raw', '/readyz']);
    assert.equal(up.code, 0, `${up.stderr}\n${readFileSync(join(ext, 'kube-apiserver.log'), 'utf8').split('\n').slice(-10).join('\n')}`);
    // AKS's admin-group binding, as webhook-config wrote it for this cluster.
    assert.match(await kubectlOk(rootConfig, ['apply', '-f', join(out, 'admin-group-binding.yaml')]), /clusterrolebinding\.rbac\.authorization\.k8s\.io\/aks-cluster-admin-binding-aad created/);

    const user = join(dir, 'onprem-user.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'onprem', '--file', user);
    const kc = parse(readFileSync(user, 'utf8'));
    assert.equal(kc.clusters[0].cluster.server, server);
    assert.equal(kc.users[0].user.exec.command, 'kubelogin');
    const ropc = (name: string, pw: string) => ({ AAD_LOGIN_METHOD: 'ropc', AAD_USER_PRINCIPAL_NAME: `${name}@${D}`, AAD_USER_PRINCIPAL_PASSWORD: pw, KUBECACHEDIR: join(dir, `cache-${name}`) });
    // The exec plugin's arguments say devicecode; ropc comes from the environment, as kubelogin reads it.
    const ns = await kubectl(user, ['get', 'namespaces'], ropc('alice', 'Alice-Passw0rd!'));
    assert.equal(ns.code, 0, ns.stderr);
    assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE\n(.*\n)*kube-system\s+Active/);
    const bob = await kubectl(user, ['get', 'namespaces'], ropc('bob', 'Bob-Passw0rd!'));
    assert.equal(bob.code, 1);
    assert.equal(bob.stderr, `Error from server (Forbidden): namespaces is forbidden: User "bob@${D}" cannot list resource "namespaces" in API group "" at the cluster scope\n`);
  });
});
