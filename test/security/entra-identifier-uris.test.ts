import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type CertificateAndKey } from '../../src/pki/index.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { postJson, tokenReview } from '../support/webhook-client.js';

// Entra's rules for what an application may register (reference/security.md §1 and §2), attacked the
// way a plain member of the tenant would: through Microsoft Graph with his own token, then the token
// endpoint, then the resource (Graph, ARM, a cluster's TokenReview webhook) with what he obtained.

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const ARM_APP = '797f4846-ba00-4fd7-ba43-dac1f8f63013';
const GRAPH_APP = '00000003-0000-0000-c000-000000000000';
const D = 'kentra.onmicrosoft.com';
const ADMINS = '99999999-0000-4000-8000-0000000000a1';
/** A second tenant whose seed file (from before the rule) gave apps look-alike URIs of first-party resources. */
const LEGACY = '99999999-9999-4999-8999-999999999999';
const LD = 'legacy.onmicrosoft.com';
const HIJACK_SCOPES = [{ value: 'Directory.AccessAsUser.All', type: 'User' }];

// In the second tenant, apps already hold look-alike URIs of first-party resources (as a seed file
// from before the rule could hold them): they must never capture a first-party scope.
const SEED = `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: mallory@${D}, password: 'Mallory-Passw0rd!' }
      - { userPrincipalName: gadmin@${D}, password: 'Gadmin-Passw0rd!', directoryRoles: [Global Administrator] }
    groups:
      - { displayName: admins, id: ${ADMINS}, members: [mallory@${D}] }
    applications:
      - displayName: legacy-slash
        appId: 99999999-0000-4000-8000-0000000000c4
        identifierUris: ['api://legacy-slash/']
  - id: ${LEGACY}
    domain: ${LD}
    users:
      - { userPrincipalName: eve@${LD}, password: 'Eve-Passw0rd!' }
    applications:
      - displayName: legacy-graph-lookalike
        appId: 99999999-0000-4000-8000-0000000000c1
        identifierUris: ['https://graph.microsoft.com/']
        isFallbackPublicClient: true
        scopes: [{ value: Directory.AccessAsUser.All }]
      - displayName: legacy-arm-lookalike
        appId: 99999999-0000-4000-8000-0000000000c2
        identifierUris: ['https://management.azure.com']
        isFallbackPublicClient: true
        scopes: [{ value: user_impersonation }]
      - displayName: legacy-aks-lookalike
        appId: 99999999-0000-4000-8000-0000000000c3
        identifierUris: ['https://${AKS_SERVER}/']
        isFallbackPublicClient: true
        scopes: [{ value: user.read }]
`;

const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

