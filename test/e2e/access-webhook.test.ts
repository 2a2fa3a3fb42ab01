import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { entraTokenAuthenticator, remoteKeySource } from '../../src/access/index.js';
import { loadCertificateAuthority, type CertificateAndKey } from '../../src/pki/index.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { kentraCli } from '../support/kentra-cli.js';
import { postJson } from '../support/webhook-client.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import {
  ADMINS,
  AKS_CLIENT,
  AKS_SERVER,
  ALICE,
  contractSeed,
  contractTokens,
  PAST_200,
  tokenReview,
  tokenReviewContract,
  type ContractTokens,
  type Reply,
} from '../support/webhook-contract.js';

// The TokenReview webhook of `kentra up` with the exact bodies a kube-apiserver POSTs
// (reference/guard-rbac.md §4.1), v1 and v1beta1, over mutual TLS, for a cluster made through ARM.
// The contract cases are shared with the standalone `kentra webhook` (test/support/webhook-contract.ts).

const API = 'api-version=2022-11-01';

describe('access webhooks of kentra up', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let uid: string;
  let client: CertificateAndKey;
  let otherCluster: CertificateAndKey;
  let aliceToken: string;
  let tokens: ContractTokens;

  const post = (path: string, body: unknown, cert?: CertificateAndKey): Promise<Reply> =>
    postJson(`${k.endpoints.authority}${path}`, body, readFileSync(k.endpoints.caFile, 'utf8'), cert);
  const review = tokenReview;

  /** A temporary HOME with the kentra CLI signed in as the admin (an Owner), removed afterwards. */
  const asAdmin = async (fn: (cli: ReturnType<typeof kentraCli>, dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'kentra-webhook-'));
    try {
      const env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
      const cli = kentraCli(() => env);
      await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
      await fn(cli, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  /** The client certificate in a webhook kubeconfig, as the kube-apiserver reads it. */
  const clientCertOf = (cfg: any): CertificateAndKey => ({
    certPem: Buffer.from(cfg.users[0].user['client-certificate-data'], 'base64').toString(),
    keyPem: Buffer.from(cfg.users[0].user['client-key-data'], 'base64').toString(),
    certDer: Buffer.alloc(0),
  });

  before(async () => {
    k = await startTestKentra({ seed: contractSeed(), extraArgs: ['--provisioning-delay', '0'] });
    const token = async (fields: Record<string, string>) =>
      (await postForm(`${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`, fields, k.endpoints.caFile)).json()
        .access_token as string;
    const owner = await token({
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
      scope: 'https://management.azure.com/.default',
    });
    const arm = (method: string, path: string, body?: unknown): Promise<HttpResponse> =>
      httpsFetch(`${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}${path}?${API}`, {
        method,
        caFile: k.endpoints.caFile,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${owner}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      });
    assert.equal((await arm('PUT', '/resourcegroups/rg1', { location: 'eastus' })).status, 201);
    const mc = '/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1';
    const created = await arm('PUT', mc, {
      location: 'eastus',
      properties: {
        dnsPrefix: 'c1',
        agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
        aadProfile: { managed: true, adminGroupObjectIDs: [ADMINS] },
      },
    });
    assert.equal(created.status, 201, created.text);
    const rbac = await arm('PUT', '/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c2', {
      location: 'eastus',
      properties: {
        dnsPrefix: 'c2',
        agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
        aadProfile: { managed: true, enableAzureRBAC: true, adminGroupObjectIDs: [ADMINS] },
      },
    });
    assert.equal(rbac.status, 201, rbac.text);
    const creds = (await arm('POST', `${mc}/listClusterUserCredential`)).json();
    const kubeconfig = parse(Buffer.from(creds.kubeconfigs[0].value, 'base64').toString());
    uid = /\/clusters\/([^/]+)$/.exec(kubeconfig.clusters[0].cluster.server)![1]!;
    const ca = await loadCertificateAuthority(
      readFileSync(join(k.dataDir, 'ca.pem'), 'utf8'),
      readFileSync(join(k.dataDir, 'ca-key.pem'), 'utf8'),
    );
    client = await ca.issue({ commonName: 'kube-apiserver', organizations: [`cluster:${uid}`], usage: 'client' });
    otherCluster = await ca.issue({ commonName: 'kube-apiserver', organizations: ['cluster:someone-else'], usage: 'client' });
    tokens = await contractTokens(k);
    aliceToken = tokens.alice;
  });
  after(async () => k?.close());

  tokenReviewContract(() => ({ post: (body) => post(`/clusters/${uid}/webhooks/tokenreviews`, body, client), tokens }));

  it('F13: a user in 251 groups gets a token with the overage claim; the review resolves every group from the directory', async () => {
    const manyToken = (
      await postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        {
          client_id: AKS_CLIENT,
          grant_type: 'password',
          username: 'many@kentra.onmicrosoft.com',
          password: 'Many-Passw0rd!',
          scope: `${AKS_SERVER}/.default`,
        },
        k.endpoints.caFile,
      )
    ).json().access_token as string;
    const claims = JSON.parse(Buffer.from(manyToken.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.groups, undefined, 'no groups claim past 200');
    assert.deepEqual(claims._claim_names, { groups: 'src1' });
    const r = await post(`/clusters/${uid}/webhooks/tokenreviews`, review('v1', manyToken), client);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status.user.username, 'many@kentra.onmicrosoft.com');
    assert.equal(r.json.status.user.groups.length, 251);
    assert.ok(r.json.status.user.groups.includes(PAST_200));
  });

  it("`kentra aks webhook-config` writes the kube-apiserver's config file; with it alone a TokenReview is answered", async () => {
    await asAdmin(async (cli, dir) => {
      const out = await cli.json('aks', 'webhook-config', '-g', 'rg1', '-n', 'c1', '--dir', join(dir, 'webhooks'));
      const file = join(dir, 'webhooks', 'authn-webhook.kubeconfig');
      const authz = join(dir, 'webhooks', 'authz-webhook.kubeconfig');
      assert.deepEqual(out, {
        files: [file, authz],
        flags: [
          `--authentication-token-webhook-config-file=${file}`,
          '--authentication-token-webhook-version=v1',
          '--authentication-token-webhook-cache-ttl=2m',
          '--authorization-mode=Node,RBAC',
        ],
      });
      // With Azure RBAC the authorization webhook is configured too.
      const withRbac = await cli.json('aks', 'webhook-config', '-g', 'rg1', '-n', 'c2', '--dir', join(dir, 'webhooks-c2'));
      assert.deepEqual(withRbac.flags.slice(3), [
        '--authorization-mode=Node,RBAC,Webhook',
        `--authorization-webhook-config-file=${join(dir, 'webhooks-c2', 'authz-webhook.kubeconfig')}`,
        '--authorization-webhook-version=v1',
        '--authorization-webhook-cache-authorized-ttl=5m',
        '--authorization-webhook-cache-unauthorized-ttl=30s',
      ]);
      assert.equal(statSync(file).mode & 0o777, 0o600, 'it holds a private key');
      assert.equal(statSync(authz).mode & 0o777, 0o600);
      assert.equal(
        parse(readFileSync(authz, 'utf8')).clusters[0].cluster.server,
        `${k.endpoints.authority}/clusters/${uid}/webhooks/subjectaccessreviews`,
      );
      // Read it as the kube-apiserver does: server, CA, client certificate and key.
      const cfg = parse(readFileSync(file, 'utf8'));
      assert.equal(cfg['current-context'], 'webhook');
      const server = cfg.clusters[0].cluster.server as string;
      assert.equal(server, `${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`);
      assert.equal(
        Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString(),
        readFileSync(k.endpoints.caFile, 'utf8'),
      );
      const cert = clientCertOf(cfg);
      const r = await post(new URL(server).pathname, review('v1beta1', aliceToken), cert);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.status.user.username, 'alice@kentra.onmicrosoft.com');
      // A Reader of the subscription gets no webhook credential: it is a secret of the cluster.
      await cli.json(
        'role',
        'assignment',
        'create',
        '--assignee',
        'alice@kentra.onmicrosoft.com',
        '--role',
        'Reader',
        '--scope',
        `/subscriptions/${k.endpoints.subscriptionId}`,
      );
      await cli.json('login', '-u', 'alice@kentra.onmicrosoft.com', '-p', 'Alice-Passw0rd!');
      const refused = await cli.run(['aks', 'webhook-config', '-g', 'rg1', '-n', 'c1', '--dir', join(dir, 'alice')]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /^ERROR: \(AuthorizationFailed\)/m);
      assert.match(refused.stderr, /Microsoft\.ContainerService\/managedClusters\/listWebhookCredential\/action/);
    });
  });

  it('SubjectAccessReview on a cluster with Azure RBAC: allowed by a namespace-scope assignment, denied elsewhere, as Guard answers', async () => {
    await asAdmin(async (cli, dir) => {
      const c2 = (await cli.json('aks', 'show', '-g', 'rg1', '-n', 'c2')).id as string;
      await cli.json(
        'role',
        'assignment',
        'create',
        '--assignee',
        'alice@kentra.onmicrosoft.com',
        '--role',
        'Azure Kubernetes Service RBAC Reader',
        '--scope',
        `${c2}/namespaces/dev`,
      );
      await cli.json('aks', 'webhook-config', '-g', 'rg1', '-n', 'c2', '--dir', dir);
      const cfg = parse(readFileSync(join(dir, 'authz-webhook.kubeconfig'), 'utf8'));
      const cert = clientCertOf(cfg);
      const path = new URL(cfg.clusters[0].cluster.server).pathname;
      // The body a kube-apiserver sends for `kubectl get pods -n dev` by alice (reference/guard-rbac.md §4.2).
      const sar = (namespace: string, version = 'v1') => ({
        apiVersion: `authorization.k8s.io/${version}`,
        kind: 'SubjectAccessReview',
        spec: {
          resourceAttributes: { namespace, verb: 'list', group: '', version: 'v1', resource: 'pods', subresource: '', name: '' },
          user: 'alice@kentra.onmicrosoft.com',
          uid: '',
          [version === 'v1' ? 'groups' : 'group']: [ADMINS, 'system:authenticated'],
          extra: { oid: [ALICE] },
        },
      });
      const ok = await post(path, sar('dev'), cert);
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.equal(ok.json.apiVersion, 'authorization.k8s.io/v1');
      assert.equal(ok.json.status.allowed, true);
      assert.match(
        ok.json.status.reason,
        /^Access allowed by Azure RBAC Role Assignment \/subscriptions\/.+\/namespaces\/dev\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]+ of Role 7f6c6a51-bcf8-42ba-9220-52d62157d7db to user alice@kentra\.onmicrosoft\.com$/,
      );
      const no = await post(path, sar('prod', 'v1beta1'), cert);
      assert.deepEqual(
        [no.status, no.json.apiVersion, no.json.status],
        [
          200,
          'authorization.k8s.io/v1beta1',
          {
            allowed: false,
            denied: true,
            reason: 'User does not have access to the resource in Azure. Update role assignment to allow access.',
          },
        ],
      );
      // The webhook certificate of c2 is not c1's.
      const wrong = await post(`/clusters/${uid}/webhooks/subjectaccessreviews`, sar('dev'), cert);
      assert.equal(wrong.status, 403);
      // c1 has no Azure RBAC: no opinion, so Kubernetes RBAC decides.
      assert.deepEqual((await post(`/clusters/${uid}/webhooks/subjectaccessreviews`, sar('dev'), client)).json.status, {
        allowed: false,
        reason: 'Azure RBAC is not enabled for this cluster.',
      });
    });
  });

  it('beside a remote Kentra: keys from its published JWKS, one refetch for an unknown kid, then rate-limited', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const keys = remoteKeySource({
      jwksUri: `${k.endpoints.authority}/${k.endpoints.tenantId}/discovery/v2.0/keys`,
      caPem: readFileSync(k.endpoints.caFile, 'utf8'),
      clock,
      minRefetchIntervalMs: 10_000,
    });
    const authn = entraTokenAuthenticator({
      tenantId: k.endpoints.tenantId,
      audiences: [AKS_SERVER],
      authorityOrigin: k.endpoints.authority,
      keys,
      clock,
      groups: { memberGroups: async () => [] },
    });
    assert.equal(((await authn({ token: aliceToken })) as any).user.username, 'alice@kentra.onmicrosoft.com');
    assert.equal(keys.fetches(), 1);
    await authn({ token: aliceToken });
    assert.equal(keys.fetches(), 1, 'known kid: no fetch');
    const [, p, s] = aliceToken.split('.');
    const unknownKid = `${Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'not-a-kentra-key' })).toString('base64url')}.${p}.${s}`;
    assert.match(((await authn({ token: unknownKid })) as any).message, /no signing key with that kid/);
    assert.equal(keys.fetches(), 1, 'within the interval a new kid does not refetch');
    now += 10_001;
    await authn({ token: unknownKid });
    assert.equal(keys.fetches(), 2, 'after it, one refetch');
    await Promise.all([authn({ token: unknownKid }), authn({ token: unknownKid }), authn({ token: unknownKid })]);
    assert.equal(keys.fetches(), 2);
  });

  it('answers only a client certificate Kentra issued for this cluster', async () => {
    const none = await post(`/clusters/${uid}/webhooks/tokenreviews`, review('v1', aliceToken));
    assert.deepEqual([none.status, none.json.reason, none.json.message], [400, 'BadRequest', 'Missing client certificate']);
    const other = await post(`/clusters/${uid}/webhooks/tokenreviews`, review('v1', aliceToken), otherCluster);
    assert.deepEqual(
      [other.status, other.json.reason, other.json.message],
      [403, 'Forbidden', `the client certificate is not for cluster ${uid}`],
    );
    const missing = await post(
      '/clusters/no-such-cluster/webhooks/tokenreviews',
      review('v1', aliceToken),
      await (
        await loadCertificateAuthority(readFileSync(join(k.dataDir, 'ca.pem'), 'utf8'), readFileSync(join(k.dataDir, 'ca-key.pem'), 'utf8'))
      ).issue({ commonName: 'x', organizations: ['cluster:no-such-cluster'], usage: 'client' }),
    );
    assert.equal(missing.status, 404);
    const notReview = await post(`/clusters/${uid}/webhooks/tokenreviews`, { apiVersion: 'v1', kind: 'Pod' }, client);
    assert.deepEqual([notReview.status, notReview.json.kind, notReview.json.reason], [400, 'Status', 'BadRequest']);
  });
});
