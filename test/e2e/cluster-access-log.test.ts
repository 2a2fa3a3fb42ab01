import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { openStore } from '../../src/store/index.js';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { postForm, requestAsWritten, type HttpResponse } from '../support/http.js';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { postJson, tokenReview, type ClientCertificate } from '../support/webhook-client.js';

// The cluster access log end to end (issue 18, docs/access-log.md): the real kubectl against a Kentra
// sandbox cluster (allowed, refused by RBAC, a tampered token), a kube-apiserver's webhook reviews, and
// then each decision read back through ARM's accessLogs and `kentra aks access-log`; finally the
// retention pruning when Kentra starts with --access-log-retention-days.

const T = '77777777-0000-4000-8000-';
const ALICE = `${T}000000000001`;
const BOB = `${T}000000000002`;
const ADMINS = `${T}0000000000a1`;
const D = 'kentra.onmicrosoft.com';
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: bob@${D}, password: 'Bob-Passw0rd!', id: ${BOB} }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [${ALICE}] }
`;
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const API = '2026-04-01';

interface Entry {
  time: string;
  user: string;
  userObjectId: string | null;
  groups: string[];
  groupsSource: string | null;
  verb: string | null;
  resource: string | null;
  path: string | null;
  allowed: boolean;
  decision: string;
  reason: string;
  kind: string;
  source: string;
}

describe('the cluster access log: kubectl and webhook decisions read through ARM and kentra aks access-log', { timeout: 90_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let uid: string;
  let ownerToken: string;
  let kubeconfigBase: any;
  const spSecret = { appId: '', secret: '' };
  const agent = new Agent({ keepAlive: true });
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  const mc = () =>
    `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1`;

  const token = async (scope: string, fields: Record<string, string>) => {
    const res = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      { scope, ...fields },
      k.endpoints.caFile,
    );
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const ownerArmToken = () =>
    token('https://management.azure.com/.default', {
      client_id: spSecret.appId,
      client_secret: spSecret.secret,
      grant_type: 'client_credentials',
    });
  const userToken = (user: string, password: string) =>
    token(`${AKS_SERVER}/.default`, { client_id: AKS_CLIENT, grant_type: 'password', username: `${user}@${D}`, password });
  const arm = (method: string, path: string, body?: unknown, bearer = ownerToken): Promise<HttpResponse> => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const full = path.startsWith('/subscriptions/') ? path : `/subscriptions/${k.endpoints.subscriptionId}${path}`;
    return requestAsWritten(k.endpoints.armEndpoint, {
      method,
      path: full.includes('?') ? full : `${full}?api-version=${API}`,
      agent,
      ca: readFileSync(k.endpoints.caFile),
      body: data,
      headers: { authorization: `Bearer ${bearer}`, ...(data ? { 'content-type': 'application/json' } : {}) },
    });
  };
  const accessLogs = async (query = ''): Promise<{ value: Entry[]; nextLink?: string }> => {
    const res = await arm('GET', `${mc()}/accessLogs?api-version=${API}${query}`);
    assert.equal(res.status, 200, res.text);
    return res.json();
  };
  /** Polls the log (written in batches after the responses) until `found` holds, for at most 10 s. */
  const until = async (found: (entries: Entry[]) => boolean, query = ''): Promise<Entry[]> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { value } = await accessLogs(query);
      if (found(value) || Date.now() > deadline) return value;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const kubeconfigWith = (name: string, bearer: string) => {
    const file = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': name,
        clusters: [{ name: 'c1', cluster: kubeconfigBase.clusters[0].cluster }],
        contexts: [{ name, context: { cluster: 'c1', user: name } }],
        users: [{ name, user: { token: bearer } }],
      }),
    );
    return file;
  };
  const kubectl = (kubeconfig: string, args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { env: { PATH: process.env.PATH, HOME: dir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

  let alice: string;
  let tampered: string;
  let dataDir: string;
  let webhookClient: ClientCertificate;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-access-log-'));
    // A data directory of our own: Kentra is started again on it to prune.
    dataDir = join(dir, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    k = await startTestKentra({ seed: SEED, dataDir, extraArgs: ['--provisioning-delay', '0'] });
    spSecret.appId = k.endpoints.servicePrincipal.appId;
    spSecret.secret = k.endpoints.servicePrincipal.secret;
    ownerToken = await ownerArmToken();
    const made = await clusterWithWebhookClient(k, (method, path, body) => arm(method, path, body), ADMINS);
    uid = made.uid;
    webhookClient = made.webhookClient;
    const cred = await arm('POST', `${mc()}/listClusterUserCredential`);
    kubeconfigBase = parse(Buffer.from(cred.json().kubeconfigs[0].value, 'base64').toString());
    alice = await userToken('alice', 'Alice-Passw0rd!');
    const [h, p, s] = alice.split('.');
    tampered = `${h}.${p}.${s!.slice(0, -6)}AAAAAA`;
    env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
    await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
  });
  after(async () => {
    await k?.close();
    agent.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl get nodes (allowed), get pods (refused by RBAC) and a tampered token (401) each appear through ARM, without the token', async () => {
    const nodes = await kubectl(kubeconfigWith('alice', alice), ['get', 'nodes']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /^NAME\s+STATUS/);
    const bob = await userToken('bob', 'Bob-Passw0rd!');
    const refused = await kubectl(kubeconfigWith('bob', bob), ['get', 'pods', '-n', 'default']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Forbidden.*User "bob@kentra\.onmicrosoft\.com" cannot list resource "pods"/);
    const bad = await kubectl(kubeconfigWith('tampered', tampered), ['get', 'nodes']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /You must be logged in to the server|Unauthorized/);

    const entries = await until(
      (v) =>
        v.some((e) => e.user === `bob@${D}` && e.kind === 'authorization') &&
        v.some((e) => e.kind === 'authentication' && e.decision === 'denied'),
    );
    const aliceNodes = entries.find(
      (e) => e.user === `alice@${D}` && e.kind === 'authorization' && e.resource === 'nodes' && e.verb === 'list',
    );
    assert.ok(aliceNodes, JSON.stringify(entries, null, 1));
    assert.equal(aliceNodes.allowed, true);
    assert.equal(aliceNodes.decision, 'allowed');
    assert.equal(aliceNodes.source, 'builtInApi');
    assert.equal(aliceNodes.userObjectId, ALICE);
    assert.ok(aliceNodes.groups.includes(ADMINS));
    assert.equal(aliceNodes.groupsSource, 'tokenClaim,adminGroup');
    assert.match(aliceNodes.reason, /^RBAC: allowed by ClusterRoleBinding "aks-cluster-admin-binding-aad"/);
    assert.ok(!Number.isNaN(Date.parse(aliceNodes.time)));
    const aliceAuthn = entries.find((e) => e.user === `alice@${D}` && e.kind === 'authentication');
    assert.equal(aliceAuthn?.reason, 'authenticated by an Entra token');
    assert.equal(aliceAuthn?.verb, null);

    const bobPods = entries.find((e) => e.user === `bob@${D}` && e.kind === 'authorization' && e.resource === 'pods');
    assert.ok(bobPods);
    assert.equal(bobPods.allowed, false);
    assert.equal(bobPods.decision, 'noOpinion', 'RBAC has no opinion and nothing after it allows: refused');
    assert.equal(bobPods.groupsSource, 'tokenClaim');

    const refusedToken = entries.find((e) => e.kind === 'authentication' && e.decision === 'denied');
    assert.ok(refusedToken);
    assert.equal(refusedToken.user, '');
    assert.equal(refusedToken.allowed, false);
    assert.match(refusedToken.reason, /failed to verify id token signature/);
    const text = JSON.stringify(entries);
    for (const t of [alice, tampered, bob]) {
      assert.ok(!text.includes(t), 'no token in the log');
      assert.ok(!text.includes(t.split('.')[2]!), 'not even a signature');
    }
  });

  it("the webhooks' TokenReview and SubjectAccessReview answers are recorded with source webhook", async () => {
    const ca = readFileSync(k.endpoints.caFile, 'utf8');
    const cert = webhookClient;
    const made = { uid };
    const base = `${k.endpoints.authority}/clusters/${made.uid}/webhooks`;
    const tr = await postJson(`${base}/tokenreviews`, tokenReview(alice), ca, cert);
    assert.equal(tr.status, 200);
    assert.equal(tr.json.status.authenticated, true);
    const sar = await postJson(
      `${base}/subjectaccessreviews`,
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `alice@${D}`,
          groups: [ADMINS],
          extra: { oid: [ALICE] },
          resourceAttributes: { verb: 'get', resource: 'secrets', namespace: 'kube-system' },
        },
      },
      ca,
      cert,
    );
    assert.equal(sar.status, 200);
    const entries = await until(
      (v) => v.filter((e) => e.source === 'webhook').length >= 2,
      `&$filter=${encodeURIComponent(`user eq 'alice@${D}'`)}`,
    );
    const review = entries.find((e) => e.source === 'webhook' && e.kind === 'authentication');
    assert.equal(review?.allowed, true);
    assert.equal(review?.groupsSource, 'tokenClaim,adminGroup');
    const access = entries.find((e) => e.source === 'webhook' && e.kind === 'authorization');
    assert.ok(access);
    assert.equal(access.verb, 'get');
    assert.equal(access.resource, 'secrets');
    assert.equal(access.groupsSource, 'reviewRequest,adminGroup');
    assert.equal(access.reason, sar.json.status.reason);
    assert.equal(access.allowed, sar.json.status.allowed);
  });

  it('kentra aks access-log: --denied, --user, --top and -o table, as az prints', async () => {
    const denied = await cli.json('aks', 'access-log', '-g', 'rg1', '-n', 'c1', '--denied');
    assert.ok(denied.length >= 2);
    assert.ok(denied.every((e: Entry) => e.allowed === false));
    assert.ok(denied.some((e: Entry) => e.user === `bob@${D}` && e.resource === 'pods'));
    const bobs = await cli.json('aks', 'access-log', '-g', 'rg1', '-n', 'c1', '--user', `bob@${D}`, '--top', '1');
    assert.equal(bobs.length, 1);
    assert.equal(bobs[0].user, `bob@${D}`);
    const table = await cli.ok('aks', 'access-log', '-g', 'rg1', '-n', 'c1', '--user', `alice@${D}`, '-o', 'table');
    assert.match(table.split('\n')[0]!, /^Time\s+Kind\s+Source\s+User\s+Verb\s+Resource\s+Namespace\s+Decision\s+Reason/);
    assert.match(table, /authorization\s+builtInApi\s+alice@kentra\.onmicrosoft\.com\s+list\s+nodes\s+allowed/);
    const bad = await cli.run(['aks', 'access-log', '-g', 'rg1', '-n', 'c1', '--top', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^ERROR: argument --top: invalid value '0'/);
    const missing = await cli.run(['aks', 'access-log', '-g', 'rg1', '-n', 'nope']);
    assert.equal(missing.code, 3, 'az exits 3 when the resource is not found');
    assert.match(missing.stderr, /^ERROR: \(ResourceNotFound\)/);
    const help = await cli.ok('aks', 'access-log', '--help');
    assert.match(help, /Microsoft\.Insights\/logs\/AKSAudit\/read/);
  });

  it('pages with nextLink, and prunes entries older than --access-log-retention-days when Kentra starts', async () => {
    const first = await accessLogs('&$top=2');
    assert.equal(first.value.length, 2);
    assert.ok(first.nextLink);
    const next = await arm('GET', new URL(first.nextLink!).pathname + new URL(first.nextLink!).search);
    assert.equal(next.status, 200, next.text);
    assert.ok(
      !next.json().value.some((e: Entry) => first.value.some((f) => f.time === e.time && f.reason === e.reason && f.kind === e.kind)),
    );

    const before = (await accessLogs('&$top=1000')).value.length;
    await k.close();
    const store = await openStore({ dataDir });
    const day = 86_400_000;
    const old = (ageDays: number, reason: string) => ({
      clusterUid: uid,
      time: Date.now() - ageDays * day,
      kind: 'authorization' as const,
      source: 'builtInApi' as const,
      user: 'old@kentra.onmicrosoft.com',
      userObjectId: null,
      groups: [],
      groupsSource: 'tokenClaim',
      verb: 'get',
      resource: 'pods',
      subresource: null,
      apiGroup: '',
      namespace: 'default',
      name: null,
      path: null,
      decision: 'allowed' as const,
      reason,
    });
    await store.addAccessDecisions([old(2, 'two days old'), old(40, 'forty days old')]);
    await store.close();
    k = await startTestKentra({ dataDir, extraArgs: ['--access-log-retention-days', '7'] });
    ownerToken = await ownerArmToken();
    const after = (await accessLogs('&$top=1000')).value;
    assert.ok(
      after.some((e) => e.reason === 'two days old'),
      'kept: within 7 days',
    );
    assert.ok(!after.some((e) => e.reason === 'forty days old'), 'pruned: older than 7 days');
    assert.ok(after.length >= before, 'the recent entries are kept');
  });
});
