import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { storeMatrix } from '../support/postgres.js';
import { postForm, httpsFetch, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { clientCertificateOf, type ClientCertificate } from '../support/webhook-client.js';
import { parse } from 'yaml';

// Property-based fuzzing of every request parser and endpoint family Kentra serves (issue 12, issue 16):
// OAuth form posts and queries, Graph and ARM JSON bodies and OData queries, TokenReview and
// SubjectAccessReview bodies, the cluster API, raw bytes that are not UTF-8 and bodies that are not JSON.
// What must hold: no 5xx, the server alive and healthy after, and nothing stored from a refused request.
// A bounded run in CI (FUZZ_REQUESTS per store, default 3000); `npm run fuzz` runs 100,000 per store.

const TOTAL = Number(process.env.FUZZ_REQUESTS ?? 3000);
const CONCURRENCY = 16;
const API = 'api-version=2022-11-01';

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
}
interface Answer {
  status: number;
  text: string;
}

// ---- generators ------------------------------------------------------------------------------

/** Strings an attacker tries: anything, control characters, NUL, CR/LF, lone surrogates, huge, and Kentra's own names. */
function nasty(known: string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({
      unit: fc.constantFrom(
        '\u0000',
        '\r',
        '\n',
        '%',
        '/',
        '\\',
        '"',
        "'",
        '<',
        '>',
        '(',
        ')',
        '$',
        '{',
        '}',
        '\ud800',
        '\udfff',
        'é',
        '.',
        ':',
        ' ',
      ),
    }),
    fc.constantFrom(
      '',
      '\u0000',
      'a\u0000b',
      'x\r\nLocation: https://evil.example/',
      'javascript:alert(1)',
      'https://evil.example/',
      '../../etc/passwd',
      'https://graph.microsoft.com/.default',
      'https://management.azure.com//.default',
      '00000003-0000-0000-c000-000000000000',
      'common',
      'organizations',
      'a'.repeat(70_000),
      '('.repeat(5000),
      '{'.repeat(5000),
      '[[[[[[[[',
      '%00',
      '%ZZ',
      '\ud800',
      ...known,
    ),
    fc.uuid(),
  );
}

/** Any JSON value, with the property names the endpoint reads so that its validators are reached. */
function jsonBody(keys: string[], known: string[] = []): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(nasty(known), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
  const value = fc.oneof(
    leaf,
    fc.array(leaf, { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...keys, 'x'), leaf, { maxKeys: 4 }),
    fc.jsonValue({ maxDepth: 3 }),
    fc.array(fc.constant(null), { maxLength: 3 }),
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: keys.length }) },
    { weight: 1, arbitrary: fc.jsonValue() },
    { weight: 1, arbitrary: fc.constant(JSON.parse(`${'['.repeat(3000)}${']'.repeat(3000)}`)) },
  );
}

/** A body that is not what the content type says: bytes that are not UTF-8, truncated JSON, a huge number. */
const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    Buffer.from('{"a":'),
    Buffer.from('1e999999'),
    Buffer.from('{"__proto__":{"admin":true}}'),
    Buffer.from('{"constructor":{"prototype":{"x":1}}}'),
    Buffer.from('\u0000'),
  ),
);

const form = (names: string[], known: string[]) =>
  fc.dictionary(fc.constantFrom(...names), nasty(known), { maxKeys: names.length }).map((f) => new URLSearchParams(f).toString());
const query = (names: string[], known: string[]) => form(names, known);

// ---- driving ---------------------------------------------------------------------------------

function send(k: TestKentra, agent: Agent, r: Sent, cert?: ClientCertificate): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(k.endpoints.authority);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: r.path,
        method: r.method,
        headers: r.headers,
        agent: cert ? undefined : agent,
        ca: readCa(k),
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 400) }));
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}
const caCache = new Map<string, Buffer>();
const readCa = (k: TestKentra) =>
  caCache.get(k.endpoints.caFile) ?? caCache.set(k.endpoints.caFile, readFileSync(k.endpoints.caFile)).get(k.endpoints.caFile)!;

