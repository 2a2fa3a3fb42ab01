import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { packageSkip } from '../support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Issue 14 item 2: a change of a cluster's access settings takes effect before its ARM operation
// reports Succeeded, on every instance. Two `kentra up` on one PostgreSQL: instance B has just
// served the legacy cluster (its settings are fresh in B's memory); the migration to managed
// integration (`aks update --enable-aad`) runs on A; right after it succeeds, `get-credentials` and
// `kubectl get nodes` on B work, and B's TokenReview webhook accepts the new token.

const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AZ_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const ADMINS = '0a0a0a0a-1111-4222-8333-444444444444';
const D = 'kentra.onmicrosoft.com';
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!' }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [alice@${D}] }
`;
const API = 'api-version=2023-08-01';

interface Res {
  status: number;
  text: string;
  json(): any;
  headers: Record<string, unknown>;
}

function call(
  url: string,
  ca: string,
  opts: { method?: string; json?: unknown; form?: Record<string, string>; token?: string; cert?: { cert: string; key: string } } = {},
): Promise<Res> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.json !== undefined ? JSON.stringify(opts.json) : undefined;
  const headers: Record<string, string> = {
    ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: opts.method ?? (body ? 'POST' : 'GET'), headers, ca, agent: false, ...(opts.cert ?? {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, text, headers: res.headers, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const kubectl = (kubeconfig: string, args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('a cluster settings change takes effect before its operation succeeds, on every instance', { skip, timeout: 120_000 }, () => {
  let pg: TestPostgres;
  let a: TestKentra;
  let b: TestKentra;
  let dataDir: string;
  let ca: string;
  const origin = (k: TestKentra) => `https://localhost:${k.port}`;

  before(async () => {
    if (skip) return;
    pg = await startPostgres();
    const store = await pg.newDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'kentra-settings-'));
    a = await startTestKentra({ store, dataDir, seed: SEED, extraArgs: ['--provisioning-delay', '300'] });
    b = await startTestKentra({ store, dataDir, extraArgs: ['--provisioning-delay', '300'] });
    ca = readFileSync(a.endpoints.caFile, 'utf8');
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const token = async (k: TestKentra, form: Record<string, string>) => {
    const res = await call(`${origin(k)}/${k.endpoints.tenantId}/oauth2/v2.0/token`, ca, { form });
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const waitSucceeded = async (k: TestKentra, owner: string, put: Res) => {
    const op = new URL(String(put.headers['azure-asyncoperation']));
    for (let n = 0; n < 100; n++) {
      const status = (await call(`${origin(k)}${op.pathname}${op.search}`, ca, { token: owner })).json().status;
      if (status !== 'InProgress') return status;
      await new Promise((r) => setTimeout(r, 100));
    }
    return 'InProgress';
  };

  it("legacy → managed on A: right after Succeeded, get-credentials and kubectl get nodes on B work, and B's webhook accepts the token", async () => {
    const { tenantId, subscriptionId } = a.endpoints;
    const owner = await token(a, {
      grant_type: 'client_credentials',
      client_id: a.endpoints.servicePrincipal.appId,
      client_secret: a.endpoints.servicePrincipal.secret,
      scope: 'https://management.azure.com/.default',
    });
    const sub = `/subscriptions/${subscriptionId}`;
    const register = await call(
      `${origin(a)}${sub}/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/AllowLegacyAADIntegration/register?api-version=2021-07-01`,
      ca,
      { method: 'POST', token: owner },
    );
    assert.equal(register.status, 200, register.text);
    assert.equal(
      (
        await call(`${origin(a)}${sub}/resourcegroups/rg?api-version=2021-04-01`, ca, {
          method: 'PUT',
          json: { location: 'eastus' },
          token: owner,
        })
      ).status,
      201,
    );
    const cluster = `${sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/legacy`;
    const legacyServer = '5e5e5e5e-0000-4000-8000-000000000001';
    const properties = { dnsPrefix: 'legacy', agentPoolProfiles: [{ name: 'nodepool1', count: 1 }] };
    const created = await call(`${origin(a)}${cluster}?${API}`, ca, {
      method: 'PUT',
      token: owner,
      json: {
        location: 'eastus',
        properties: {
          ...properties,
          aadProfile: {
            serverAppID: legacyServer,
            clientAppID: '5e5e5e5e-0000-4000-8000-000000000002',
            serverAppSecret: 'legacy-secret-1',
            tenantID: tenantId,
          },
        },
      },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(await waitSucceeded(a, owner, created), 'Succeeded');

    // A user's token for the AKS server app, and B's view of the cluster while it is still legacy.
    const alice = await token(b, {
      grant_type: 'password',
      client_id: AZ_CLI,
      scope: `${AKS_SERVER}/.default`,
      username: `alice@${D}`,
      password: 'Alice-Passw0rd!',
    });
    const credential = async (k: TestKentra) => {
      const res = await call(`${origin(k)}${cluster}/listClusterUserCredential?${API}`, ca, { method: 'POST', token: owner });
      assert.equal(res.status, 200, res.text);
      return parse(Buffer.from(res.json().kubeconfigs[0].value, 'base64').toString('utf8'));
    };
    const legacyConfig = await credential(b);
    const server = String(legacyConfig.clusters[0].cluster.server);
    const uid = /\/clusters\/([^/]+)$/.exec(server)![1]!;
    const kubeconfigOnB = join(dataDir, 'alice-on-b.kubeconfig');
    writeFileSync(
      kubeconfigOnB,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'c',
        clusters: [
          {
            name: 'c',
            cluster: { server: `${origin(b)}/clusters/${uid}`, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
          },
        ],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'alice' } }],
        users: [{ name: 'alice', user: { token: alice } }],
      }),
    );
    const before = await kubectl(kubeconfigOnB, ['get', 'nodes']);
    assert.equal(before.code, 1, 'the legacy cluster refuses a token for the AKS server app');
    assert.match(before.stderr, /You must be logged in to the server/);
    const hooks = await call(`${origin(a)}${cluster}/listWebhookCredential?${API}`, ca, { method: 'POST', token: owner });
    assert.equal(hooks.status, 200, hooks.text);
    const hook = parse(Buffer.from(hooks.json().kubeconfigs[0].value, 'base64').toString('utf8'));
    const cert = {
      cert: Buffer.from(hook.users[0].user['client-certificate-data'], 'base64').toString(),
      key: Buffer.from(hook.users[0].user['client-key-data'], 'base64').toString(),
    };
    const review = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: alice } };
    const reviewOnB = () => call(`${origin(b)}/clusters/${uid}/webhooks/tokenreviews`, ca, { json: review, cert });
    const refused = await reviewOnB();
    assert.equal(refused.json().status.authenticated, false);
    assert.match(refused.json().status.error, new RegExp(`expected audience "${legacyServer}"`));

    // `aks update --enable-aad --aad-admin-group-object-ids` on A.
    const migrated = await call(`${origin(a)}${cluster}?${API}`, ca, {
      method: 'PUT',
      token: owner,
      json: { location: 'eastus', properties: { ...properties, aadProfile: { managed: true, adminGroupObjectIDs: [ADMINS] } } },
    });
    assert.equal(migrated.status, 200, migrated.text);
    assert.equal(await waitSucceeded(a, owner, migrated), 'Succeeded');

    // get-credentials --overwrite-existing on B: the kubeconfig names the AKS server app.
    const fresh = await credential(b);
    const args: string[] = fresh.users[0].user.exec.args;
    assert.equal(args[args.indexOf('--server-id') + 1], AKS_SERVER);
    const nodes = await kubectl(kubeconfigOnB, ['get', 'nodes']);
    assert.equal(nodes.stderr, '', 'kubectl printed no error right after the migration succeeded');
    assert.equal(nodes.code, 0);
    assert.match(nodes.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\naks-nodepool1-/);
    const accepted = await reviewOnB();
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.json().status.authenticated, true, accepted.text);
    assert.equal(accepted.json().status.user.username, `alice@${D}`);
  });
});