describe('Entra application registration rules (reference/security.md §1, §2)', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let tid: string;
  let mallory: string;
  let uid: string;
  let webhookClient: CertificateAndKey;

  const token = (fields: Record<string, string>, tenant = tid) =>
    postForm(`${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
  const legacyRopc = (clientId: string, scope: string) =>
    token({ client_id: clientId, grant_type: 'password', username: `eve@${LD}`, password: 'Eve-Passw0rd!', scope }, LEGACY);
  const ropc = (clientId: string, who: 'mallory' | 'gadmin', scope: string) =>
    token({
      client_id: clientId,
      grant_type: 'password',
      username: `${who}@${D}`,
      password: who === 'mallory' ? 'Mallory-Passw0rd!' : 'Gadmin-Passw0rd!',
      scope,
    });
  const call = (url: string, bearer: string, method = 'GET', body?: unknown): Promise<HttpResponse> =>
    httpsFetch(url, {
      method,
      caFile: k.endpoints.caFile,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    });
  const graph = (method: string, path: string, body?: unknown, bearer = mallory) =>
    call(`${k.endpoints.authority}/v1.0${path}`, bearer, method, body);
  const assertGraphError = (res: HttpResponse, status: number, code: string, message?: RegExp) => {
    assert.equal(res.status, status, res.text);
    const e = res.json().error;
    assert.equal(e.code, code, res.text);
    assert.ok(e.innerError?.['request-id'], 'a Graph error carries innerError');
    if (message) assert.match(e.message, message);
  };
  let n = 0;
  const createApp = (body: Record<string, unknown>) => graph('POST', '/applications', { displayName: `app-${++n}`, ...body });

  /**
   * The attack of issue 12 finding 1, step by step as a plain member: register an app claiming the
   * resource's URI with a delegated scope, make it a fallback public client, create its service
   * principal, get a token by ROPC for `<uri>/.default`, present it to the resource. Returns how far it got.
   */
  const hijack = async (uri: string, signIn: 'mallory' | 'gadmin', useToken: (accessToken: string) => Promise<HttpResponse>) => {
    const created = await createApp({
      identifierUris: [uri],
      isFallbackPublicClient: true,
      api: { oauth2PermissionScopes: HIJACK_SCOPES },
    });
    if (created.status !== 201) return { created };
    const sp = await graph('POST', '/servicePrincipals', { appId: created.json().appId });
    assert.equal(sp.status, 201, sp.text);
    const scope = `${uri}/.default`; // `https://graph.microsoft.com/` + `/.default`: the double slash of a URI ending in one
    const issued = await ropc(created.json().appId, signIn, scope);
    if (issued.status !== 200) return { created, issued };
    const accessToken = issued.json().access_token as string;
    return { created, issued, claims: claimsOf(accessToken), used: await useToken(accessToken) };
  };
  const describeOutcome = (r: Awaited<ReturnType<typeof hijack>>) =>
    `the hijack went through: app ${r.created.status}, token ${r.issued?.status} (aud ${r.claims?.aud}, scp ${r.claims?.scp}), resource answered ${r.used?.status} ${r.used?.text.slice(0, 200)}`;

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0'] });
    tid = k.endpoints.tenantId;
    const m = await ropc(AZURE_CLI, 'mallory', 'https://graph.microsoft.com/.default');
    assert.equal(m.status, 200, m.text);
    mallory = m.json().access_token;
    // A managed-Entra cluster whose admin group mallory is in: a TokenReview that passes names him.
    const owner = (
      await token({
        client_id: k.endpoints.servicePrincipal.appId,
        client_secret: k.endpoints.servicePrincipal.secret,
        grant_type: 'client_credentials',
        scope: 'https://management.azure.com/.default',
      })
    ).json().access_token as string;
    const arm = (method: string, path: string, body?: unknown) =>
      call(`${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}${path}?api-version=2022-11-01`, owner, method, body);
    ({ uid, webhookClient } = await clusterWithWebhookClient(k, arm, ADMINS));
  });
  after(async () => k?.close());

  describe('§1.7 first-party identifier URIs are reserved (issue 12 finding 1: resource identifier hijack)', () => {
    it("Entra §1.7: a member cannot claim Graph's URI 'https://graph.microsoft.com/' and have an administrator's token for it create a user", async () => {
      const r = await hijack('https://graph.microsoft.com/', 'gadmin', (t) =>
        graph(
          'POST',
          '/users',
          {
            accountEnabled: true,
            displayName: 'planted',
            mailNickname: 'planted',
            userPrincipalName: `planted@${D}`,
            passwordProfile: { password: 'Planted-Passw0rd!', forceChangePasswordNextSignIn: false },
          },
          t,
        ),
      );
      assert.equal(r.used, undefined, describeOutcome(r));
      assertGraphError(
        r.created,
        400,
        'IdentifierUriValueIsReserved',
        /^Application alias 'https:\/\/graph\.microsoft\.com\/' value is invalid\./,
      );
      const planted = await graph('GET', `/users/planted@${D}`);
      assert.equal(planted.status, 404, 'no user was created');
    });

    it("Entra §1.7: a member cannot claim ARM's URI 'https://management.azure.com' and list subscriptions with the token", async () => {
      const r = await hijack('https://management.azure.com', 'mallory', (t) =>
        call(`${k.endpoints.armEndpoint}subscriptions?api-version=2022-12-01`, t),
      );
      assert.equal(r.used, undefined, describeOutcome(r));
      assertGraphError(r.created, 400, 'IdentifierUriValueIsReserved', /value is invalid/);
    });

    it("Entra §1.7: a member cannot claim the AKS server app's URI 'https://6dae42f8-…/' and pass a cluster's TokenReview", async () => {
      const r = await hijack(`https://${AKS_SERVER}/`, 'mallory', async (t) => {
        const review = await postJson(
          `${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`,
          tokenReview(t),
          readFileSync(k.endpoints.caFile, 'utf8'),
          webhookClient,
        );
        return {
          status: review.json?.status?.authenticated ? 200 : 401,
          headers: {},
          text: JSON.stringify(review.json),
          json: () => review.json,
        };
      });
      assert.equal(r.used, undefined, describeOutcome(r));
      assertGraphError(r.created, 400, 'IdentifierUriValueIsReserved');
    });

    it("Entra §1.7: every first-party URI and appId, in any case or slash form, and Kentra's own host are reserved at create and PATCH", async () => {
      const own = new URL(k.endpoints.authority).origin;
      for (const uri of [
        'https://graph.microsoft.com',
        'HTTPS://Graph.Microsoft.com',
        'https://management.azure.com',
        'https://management.core.windows.net',
        `https://${AKS_SERVER}`,
        `https://${ARM_APP}`,
        `api://${GRAPH_APP}`.replace('api://', 'https://'),
        'https://6256c85f-0aad-4d50-b960-e6e9b21efe35',
        own,
        `${own}/graph`,
      ]) {
        assertGraphError(
          await createApp({ identifierUris: [uri] }),
          400,
          'IdentifierUriValueIsReserved',
          new RegExp(`^Application alias '${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' value is invalid\\.`),
        );
      }
      const plain = await createApp({});
      assert.equal(plain.status, 201, plain.text);
      assertGraphError(
        await graph('PATCH', `/applications/${plain.json().id}`, { identifierUris: ['https://management.core.windows.net'] }),
        400,
        'IdentifierUriValueIsReserved',
      );
      assert.deepEqual(
        (await graph('GET', `/applications/${plain.json().id}`)).json().identifierUris,
        [],
        'a refused PATCH changes nothing',
      );
    });
  });

  describe('§1.8 a scope resolves to exactly one resource; first-party resources first', () => {
    it("Entra §1.8: an app already holding 'https://graph.microsoft.com/' does not capture 'https://graph.microsoft.com//.default'", async () => {
      const res = await legacyRopc('99999999-0000-4000-8000-0000000000c1', 'https://graph.microsoft.com//.default');
      assert.equal(
        res.status,
        400,
        `a token was issued: ${res.status === 200 ? JSON.stringify(claimsOf(res.json().access_token)) : res.text}`,
      );
      assert.equal(res.json().error, 'invalid_grant');
      assert.match(res.json().error_description, /^AADSTS65001: /);
    });

    it("Entra §1.8: an app already holding 'https://management.azure.com' does not capture 'https://management.azure.com/.default'", async () => {
      const res = await legacyRopc('99999999-0000-4000-8000-0000000000c2', 'https://management.azure.com/.default');
      assert.equal(
        res.status,
        400,
        `a token was issued: ${res.status === 200 ? JSON.stringify(claimsOf(res.json().access_token)) : res.text}`,
      );
      assert.equal(res.json().error, 'invalid_grant');
    });

    it("Entra §1.8: an app already holding 'https://6dae42f8-…/' does not capture the AKS server app's scope", async () => {
      const res = await legacyRopc('99999999-0000-4000-8000-0000000000c3', `https://${AKS_SERVER}//.default`);
      assert.equal(
        res.status,
        400,
        `a token was issued: ${res.status === 200 ? JSON.stringify(claimsOf(res.json().access_token)) : res.text}`,
      );
    });

    it('Entra §1.8: beside those apps, the Azure CLI still gets Graph, ARM and AKS tokens by every URI form', async () => {
      for (const [scope, appId] of [
        ['https://graph.microsoft.com/.default', GRAPH_APP],
        ['https://graph.microsoft.com//.default', GRAPH_APP],
        ['https://management.azure.com//.default', ARM_APP],
        ['https://management.azure.com/.default', ARM_APP],
        ['https://management.core.windows.net//.default', ARM_APP],
        [`${AKS_SERVER}/.default`, AKS_SERVER],
        [`https://${AKS_SERVER}/.default`, AKS_SERVER],
      ] as const) {
        const res = await legacyRopc(AZURE_CLI, scope);
        assert.equal(res.status, 200, `${scope}: ${res.text}`);
        const c = claimsOf(res.json().access_token);
        assert.ok(
          !/99999999-0000-4000-8000-0000000000c/.test(JSON.stringify(c)),
          `${scope} resolved to a tenant app: ${JSON.stringify(c)}`,
        );
        const arm = await call(`${k.endpoints.armEndpoint}subscriptions?api-version=2022-12-01`, res.json().access_token);
        assert.equal(arm.status === 200, appId === ARM_APP, `${scope}: ARM answered ${arm.status}`);
      }
    });
  });

  describe('§1.2/§1.6 identifier URI format and uniqueness', () => {
    it('Entra §1.6: identifier URIs are unique in the tenant, compared case-insensitively and ignoring a trailing slash', async () => {
      const first = await createApp({ identifierUris: ['api://orders-api'] });
      assert.equal(first.status, 201, first.text);
      for (const uri of ['api://orders-api', 'API://Orders-API', 'api://legacy-slash']) {
        assertGraphError(
          await createApp({ identifierUris: [uri] }),
          400,
          'ObjectConflict',
          /^Another object with the same value for property identifierUris already exists\.$/,
        );
      }
      const other = await createApp({});
      assertGraphError(
        await graph('PATCH', `/applications/${other.json().id}`, { identifierUris: ['API://ORDERS-API'] }),
        400,
        'ObjectConflict',
      );
      // The owner may keep or re-case its own URI.
      assert.equal(
        (await graph('PATCH', `/applications/${first.json().id}`, { identifierUris: ['api://Orders-Api', 'api://orders-api/v2'] })).status,
        204,
      );
    });

    it("Entra §1.2: an identifier URI must not end with '/'", async () => {
      for (const uri of ['api://inventory/', 'https://contoso.example/api/']) {
        assertGraphError(
          await createApp({ identifierUris: [uri] }),
          400,
          'IdentifierUrisEndsWithSlash',
          new RegExp(`^Application alias '${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' value is invalid\\.`),
        );
      }
    });

    it("Entra §1.2: the GUID of api://<GUID> must be the app's own appId or the tenant id", async () => {
      const a = await createApp({});
      const { id, appId } = a.json();
      assertGraphError(
        await graph('PATCH', `/applications/${id}`, { identifierUris: ['api://5d2c3a5e-1b7f-4f1e-9a8b-3c2d1e0f9a8b'] }),
        400,
        'Request_BadRequest',
        /value is invalid/,
      );
      assertGraphError(
        await graph('PATCH', `/applications/${id}`, { identifierUris: [`api://${AZURE_CLI}`] }),
        400,
        'IdentifierUriValueIsReserved',
      );
      assert.equal(
        (
          await graph('PATCH', `/applications/${id}`, {
            identifierUris: [`api://${appId}`, `api://${tid}/${appId}`, `api://${tid}/orders`],
          })
        ).status,
        204,
      );
      assert.deepEqual((await graph('GET', `/applications/${id}`)).json().identifierUris, [
        `api://${appId}`,
        `api://${tid}/${appId}`,
        `api://${tid}/orders`,
      ]);
    });
  });

  describe('§2 redirect URIs at registration (issue 12 finding 7; RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.6)', () => {
    const refused = [
      'javascript:alert(document.domain)',
      'JavaScript://%0aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'https://user:pw@app.example/cb',
      'https://app.example/cb#frag',
      '/relative/cb',
      'app.example/cb',
      `https://app.example/${'a'.repeat(250)}`,
    ];

    for (const platform of ['web', 'spa', 'publicClient'] as const) {
      it(`RFC 6749 §3.1.2: dangerous, fragment, userinfo, relative or over-long redirect URIs are refused on ${platform} at create and PATCH`, async () => {
        for (const uri of refused) {
          const res = await createApp({ [platform]: { redirectUris: [uri] } });
          assertGraphError(
            res,
            400,
            'Request_BadRequest',
            new RegExp(`^Invalid value specified for property '${platform}' of resource 'Application'\\.`),
          );
        }
        const a = await createApp({});
        assertGraphError(
          await graph('PATCH', `/applications/${a.json().id}`, {
            [platform]: { redirectUris: ['https://ok.example/cb', 'javascript:alert(1)'] },
          }),
          400,
          'Request_BadRequest',
        );
        const after = (await graph('GET', `/applications/${a.json().id}`)).json();
        assert.deepEqual(after[platform].redirectUris, [], 'a refused PATCH changes nothing');
      });
    }

    it('RFC 9700 §2.6: web and spa redirect URIs are https, or http only on a loopback host', async () => {
      for (const platform of ['web', 'spa']) {
        for (const uri of [
          'http://app.example/cb',
          'http://localhost.evil.example/cb',
          'http://127.0.0.1.nip.io/cb',
          'com.example.app:/cb',
          'ms-appx-web://microsoft.aad.brokerplugin/x',
        ]) {
          assertGraphError(
            await createApp({ [platform]: { redirectUris: [uri] } }),
            400,
            'Request_BadRequest',
            /Invalid value specified for property/,
          );
        }
        const ok = await createApp({
          [platform]: {
            redirectUris: [
              'https://app.example/cb',
              'http://localhost',
              'http://localhost:3000/cb',
              'http://127.0.0.1:8400/',
              'http://[::1]/cb',
            ],
          },
        });
        assert.equal(ok.status, 201, ok.text);
      }
    });

    it('RFC 8252 §7: public clients may also use a private-use scheme with a dot, and the native forms Microsoft documents', async () => {
      const ok = await createApp({
        isFallbackPublicClient: true,
        publicClient: {
          redirectUris: [
            'http://localhost',
            'https://login.microsoftonline.com/common/oauth2/nativeclient',
            'com.example.app:/oauth2redirect',
            'msauth.com.example.app://auth',
            'urn:ietf:wg:oauth:2.0:oob',
            `ms-appx-web://microsoft.aad.brokerplugin/${AZURE_CLI}`,
            `msal${AZURE_CLI}://auth`,
            'https://myaksclusterClient',
          ],
        },
      });
      assert.equal(ok.status, 201, ok.text);
      for (const uri of ['myapp://callback', 'http://app.example/cb']) {
        assertGraphError(
          await createApp({ publicClient: { redirectUris: [uri] } }),
          400,
          'Request_BadRequest',
          /Invalid value specified for property 'publicClient'/,
        );
      }
    });

    it('Entra §2.1: at most 256 redirect URIs', async () => {
      const many = Array.from({ length: 257 }, (_, i) => `https://app.example/cb/${i}`);
      assertGraphError(await createApp({ web: { redirectUris: many } }), 400, 'Request_BadRequest', /256/);
      assert.equal((await createApp({ web: { redirectUris: many.slice(0, 256) } })).status, 201);
    });
  });
});