/** A path segment as a client would put it in a URL (percent-encoded, so NUL and slashes reach the router). */
const seg = (s: string) => encodeSegment(s).slice(0, 2000);

/** encodeURIComponent, except that a lone surrogate goes out as the bytes a careless client sends for it (not UTF-8). */
function encodeSegment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((c) => {
        try {
          return encodeURIComponent(c);
        } catch {
          const u = c.charCodeAt(0);
          return `%${(0xe0 | (u >> 12)).toString(16).toUpperCase()}%${(0x80 | ((u >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (u & 0x3f)).toString(16).toUpperCase()}`;
        }
      })
      .join('');
  }
}

interface Family {
  name: string;
  weight: number;
  requests: fc.Arbitrary<Sent>;
  cert?: ClientCertificate;
  creates?: boolean;
}

describe('Fuzzing every endpoint family (issue 12, issue 16)', { timeout: 1_800_000 }, () => {
  const stores = storeMatrix(after);
  for (const store of stores) {
    it(`${store.name}: ${TOTAL} fuzzed requests, no 5xx, the server alive after, nothing stored from a refused request`, async () => {
      const k = await startTestKentra({
        store: store.url ? await store.url() : undefined,
        extraArgs: ['--provisioning-delay', '0', '--log-level', 'warn'],
      });
      try {
        await fuzz(k, store.name);
      } finally {
        await k.close();
      }
    });
  }
});

