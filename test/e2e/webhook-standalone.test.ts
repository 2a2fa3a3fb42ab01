import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, type CertificateAndKey } from '../../src/pki/index.js';
import { httpsFetch, postForm } from '../support/http.js';
import { KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import {
  ALICE,
  claimsOf,
  contractSeed,
  contractTokens,
  D,
  MANY,
  PAST_200,
  tokenReview,
  tokenReviewContract,
  type ContractTokens,
  type Reply,
} from '../support/webhook-contract.js';

// `kentra webhook` alone, as a separate process beside a (here: pretend) kube-apiserver: no store
// and no data directory; the signing keys from Kentra's published JWKS and the groups of a user in
// overage from Kentra's Microsoft Graph, with an app-only token of an app allowed to read group
// memberships. The contract cases are those of `kentra up`'s webhooks (test/support/webhook-contract.ts),
// on Guard's paths, over mutual TLS with a client CA of the webhook's own.

const READER = '77777777-0000-4000-8000-0000000000c9';
const READER_SECRET = 'graph-reader-secret-0123456789';
const READER_APP = `      - displayName: aks-graph-reader
        appId: ${READER}
        secrets: ['${READER_SECRET}']
        graphPermissions: { application: [GroupMember.Read.All] }
        adminConsent: true
`;
const NO_OPINION = 'kentra webhook does not evaluate Azure RBAC; Kubernetes RBAC decides.';

interface Webhook {
  process: ChildProcess;
  port: number;
  home: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

describe('kentra webhook, standalone beside a kube-apiserver', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let tokens: ContractTokens;
  let dir: string;
  let servingCaPem: string;
  let apiserver: CertificateAndKey;
  let forCluster: CertificateAndKey;
  let stranger: CertificateAndKey;
  let webhook: Webhook;
  const files: Record<'cert' | 'key' | 'clientCa', string> = { cert: '', key: '', clientCa: '' };

  /** Starts `kentra webhook` with an empty HOME and data directory, as its own process. */
  const startWebhook = async (extraArgs: string[], secret: string): Promise<Webhook> => {
    const home = mkdtempSync(join(tmpdir(), 'kentra-webhook-home-'));
    const child = spawn(
      process.execPath,
      [
        KENTRA_BIN,
        'webhook',
        '--tenant-id',
        k.endpoints.tenantId,
        '--authority',
        k.endpoints.authority,
        '--ca-file',
        k.endpoints.caFile,
        '--client-id',
        READER,
        '--tls-cert-file',
        files.cert,
        '--tls-key-file',
        files.key,
        '--client-ca-file',
        files.clientCa,
        '--port',
        '0',
        ...extraArgs,
      ],
      {
        cwd: home,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH, HOME: home, KENTRA_DATA_DIR: join(home, 'data'), KENTRA_WEBHOOK_CLIENT_SECRET: secret },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`kentra webhook did not start\n${stdout}\n${stderr}`)), 30_000);
      child.stdout!.on('data', () => {
        const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`kentra webhook exited with ${code}\n${stdout}\n${stderr}`));
      });
    });
    return {
      process: child,
      port,
      home,
      stdout: () => stdout,
      stderr: () => stderr,
      async stop() {
        if (child.exitCode === null) {
          const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(home, { recursive: true, force: true });
        return child.exitCode;
      },
    };
  };

  const post = (w: Webhook, path: string, body: unknown, cert?: CertificateAndKey, raw?: string): Promise<Reply> =>
    new Promise((resolveReply, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: w.port,
          path,
          method: 'POST',
          ca: servingCaPem,
          servername: 'localhost',
          ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
          headers: { 'content-type': 'application/json', accept: 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => resolveReply({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(raw ?? JSON.stringify(body));
    });
  const graph = async (method: string, path: string, body?: unknown) => {
    const admin = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        grant_type: 'password',
        username: k.endpoints.admin.userPrincipalName,
        password: k.endpoints.admin.password,
        scope: 'https://graph.microsoft.com/.default',
      },
      k.endpoints.caFile,
    );
    assert.equal(admin.status, 200, admin.text);
    return httpsFetch(`${k.endpoints.authority}/v1.0${path}`, {
      method,
      caFile: k.endpoints.caFile,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: {
        authorization: `Bearer ${admin.json().access_token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
    });
  };
  /** How often Kentra has answered a getMemberGroups call on a user, from its request log. */
  const graphLookups = () =>
    k
      .logs()
      .split('\n')
      .filter((l) => l.includes('"route":"/v1.0/users/:id/getMemberGroups"') && l.includes('"status":200')).length;

  before(async () => {
    k = await startTestKentra({ seed: contractSeed(READER_APP) });
    tokens = await contractTokens(k);
    dir = mkdtempSync(join(tmpdir(), 'kentra-webhook-pki-'));
    // The webhook's serving certificate (the kube-apiserver trusts its CA) and the client CA that
    // issued the kube-apiserver's client certificate: neither is Kentra's.
    const servingCa = await createCertificateAuthority('webhook serving CA');
    servingCaPem = servingCa.certPem;
    const serving = await servingCa.issue({
      commonName: 'kentra-webhook',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const clientCa = await createCertificateAuthority('kube-apiserver client CA');
    apiserver = await clientCa.issue({ commonName: 'kube-apiserver', usage: 'client' });
    forCluster = await clientCa.issue({ commonName: 'kube-apiserver', organizations: ['cluster:c-123'], usage: 'client' });
    stranger = await (await createCertificateAuthority('someone else')).issue({ commonName: 'kube-apiserver', usage: 'client' });
    files.cert = join(dir, 'serving.pem');
    files.key = join(dir, 'serving-key.pem');
    files.clientCa = join(dir, 'client-ca.pem');
    writeFileSync(files.cert, serving.certPem);
    writeFileSync(files.key, serving.keyPem, { mode: 0o600 });
    writeFileSync(files.clientCa, clientCa.certPem);
    webhook = await startWebhook([], READER_SECRET);
  });
  after(async () => {
    await webhook?.stop();
    await k?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  tokenReviewContract(() => ({ post: (body) => post(webhook, '/tokenreviews', body, apiserver), tokens }));

  it('a user in overage: the groups come from Graph, including one added through Graph after the token was issued', async () => {
    assert.equal(claimsOf(tokens.many).groups, undefined);
    assert.deepEqual(claimsOf(tokens.many)._claim_names, { groups: 'src1' });
    const created = await graph('POST', '/groups', {
      displayName: 'added-after-the-token',
      mailNickname: 'added-after',
      mailEnabled: false,
      securityEnabled: true,
    });
    assert.equal(created.status, 201, created.text);
    const group = created.json().id as string;
    const added = await graph('POST', `/groups/${group}/members/$ref`, {
      '@odata.id': `${k.endpoints.graphEndpoint}v1.0/directoryObjects/${MANY}`,
    });
    assert.equal(added.status, 204, added.text);
    const before = graphLookups();
    const r = await post(webhook, '/tokenreviews', tokenReview('v1', tokens.many), apiserver);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status.authenticated, true);
    assert.equal(r.json.status.user.username, `many@${D}`);
    assert.deepEqual(r.json.status.user.extra, { oid: [MANY] });
    assert.equal(r.json.status.user.groups.length, 252);
    assert.ok(r.json.status.user.groups.includes(PAST_200));
    assert.ok(r.json.status.user.groups.includes(group), 'the group added a moment ago');
    // Kentra logs a request once it has answered it, and its stderr arrives through a pipe: wait for the line.
    const settled = async () => {
      for (let i = 0; i < 40 && graphLookups() <= before; i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      return graphLookups();
    };
    assert.equal(await settled(), before + 1, "one getMemberGroups call on Kentra's Graph");
    // The token review is cached (2 minutes), as the kube-apiserver caches it: no second look-up.
    await post(webhook, '/tokenreviews', tokenReview('v1beta1', tokens.many), apiserver);
    assert.equal(await settled(), before + 1);
    assert.deepEqual(readdirSync(webhook.home), [], 'no store, no data directory: nothing written');
  });

  it('a Graph failure (a wrong client secret) fails the review closed, with a clear error that names no secret', async () => {
    const bad = await startWebhook([], 'not-the-secret-9876543210');
    try {
      const r = await post(bad, '/tokenreviews', tokenReview('v1', tokens.many), apiserver);
      assert.equal(r.status, 401, JSON.stringify(r.json));
      assert.equal(r.json.status.authenticated, false);
      assert.match(
        r.json.status.error,
        new RegExp(
          `^failed to verify token for azure: could not resolve the groups of a user in overage: the token endpoint ${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token refused client ${READER} \\(HTTP 401\\): invalid_client`,
        ),
      );
      assert.ok(!r.json.status.error.includes('not-the-secret'));
      // alice's groups are in her token: no Graph call, so the same webhook answers her.
      assert.equal((await post(bad, '/tokenreviews', tokenReview('v1', tokens.alice), apiserver)).json.status.authenticated, true);
      assert.ok(
        !bad.stderr().includes('not-the-secret') && !bad.stderr().includes(tokens.many),
        'neither the secret nor the token in the logs',
      );
    } finally {
      assert.equal(await bad.stop(), 0);
    }
  });

  it('mutual TLS: no client certificate is a 400, one from another CA a 403; the paths of kentra up also check O=cluster:<uid>', async () => {
    const none = await post(webhook, '/tokenreviews', tokenReview('v1', tokens.alice));
    assert.deepEqual(
      [none.status, none.json.kind, none.json.reason, none.json.message],
      [400, 'Status', 'BadRequest', 'Missing client certificate'],
    );
    const other = await post(webhook, '/tokenreviews', tokenReview('v1', tokens.alice), stranger);
    assert.equal(other.status, 403);
    assert.equal(other.json.reason, 'Forbidden');
    assert.match(other.json.message, /^the client certificate was not issued by the client CA/);
    const sar = await post(webhook, '/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {},
    });
    assert.deepEqual([sar.status, sar.json.message], [400, 'Missing client certificate'], 'access reviews too');
    const cluster = await post(webhook, '/clusters/c-123/webhooks/tokenreviews', tokenReview('v1', tokens.alice), forCluster);
    assert.equal(cluster.status, 200, JSON.stringify(cluster.json));
    assert.equal(cluster.json.status.user.username, `alice@${D}`);
    const wrong = await post(webhook, '/clusters/c-456/webhooks/tokenreviews', tokenReview('v1', tokens.alice), forCluster);
    assert.deepEqual([wrong.status, wrong.json.message], [403, 'the client certificate is not for cluster c-456']);
    assert.equal(
      (await post(webhook, '/clusters/c-123/webhooks/tokenreviews', tokenReview('v1', tokens.alice), apiserver)).status,
      403,
      'no organization',
    );
  });

  it('a body that is not JSON is a 400 Status; an unknown path a 404 Status', async () => {
    const r = await post(webhook, '/tokenreviews', undefined, apiserver, '{"apiVersion": "authentication.k8s.io/v1", ');
    assert.deepEqual(
      [r.status, r.json.kind, r.json.reason, r.json.message],
      [400, 'Status', 'BadRequest', 'the request body is not valid JSON'],
    );
    const empty = await post(webhook, '/tokenreviews', undefined, apiserver, '');
    assert.deepEqual([empty.status, empty.json.kind], [400, 'Status']);
    const nowhere = await post(webhook, '/authenticate', tokenReview('v1', tokens.alice), apiserver);
    assert.deepEqual([nowhere.status, nowhere.json.kind, nowhere.json.reason], [404, 'Status', 'NotFound']);
  });

  it("SubjectAccessReview (v1 and v1beta1): no opinion, so the kube-apiserver's RBAC decides; a malformed one is a 400", async () => {
    for (const version of ['v1', 'v1beta1']) {
      const body = {
        apiVersion: `authorization.k8s.io/${version}`,
        kind: 'SubjectAccessReview',
        spec: {
          resourceAttributes: { namespace: 'dev', verb: 'list', group: '', version: 'v1', resource: 'pods', subresource: '', name: '' },
          user: `alice@${D}`,
          uid: '',
          [version === 'v1' ? 'groups' : 'group']: ['system:authenticated'],
          extra: { oid: [ALICE] },
        },
      };
      const r = await post(webhook, '/subjectaccessreviews', body, apiserver);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.apiVersion, `authorization.k8s.io/${version}`);
      assert.deepEqual(r.json.status, { allowed: false, reason: NO_OPINION }, 'not denied: the next authorizer decides');
    }
    const bad = await post(
      webhook,
      '/subjectaccessreviews',
      { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'x' } },
      apiserver,
    );
    assert.deepEqual([bad.status, bad.json.kind, bad.json.reason], [400, 'Status', 'BadRequest']);
  });

  it("with --resource-id, decides Azure RBAC SubjectAccessReviews through ARM's checkaccess, as Guard: one allowed, one denied, with the reasons", async () => {
    const { tenantId, subscriptionId, servicePrincipal } = k.endpoints;
    const arm = await postForm(
      `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
      {
        grant_type: 'client_credentials',
        client_id: servicePrincipal.appId,
        client_secret: servicePrincipal.secret,
        scope: 'https://management.azure.com/.default',
      },
      k.endpoints.caFile,
    );
    assert.equal(arm.status, 200, arm.text);
    const call = (method: string, path: string, body?: unknown) =>
      httpsFetch(`${k.endpoints.authority}${path}`, {
        method,
        caFile: k.endpoints.caFile,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: {
          authorization: `Bearer ${arm.json().access_token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      });
    const rg = `/subscriptions/${subscriptionId}/resourceGroups/rbac`;
    assert.equal((await call('PUT', `${rg}?api-version=2021-04-01`, { location: 'eastus' })).status, 201);
    const cluster = `${rg}/providers/Microsoft.ContainerService/managedClusters/guarded`;
    const created = await call('PUT', `${cluster}?api-version=2023-08-01`, {
      location: 'eastus',
      properties: {
        dnsPrefix: 'guarded',
        agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
        aadProfile: { managed: true, enableAzureRBAC: true, adminGroupObjectIDs: [] },
      },
    });
    assert.equal(created.status, 201, created.text);
    const sp = await graph('GET', `/servicePrincipals?$filter=appId eq '${READER}'`);
    const readerSp = sp.json().value[0].id as string;
    const assign = async (scope: string, role: string, principalId: string, principalType: string) => {
      const id = randomUUID();
      const put = await call('PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${id}?api-version=2022-04-01`, {
        properties: {
          roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
          principalId,
          principalType,
        },
      });
      assert.equal(put.status, 201, put.text);
      return id;
    };
    // The webhook's app reads role assignments at the cluster (Reader); alice may read in namespace dev only.
    await assign(cluster, 'acdd72a7-3385-48ef-bd42-f606fba81ae7', readerSp, 'ServicePrincipal');
    const aksReader = '7f6c6a51-bcf8-42ba-9220-52d62157d7db';
    const raId = await assign(`${cluster}/namespaces/dev`, aksReader, ALICE, 'User');

    const guarded = await startWebhook(['--resource-id', cluster], READER_SECRET);
    try {
      const sar = (namespace: string, user = `alice@${D}`, oid = ALICE) => ({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          resourceAttributes: { namespace, verb: 'list', group: '', version: 'v1', resource: 'pods' },
          user,
          groups: ['system:authenticated'],
          extra: { oid: [oid] },
        },
      });
      const allowed = await post(guarded, '/subjectaccessreviews', sar('dev'), apiserver);
      assert.equal(allowed.status, 200, JSON.stringify(allowed.json));
      assert.deepEqual(allowed.json.status, {
        allowed: true,
        reason: `Access allowed by Azure RBAC Role Assignment ${cluster}/namespaces/dev/providers/Microsoft.Authorization/roleAssignments/${raId} of Role ${aksReader} to user alice@${D}`,
      });
      const denied = await post(guarded, '/subjectaccessreviews', sar('prod'), apiserver);
      assert.equal(denied.status, 200, JSON.stringify(denied.json));
      assert.deepEqual(denied.json.status, {
        allowed: false,
        denied: true,
        reason: 'User does not have access to the resource in Azure. Update role assignment to allow access.',
      });
      const system = await post(guarded, '/subjectaccessreviews', sar('dev', 'system:kube-scheduler', ''), apiserver);
      assert.deepEqual(
        system.json.status,
        { allowed: false, reason: 'Azure does not have opinion for this user.' },
        'system users get no opinion, as from Guard',
      );
      assert.ok(
        k
          .logs()
          .split('\n')
          .some((l) => l.includes('Microsoft.Authorization/checkaccess') && l.includes('"status":200')),
        "the decisions came from ARM's checkaccess",
      );
    } finally {
      await guarded.stop();
    }
  });

  it('health and readiness without a client certificate; JSON logs on stderr without tokens; SIGTERM stops it cleanly', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const r = await new Promise<{ status: number; text: string }>((resolveReply, reject) => {
        request({ host: '127.0.0.1', port: webhook.port, path, ca: servingCaPem, servername: 'localhost' }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => resolveReply({ status: res.statusCode ?? 0, text }));
        })
          .on('error', reject)
          .end();
      });
      assert.deepEqual(r, { status: 200, text: 'ok' });
    }
    const lines = webhook.stderr().trim().split('\n');
    assert.ok(lines.length > 5);
    for (const line of lines) JSON.parse(line);
    assert.ok(lines.some((l) => /"msg":"token review"/.test(l) && l.includes('"authenticated":true')));
    for (const secret of [tokens.alice, tokens.many, tokens.expired, READER_SECRET]) assert.ok(!webhook.stderr().includes(secret));
    assert.ok(!webhook.stdout().includes(READER_SECRET));
    const w = webhook;
    const code = await w.stop();
    assert.equal(code, 0);
    assert.match(w.stderr(), /"msg":"shutting down"/);
    webhook = undefined as unknown as Webhook;
  });

  it('refuses to start without a serving certificate or a client CA, saying which', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolveRun) => {
        const child = spawn(
          process.execPath,
          [KENTRA_BIN, 'webhook', '--tenant-id', k.endpoints.tenantId, '--authority', k.endpoints.authority, ...args],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (code) => resolveRun({ code, stderr }));
      });
    const noTls = await run(['--client-ca-file', files.clientCa]);
    assert.equal(noTls.code, 1);
    assert.match(noTls.stderr, /^ERROR: --tls-cert-file and --tls-key-file are required/);
    const noClientCa = await run(['--tls-cert-file', files.cert, '--tls-key-file', files.key]);
    assert.equal(noClientCa.code, 1);
    assert.match(noClientCa.stderr, /^ERROR: --client-ca-file is required/);
  });
});
