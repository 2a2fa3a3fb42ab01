import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { postForm, requestAsWritten, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { postJson, tokenReview, type ClientCertificate } from '../support/webhook-client.js';

// The cluster access log's ARM API (docs/access-log.md) under attack: who may read it (the action
// Microsoft.Insights/logs/AKSAudit/read at the cluster, not a credential or data-plane role, not a
// role elsewhere), clusters of other subscriptions and tenants (404, nothing leaks), no token,
// password or secret in any entry even when the bearer token was bad, and bad $top, $filter,
// $skipToken and api-version answered with ARM's 400 shape, changing nothing.

const T = '66666666-0000-4000-8000-';
const READER = `${T}000000000001`; // Reader of c1
const CLUSTER_USER = `${T}000000000002`; // AKS Cluster User Role on c1
const RBAC_ADMIN = `${T}000000000003`; // AKS RBAC Cluster Admin on c1
const DAVE = `${T}000000000004`; // Owner of subscription S2 (same tenant), nothing on c1
const CAROL = `${T}000000000005`; // another tenant, Owner of its subscription SB
const ADMINS = `${T}0000000000a1`;
const S2 = `${T}0000000000b2`;
const SB = `${T}0000000000bb`;
const D = 'kentra.onmicrosoft.com';
const OTHER = 'other.onmicrosoft.com';
const pw = (n: string) => `${n[0]!.toUpperCase()}${n.slice(1)}-Passw0rd!`;
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: reader@${D}, password: '${pw('reader')}', id: ${READER} }
      - { userPrincipalName: clusteruser@${D}, password: '${pw('clusteruser')}', id: ${CLUSTER_USER} }
      - { userPrincipalName: rbacadmin@${D}, password: '${pw('rbacadmin')}', id: ${RBAC_ADMIN} }
      - { userPrincipalName: dave@${D}, password: '${pw('dave')}', id: ${DAVE} }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [] }
    subscriptions:
      - { id: ${S2}, displayName: second, roleAssignments: [{ principal: 'dave@${D}', role: Owner }] }
  - domain: ${OTHER}
    users:
      - { userPrincipalName: carol@${OTHER}, password: '${pw('carol')}', id: ${CAROL} }
    subscriptions:
      - { id: ${SB}, displayName: theirs, roleAssignments: [{ principal: 'carol@${OTHER}', role: Owner }] }