async function fuzz(k: TestKentra, storeName: string): Promise<void> {
  const e = k.endpoints;
  const tokenUrl = `${e.authority}/${e.tenantId}/oauth2/v2.0/token`;
  const tok = async (fields: Record<string, string>) => {
    const res = await postForm(tokenUrl, fields, e.caFile);
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const armToken = await tok({
    grant_type: 'client_credentials',
    client_id: e.servicePrincipal.appId,
    client_secret: e.servicePrincipal.secret,
    scope: 'https://management.azure.com/.default',
  });
  const graphToken = await tok({
    grant_type: 'password',
    client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
    username: e.admin.userPrincipalName,
    password: e.admin.password,
    scope: 'https://graph.microsoft.com/.default',
  });
  const sub = `/subscriptions/${e.subscriptionId}`;
  const arm = (method: string, path: string, body?: unknown) =>
    httpsFetch(`${e.armEndpoint.replace(/\/$/, '')}${sub}${path}?${API}`, {
      method,
      caFile: e.caFile,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${armToken}`, 'content-type': 'application/json' },
    });
  assert.equal((await arm('PUT', '/resourcegroups/fuzz', { location: 'eastus' })).status, 201);
  const made = await arm('PUT', '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/c1', {
    location: 'eastus',
    properties: {
      dnsPrefix: 'c1',
      agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
      aadProfile: { managed: true, enableAzureRBAC: true },
    },
  });
  assert.equal(made.status, 201, made.text);
  const cluster = (await arm('GET', '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/c1')).json();
  const hooks = (
    await arm('POST', '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/c1/listWebhookCredential')
  ).json();
  const webhookKubeconfig = parse(Buffer.from(hooks.kubeconfigs[0].value, 'base64').toString());
  const cert = clientCertificateOf(webhookKubeconfig);
  const uid = new URL(webhookKubeconfig.clusters[0].cluster.server).pathname.split('/')[2]!;
  const known = [
    e.tenantId,
    e.tenantDomain,
    e.subscriptionId,
    e.servicePrincipal.appId,
    e.admin.objectId,
    e.admin.userPrincipalName,
    uid,
    String(cluster.id),
  ];

  const json = (token: string | null) => ({ 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) });
  const withBody = (method: string, path: string, headers: Record<string, string>, keys: string[]) =>
    fc.oneof(
      { weight: 5, arbitrary: jsonBody(keys, known).map((b): Sent => ({ method, path, headers, body: JSON.stringify(b) })) },
      { weight: 1, arbitrary: rawBody.map((b): Sent => ({ method, path, headers, body: b })) },
    );
  const tenantSeg = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(e.tenantId, e.tenantDomain, 'organizations', 'common', 'adfs') },
    { weight: 1, arbitrary: nasty(known) },
  );
  const graphUserKeys = [
    'displayName',
    'mailNickname',
    'userPrincipalName',
    'accountEnabled',
    'passwordProfile',
    'givenName',
    'mail',
    'otherMails',
    'id',
    'members@odata.bind',
    'owners@odata.bind',
    'securityEnabled',
    'mailEnabled',
    'groupTypes',
    'identifierUris',
    'web',
    'spa',
    'publicClient',
    'isFallbackPublicClient',
    'api',
    'appId',
    'requiredResourceAccess',
    'appRoles',
    'signInAudience',
    'passwordCredential',
    'keyCredentials',
    '@odata.id',
    'securityEnabledOnly',
    'groupIds',
    'principalId',
    'resourceId',
    'appRoleId',
    'clientId',
    'consentType',
    'scope',
  ];
  const armKeys = [
    'location',
    'properties',
    'tags',
    'identity',
    'sku',
    'name',
    'id',
    'type',
    'kubernetesVersion',
    'dnsPrefix',
    'agentPoolProfiles',
    'aadProfile',
    'enableRBAC',
    'disableLocalAccounts',
    'roleDefinitionId',
    'principalId',
    'principalType',
    'scope',
    'apiServerAccessProfile',
    'networkProfile',
    'linuxProfile',
    'servicePrincipalProfile',
    'action',
    'actions',
    'resource',
    'namespace',
  ];
  const kubeKeys = [
    'apiVersion',
    'kind',
    'spec',
    'metadata',
    'status',
    'token',
    'audiences',
    'user',
    'groups',
    'uid',
    'extra',
    'resourceAttributes',
    'nonResourceAttributes',
    'verb',
    'resource',
    'namespace',
    'name',
    'group',
    'path',
  ];
  const oauthFields = [
    'grant_type',
    'client_id',
    'client_secret',
    'scope',
    'resource',
    'code',
    'redirect_uri',
    'code_verifier',
    'username',
    'password',
    'refresh_token',
    'assertion',
    'client_assertion',
    'client_assertion_type',
    'device_code',
    'requested_token_use',
    'claims',
    'client_info',
    'tenant',
  ];
  const authorizeFields = [
    'client_id',
    'response_type',
    'redirect_uri',
    'scope',
    'state',
    'nonce',
    'code_challenge',
    'code_challenge_method',
    'response_mode',
    'prompt',
    'login_hint',
    'domain_hint',
    'claims',
    'max_age',
  ];
  const graphCollections = [
    'users',
    'groups',
    'applications',
    'servicePrincipals',
    'oauth2PermissionGrants',
    'directoryRoles',
    'me',
    'organization',
    'domains',
  ];
  const graphToken_ = fc.constantFrom<string | null>(graphToken, graphToken, graphToken, null, 'x.y.z', `${graphToken.slice(0, -4)}AAAA`);

  const families: Family[] = [
    {
      name: 'OAuth token endpoint (form posts)',
      weight: 6,
      requests: fc
        .tuple(
          tenantSeg,
          fc.constantFrom('oauth2/v2.0/token', 'oauth2/token'),
          fc.oneof(
            form(oauthFields, known),
            rawBody.map((b) => b.toString('latin1')),
          ),
        )
        .map(([t, p, body]): Sent => ({
          method: 'POST',
          path: `/${seg(t)}/${p}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        })),
    },
    {
      name: 'OAuth device code and consent posts',
      weight: 2,
      requests: fc
        .tuple(tenantSeg, fc.constantFrom('oauth2/v2.0/devicecode', 'oauth2/devicecode', 'oauth2/v2.0/consent'), form(oauthFields, known))
        .map(([t, p, body]): Sent => ({
          method: 'POST',
          path: `/${seg(t)}/${p}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        })),
    },
    {
      name: 'OAuth authorize and logout queries',
      weight: 3,
      requests: fc
        .tuple(
          tenantSeg,
          fc.constantFrom('oauth2/v2.0/authorize', 'oauth2/authorize', 'oauth2/v2.0/logout', 'oauth2/logout'),
          query([...authorizeFields, 'post_logout_redirect_uri', 'id_token_hint'], known),
        )
        .map(([t, p, q]): Sent => ({ method: 'GET', path: `/${seg(t)}/${p}?${q}`, headers: {} })),
    },
    {
      name: 'sign-in pages (device login form posts)',
      weight: 2,
      requests: fc
        .tuple(
          fc.constantFrom('/devicelogin', '/devicelogin/signin', '/devicelogin/consent'),
          form(['otc', 'code', 'state', 'login', 'passwd', 'username', 'password', 'decision', 'form'], known),
        )
        .map(([p, body]): Sent => ({ method: 'POST', path: p, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })),
    },
    {
      name: 'discovery and metadata',
      weight: 1,
      requests: fc
        .tuple(
          tenantSeg,
          fc.constantFrom(
            'v2.0/.well-known/openid-configuration',
            '.well-known/openid-configuration',
            'discovery/v2.0/keys',
            'discovery/keys',
          ),
          query(['appid', 'p'], known),
        )
        .map(([t, p, q]): Sent => ({ method: 'GET', path: `/${seg(t)}/${p}?${q}`, headers: {} })),
    },
    {
      name: 'instance discovery, user realm, managed identity, userinfo',
      weight: 1,
      requests: fc
        .tuple(
          fc.constantFrom('/common/discovery/instance?', '/common/userrealm/', '/metadata/identity/oauth2/token?', '/oidc/userinfo?'),
          nasty(known),
          query(['api-version', 'authorization_endpoint', 'resource', 'client_id', 'object_id'], known),
        )
        .map(([p, s, q]): Sent => ({
          method: 'GET',
          path: p.endsWith('/') ? `${p}${seg(s)}?${q}` : `${p}${q}`,
          headers: { metadata: 'true', authorization: `Bearer ${s.slice(0, 200)}` },
        })),
    },
    {
      name: 'Graph writes (JSON bodies)',
      weight: 8,
      creates: true,
      requests: fc
        .tuple(
          fc.constantFrom('POST', 'PATCH'),
          fc.constantFrom(...graphCollections),
          fc.oneof(
            fc.constant(''),
            fc.constantFrom(`/${e.admin.objectId}`, '/me'),
            nasty(known).map((s) => `/${seg(s)}`),
          ),
          fc.constantFrom(
            '',
            '/members/$ref',
            '/owners/$ref',
            '/addPassword',
            '/getMemberGroups',
            '/checkMemberGroups',
            '/appRoleAssignedTo',
            '/getMemberObjects',
          ),
          graphToken_,
        )
        .chain(([m, c, id, action, t]) => withBody(m, `/v1.0/${c}${id}${action}`, json(t), graphUserKeys)),
    },
    {
      name: 'Graph reads (OData queries)',
      weight: 5,
      requests: fc
        .tuple(
          fc.constantFrom(...graphCollections),
          fc.dictionary(
            fc.constantFrom('$filter', '$select', '$top', '$orderby', '$count', '$search', '$expand', '$skiptoken'),
            nasty([
              ...known,
              "displayName eq 'x'",
              "startswith(displayName,'a')",
              "identifierUris/any(u:u eq 'x')",
              '999',
              'id,displayName',
            ]),
            { maxKeys: 4 },
          ),
          graphToken_,
        )
        .map(([c, q, t]): Sent => ({
          method: 'GET',
          path: `/v1.0/${c}?${new URLSearchParams(q).toString()}`,
          headers: t ? { authorization: `Bearer ${t}` } : {},
        })),
    },
    {
      name: 'Graph deletes of unknown objects',
      weight: 1,
      requests: fc
        .tuple(fc.constantFrom(...graphCollections), nasty(known))
        .map(([c, id]): Sent => ({ method: 'DELETE', path: `/v1.0/${c}/${seg(id)}`, headers: { authorization: `Bearer ${graphToken}` } })),
    },
    {
      name: 'ARM writes (JSON bodies)',
      weight: 8,
      creates: true,
      requests: fc
        .tuple(
          fc.constantFrom('PUT', 'PATCH', 'POST'),
          fc.oneof(
            fc.constantFrom(
              '/resourcegroups/',
              '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/',
              '/providers/Microsoft.Authorization/roleAssignments/',
              '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/c1/providers/Microsoft.Authorization/roleAssignments/',
              '/resourceGroups/fuzz/providers/Microsoft.Kubernetes/connectedClusters/',
              '/providers/Microsoft.Features/providers/Microsoft.ContainerService/features/',
            ),
          ),
          fc.oneof(fc.constantFrom('c1', 'fuzz', 'c2', 'AAD-V2'), fc.uuid(), nasty(known)),
          fc.constantFrom(
            '',
            '/listClusterUserCredential',
            '/listClusterAdminCredential',
            '/checkAccess',
            '/register',
            '/start',
            '/runCommand',
          ),
          fc.oneof(
            fc.constantFrom(API, 'api-version=2023-08-01', 'api-version=2022-04-01'),
            nasty(known).map((s) => `api-version=${seg(s)}`),
          ),
        )
        .chain(([m, p, name, action, v]) => withBody(m, `${sub}${p}${seg(name)}${action}?${v}`, json(armToken), armKeys)),
    },
    {
      name: 'ARM reads and deletes',
      weight: 3,
      requests: fc
        .tuple(
          fc.constantFrom('GET', 'DELETE'),
          fc.constantFrom(
            '/resourcegroups/',
            '/resourceGroups/fuzz/providers/Microsoft.ContainerService/managedClusters/',
            '/providers/Microsoft.Authorization/roleAssignments/',
            '/resourceGroups/',
          ),
          nasty(known),
          query(['api-version', '$filter', '$top', '$skiptoken'], [...known, '2022-11-01', "principalId eq 'x'", 'atScope()']),
        )
        .map(([m, p, name, q]): Sent => ({
          method: m,
          path: `${sub}${p}${seg(name)}${m === 'DELETE' && name === 'fuzz' ? 'x' : ''}?${q}`,
          headers: { authorization: `Bearer ${armToken}` },
        })),
    },
    {
      name: 'TokenReview and SubjectAccessReview webhooks (mTLS)',
      weight: 3,
      cert,
      requests: fc
        .tuple(fc.constantFrom('tokenreviews', 'subjectaccessreviews'), fc.oneof(fc.constant(uid), nasty(known)))
        .chain(([hook, u]) => withBody('POST', `/clusters/${seg(u)}/webhooks/${hook}`, { 'content-type': 'application/json' }, kubeKeys)),
    },
    {
      name: 'the built-in cluster API',
      weight: 3,
      requests: fc
        .tuple(
          fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
          fc.constantFrom(
            '/api/v1/namespaces/default/configmaps',
            '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
            '/apis/authentication.k8s.io/v1/selfsubjectreviews',
            '/api/v1/nodes',
            '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
            '/api',
            '/version',
          ),
          nasty(known),
          fc.constantFrom<string | null>(armToken, null, 'garbage'),
        )
        .chain(([m, p, name, t]) => withBody(m, `/clusters/${uid}${p}${m === 'POST' ? '' : `/${seg(name)}`}`, json(t), kubeKeys)),
    },
  ];

  const counts = async () => {
    const res = await httpsFetch(`${e.graphEndpoint}v1.0/users?$top=999`, {
      caFile: e.caFile,
      headers: { authorization: `Bearer ${graphToken}` },
    });
    const groups = await httpsFetch(`${e.graphEndpoint}v1.0/groups?$top=999`, {
      caFile: e.caFile,
      headers: { authorization: `Bearer ${graphToken}` },
    });
    const apps = await httpsFetch(`${e.graphEndpoint}v1.0/applications?$top=999`, {
      caFile: e.caFile,
      headers: { authorization: `Bearer ${graphToken}` },
    });
    const rgs = await arm('GET', '/resourcegroups');
    const clusters = await arm('GET', '/providers/Microsoft.ContainerService/managedClusters');
    const n = (r: HttpResponse) => (r.status === 200 ? (r.json().value as unknown[]).length : -1);
    return { users: n(res), groups: n(groups), applications: n(apps), resourceGroups: n(rgs), clusters: n(clusters) };
  };

  const before = await counts();
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: readCa(k) });
  const totalWeight = families.reduce((a, f) => a + f.weight, 0);
  const failures: string[] = [];
  let sent = 0;
  let fiveXx = 0;
  let accepted = 0;
  const byStatus = new Map<number, number>();
  const started = Date.now();
  for (const family of families) {
    const n = Math.max(20, Math.round((TOTAL * family.weight) / totalWeight));
    const requests = fc.sample(family.requests, { numRuns: n, seed: Number(process.env.FUZZ_SEED ?? 20261205) });
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        let answer: Answer;
        try {
          try {
            answer = await send(k, agent, r, family.cert);
          } catch (err) {
            // A kept-alive socket the server closed after an earlier answer (414, 431) resets when reused:
            // clients retry such a request once on a new connection, and so does this one.
            if (!/ECONNRESET|socket hang up/.test(String(err))) throw err;
            answer = await send(k, new Agent({ keepAlive: false, ca: readCa(k) }), r, family.cert);
          }
        } catch (err) {
          // A request Node's own client refuses to send (an invalid header character) never reached Kentra.
          if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR' || (err as Error).message.includes('Invalid character')) continue;
          answer = { status: 0, text: String(err) };
        }
        sent++;
        byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
        if (family.creates && answer.status >= 200 && answer.status < 300 && r.method !== 'GET') accepted++;
        if (answer.status >= 500 || answer.status === 0) {
          fiveXx++;
          if (failures.length < 10)
            failures.push(
              `${family.name}: ${r.method} ${r.path.slice(0, 300)} ${typeof r.body === 'string' ? r.body.slice(0, 300) : r.body ? `<${r.body.length} bytes>` : ''} → ${answer.status} ${answer.text.slice(0, 200)}`,
            );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }
  agent.destroy();
  const seconds = (Date.now() - started) / 1000;
  const afterCounts = await counts();
  console.log(
    `fuzz (${storeName}): ${sent} requests in ${seconds.toFixed(1)} s, ${fiveXx} answered 5xx, ${accepted} writes accepted; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}`,
  );
  console.log(`fuzz (${storeName}): objects before ${JSON.stringify(before)} after ${JSON.stringify(afterCounts)}`);

  assert.deepEqual(failures, [], `${fiveXx} requests answered 5xx or broke the connection`);
  assert.equal(k.process.exitCode, null, 'the server is still running');
  const health = await httpsFetch(`${e.authority}/healthz`, { caFile: e.caFile });
  assert.equal(health.status, 200);
  assert.doesNotMatch(k.logs(), /Unhandled|uncaughtException|unhandledRejection/);
  // Nothing stored from a refused request: what grew, grew by no more than the writes that were accepted.
  const grown = Object.entries(afterCounts).reduce((a, [key, v]) => a + Math.max(0, v - before[key as keyof typeof before]), 0);
  assert.ok(grown <= accepted, `${grown} objects appeared but only ${accepted} writes were accepted`);
  for (const [key, v] of Object.entries(afterCounts)) assert.ok(v >= 0, `listing ${key} still works`);
}