`;
const API = '2026-04-01';
const MC = 'Microsoft.ContainerService/managedClusters';
const ROLES = {
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  ClusterUser: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f',
  RbacClusterAdmin: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b',
};

describe('security: the cluster access log (ARM managedClusters/accessLogs)', { timeout: 90_000 }, () => {
  let k: TestKentra;
  let ca: Buffer;
  let uid: string;
  let webhookClient: ClientCertificate;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const tokens: Record<string, string> = {};
  const sub = () => `/subscriptions/${k.endpoints.subscriptionId}`;
  const c1 = () => `${sub()}/resourceGroups/rg1/providers/${MC}/c1`;
  const request = (method: string, path: string, bearer: string, body?: unknown): Promise<HttpResponse> => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return requestAsWritten(k.endpoints.armEndpoint, {
      method,
      path,
      agent,
      ca,
      body: data,
      headers: { authorization: `Bearer ${bearer}`, ...(data ? { 'content-type': 'application/json' } : {}) },
    });
  };
  const logs = (who: string, cluster = c1(), query = `api-version=${API}`) =>
    request('GET', `${cluster}/accessLogs?${query}`, tokens[who]!);
  const armError = (res: HttpResponse, status: number, code: string, message?: RegExp) => {
    assert.equal(res.status, status, res.text);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.equal(body.error.code, code, res.text);
    assert.equal(typeof body.error.message, 'string');
    if (message) assert.match(body.error.message, message);
  };
  const count = async () => {
    const res = await logs('owner', c1(), `api-version=${API}&$top=1000`);
    assert.equal(res.status, 200, res.text);
    return res.json().value.length as number;
  };
  /** The cluster's built-in API as kubectl calls it, with this bearer token. */
  const clusterApi = (bearer: string) =>
    requestAsWritten(k.endpoints.authority, {
      method: 'GET',
      path: `/clusters/${uid}/api/v1/namespaces/default/pods`,
      ca,
      headers: { authorization: `Bearer ${bearer}` },
    });

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0'] });
    ca = readFileSync(k.endpoints.caFile);
    const token = async (tenant: string, scope: string, fields: Record<string, string>) => {
      const res = await postForm(`${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`, { scope, ...fields }, k.endpoints.caFile);
      assert.equal(res.status, 200, res.text);
      return res.json().access_token as string;
    };
    const armScope = 'https://management.azure.com/.default';
    tokens.owner = await token(k.endpoints.tenantId, armScope, {
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
    });
    const ropc = (user: string, domain = D, tenant = k.endpoints.tenantId) =>
      token(tenant, armScope, {
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        grant_type: 'password',
        username: `${user}@${domain}`,
        password: pw(user),
      });
    for (const u of ['reader', 'clusteruser', 'rbacadmin', 'dave']) tokens[u] = await ropc(u);
    tokens.carol = await ropc('carol', OTHER, OTHER);
    const made = await clusterWithWebhookClient(
      k,
      (method, path, body) => request(method, `${sub()}${path}?api-version=${API}`, tokens.owner!, body),
      ADMINS,
    );
    uid = made.uid;
    webhookClient = made.webhookClient;
    const assign = async (role: string, principalId: string, name: string) => {
      const res = await request(
        'PUT',
        `${c1()}/providers/Microsoft.Authorization/roleAssignments/${T}${name}?api-version=2022-04-01`,
        tokens.owner!,
        {
          properties: { roleDefinitionId: `${sub()}/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId },
        },
      );
      assert.equal(res.status, 201, res.text);
    };
    await assign(ROLES.Reader, READER, '0000000000c1');
    await assign(ROLES.ClusterUser, CLUSTER_USER, '0000000000c2');
    await assign(ROLES.RbacClusterAdmin, RBAC_ADMIN, '0000000000c3');
    // The same names elsewhere: rg1/c1 in subscription S2 (dave's) and in the other tenant's SB (carol's).
    for (const [who, s] of [
      ['dave', S2],
      ['carol', SB],
    ] as const) {
      const rg = await request('PUT', `/subscriptions/${s}/resourceGroups/rg1?api-version=2021-04-01`, tokens[who]!, {
        location: 'eastus',
      });
      assert.equal(rg.status, 201, rg.text);
    }
  });
  after(async () => {
    await k?.close();
    agent.destroy();
  });

  it('needs Microsoft.Insights/logs/AKSAudit/read at the cluster: a Reader of it may; the AKS credential and RBAC roles and an Owner elsewhere may not', async () => {
    assert.equal((await logs('owner')).status, 200);
    const reader = await logs('reader');
    assert.equal(reader.status, 200, reader.text);
    assert.ok(Array.isArray(reader.json().value));
    for (const who of ['clusteruser', 'rbacadmin', 'dave'])
      armError(
        await logs(who),
        403,
        'AuthorizationFailed',
        /perform action 'Microsoft\.Insights\/logs\/AKSAudit\/read' over scope '.*\/managedClusters\/c1'/,
      );
  });

  it("another subscription's or tenant's cluster path is a 404, and never this cluster's log", async () => {
    // Dave owns S2, which has a resource group rg1 but no cluster c1: ResourceNotFound (c1 of the first subscription is not found through S2).
    armError(await logs('dave', `/subscriptions/${S2}/resourceGroups/rg1/providers/${MC}/c1`), 404, 'ResourceNotFound');
    armError(await logs('dave', `/subscriptions/${S2}/resourceGroups/nope/providers/${MC}/c1`), 404, 'ResourceGroupNotFound');
    // Carol's tenant: this tenant's subscription does not exist for her, nor hers for this tenant's owner.
    armError(await logs('carol'), 404, 'SubscriptionNotFound');
    armError(await logs('owner', `/subscriptions/${SB}/resourceGroups/rg1/providers/${MC}/c1`), 404, 'SubscriptionNotFound');
    armError(await logs('carol', `/subscriptions/${SB}/resourceGroups/rg1/providers/${MC}/c1`), 404, 'ResourceNotFound');
  });

  it('holds no token, password or secret in any entry, even when the bearer token was bad', async () => {
    const bob = tokens.reader!; // an ARM token: not for the cluster (wrong audience)
    const [h, p, s] = bob.split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -8)}AAAAAAAA`;
    const garbage = `not-a-jwt-${k.endpoints.servicePrincipal.secret}`;
    const password = pw('reader');
    for (const bearer of [bob, tampered, garbage, `eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.${password}`]) {
      const res = await clusterApi(bearer);
      assert.equal(res.status, 401, res.text);
    }
    for (const bearer of [tampered, garbage]) {
      const tr = await postJson(
        `${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`,
        tokenReview(bearer),
        ca.toString(),
        webhookClient,
      );
      assert.equal(tr.json.status.authenticated, false);
    }
    const deadline = Date.now() + 10_000;
    let value: { kind: string; source: string; decision: string; reason: string; user: string }[] = [];
    while (Date.now() < deadline) {
      value = (await logs('owner', c1(), `api-version=${API}&$top=1000`)).json().value;
      if (
        value.filter((e) => e.kind === 'authentication' && e.source === 'webhook').length >= 2 &&
        value.filter((e) => e.source === 'builtInApi').length >= 4
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const failures = value.filter((e) => e.kind === 'authentication' && e.decision !== 'allowed');
    assert.ok(failures.length >= 6, JSON.stringify(value, null, 1));
    assert.ok(failures.every((e) => e.user === ''));
    assert.ok(
      failures.some((e) => /expected audience/.test(e.reason)),
      'the refusal reason is kept',
    );
    const text = JSON.stringify(value);
    for (const secret of [
      bob,
      tampered,
      garbage,
      s!,
      s!.slice(0, -8),
      p!,
      k.endpoints.servicePrincipal.secret,
      password,
      k.endpoints.admin.password,
    ]) {
      assert.ok(!text.includes(secret), `the log holds no token, signature, password or secret (${secret.slice(0, 12)}…)`);
    }
  });

  it('bad $top, $filter, $skipToken and api-version are ARM 400s and change nothing', async () => {
    const before = await count();
    const q = (extra: string) => `api-version=${API}&${extra}`;
    for (const top of ['0', '1001', 'abc', '-1', '1.5', ''])
      armError(await logs('owner', c1(), q(`$top=${encodeURIComponent(top)}`)), 400, 'InvalidParameter', /\$top/);
    for (const filter of [
      "time eq '2026-01-01T00:00:00Z'",
      'foo eq 1',
      'user eq bob',
      'allowed eq maybe',
      "user eq 'a' and user eq 'b'",
      "user eq 'a' or allowed eq true",
      'time ge 2026-13-45T99:99:99Z',
      "user eq 'x' and",
      `user eq '${'a'.repeat(1200)}'`,
      "user eq 'x'; drop table access_log_segments",
    ])
      armError(await logs('owner', c1(), q(`$filter=${encodeURIComponent(filter)}`)), 400, 'InvalidFilter', /\$filter/);
    // Not tokens this store makes: the form before segments (time.seq), a place past a segment's 200 entries.
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    for (const skip of ['***', 'bm90LWEtY3Vyc29y', b64('1767225600000.42'), b64('1767225600000.42.1000')])
      armError(await logs('owner', c1(), q(`$skipToken=${encodeURIComponent(skip)}`)), 400, 'InvalidParameter', /\$skipToken/);
    armError(await logs('owner', c1(), 'api-version=not-a-version'), 400, 'InvalidApiVersionParameter');
    armError(await logs('owner', c1(), 'api-version=2019-01-01'), 400, 'NoRegisteredProviderFound');
    armError(await logs('owner', c1(), ''), 400, 'MissingApiVersionParameter');
    armError(await request('GET', `${c1()}/accessLogs?api-version=${API}`, 'not-a-token'), 401, 'InvalidAuthenticationToken');
    assert.equal(await count(), before, 'nothing was added or removed');
    const ok = await logs(
      'owner',
      c1(),
      q(`$filter=${encodeURIComponent("allowed eq false and time ge 2020-01-01T00:00:00Z and user eq ''")}&$top=5`),
    );
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.json().value.every((e: { allowed: boolean; user: string }) => !e.allowed && e.user === ''));
    // A well-formed skip token the caller made up (newer than every entry, any segment): this cluster's
    // page as without it, nothing of another segment's cluster.
    const first = await logs('owner', c1());
    const forged = await logs('owner', c1(), q(`$skipToken=${b64(`${Date.now() + 86_400_000}.999999999999.199`)}`));
    assert.equal(forged.status, 200, forged.text);
    assert.deepEqual(forged.json().value, first.json().value);
  });
});
