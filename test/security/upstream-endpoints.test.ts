import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { signJwt } from '../../src/identity/index.js';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { httpsFetch } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { assertAadError, tokenRequest, type OAuthTarget } from './support-oauth.js';

// What Kentra accepts so that upstream Azure/kubelogin (MSAL Go, azidentity) reaches it (issue 15),
// attacked: the managed identity endpoint in App Service's form (X-IDENTITY-HEADER), client
// credentials with OIDC scopes beside `.default`, certificate thumbprints in standard base64, and the
// user realm lookup MSAL Go makes before ROPC. Each relaxation must not open anything else.

const TENANT = '15151515-aaaa-4aaa-8aaa-151515151515';
const DOMAIN = 'upstreamsec.onmicrosoft.com';
const PIPELINE = '15151515-aaaa-4000-8000-0000000000c1';
const MANAGED = '15151515-aaaa-4000-8000-0000000000d1';
const SECRET = 'pipeline-secret-0123456789-sec';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const HEADER_VALUE = 'identity-header-value-never-logged';

describe('endpoints upstream kubelogin needs, attacked', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let t: OAuthTarget;
  let registered: Awaited<ReturnType<typeof createSelfSignedCertificate>>;
  let stranger: Awaited<ReturnType<typeof createSelfSignedCertificate>>;
  const mi = (query: string, headers: Record<string, string> = {}, method = 'GET') =>
    httpsFetch(`${k.endpoints.authority}/metadata/identity/oauth2/token?${query}`, { method, headers, caFile: k.endpoints.caFile });
  /** A client assertion as MSAL Go builds it: PS256, `x5t#S256` in standard base64 with padding. */
  const assertion = (signer: { keyPem: string }, header: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return signJwt(
      { alg: 'PS256', typ: 'JWT', ...header } as never,
      {
        aud: `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
        iss: PIPELINE,
        sub: PIPELINE,
        jti: randomUUID(),
        nbf: now,
        exp: now + 600,
      },
      createPrivateKey(signer.keyPem),
    );
  };
  const stdThumbprint = (certPem: string) => createHash('sha256').update(new X509Certificate(certPem).raw).digest('base64');
  const certificateGrant = (jwt: string) =>
    tokenRequest(t, {
      client_id: PIPELINE,
      grant_type: 'client_credentials',
      scope: `${AKS_SERVER}/.default openid offline_access profile`,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: jwt,
    });

  before(async () => {
    registered = await createSelfSignedCertificate({ commonName: 'pipeline' });
    stranger = await createSelfSignedCertificate({ commonName: 'stranger' });
    const indent = (pem: string) =>
      pem
        .trim()
        .split('\n')
        .map((l) => `              ${l}`)
        .join('\n');
    k = await startTestKentra({
      seed: `
tenants:
  - id: ${TENANT}
    domain: ${DOMAIN}
    users:
      - { userPrincipalName: dev@${DOMAIN}, password: 'Dev-Passw0rd!15' }
    applications:
      - displayName: pipeline
        appId: ${PIPELINE}
        secrets: ['${SECRET}']
        certificates:
          - pem: |
${indent(registered.certPem)}
      - displayName: node-identity
        appId: ${MANAGED}
        managedIdentity: true
`,
    });
    t = { authority: k.endpoints.authority, caFile: k.endpoints.caFile, tenant: TENANT };
  });
  after(async () => {
    await k?.close();
  });

  describe('managed identity endpoint, App Service form (X-IDENTITY-HEADER)', () => {
    const query = `api-version=2019-08-01&resource=${AKS_SERVER}&client_id=${MANAGED}`;

    it('answers with the header: a token of the managed identity, not stored by caches', async () => {
      const r = await mi(query, { 'X-IDENTITY-HEADER': HEADER_VALUE });
      assert.equal(r.status, 200, r.text);
      assert.match(String(r.headers['cache-control']), /no-store/);
      const claims = decodeJwt(r.json().access_token);
      assert.equal(claims.appid, MANAGED);
      assert.equal(claims.idtyp, 'app');
      assert.equal(claims.aud, AKS_SERVER);
    });

    it('refuses a request with no header, an empty or blank one, or Metadata other than true', async () => {
      for (const headers of [
        {},
        { 'X-IDENTITY-HEADER': '' },
        { 'X-IDENTITY-HEADER': '   ' },
        { Metadata: 'false' },
        { Metadata: 'yes' },
      ] as Record<string, string>[]) {
        const r = await mi(query, headers);
        assert.equal(r.status, 400, `${JSON.stringify(headers)}: ${r.text}`);
        assert.deepEqual(r.json(), { error: 'invalid_request', error_description: 'Required metadata header not specified' });
      }
    });

    it('a page in a browser cannot send the header: no CORS preflight is granted', async () => {
      const r = await httpsFetch(`${k.endpoints.authority}/metadata/identity/oauth2/token?${query}`, {
        method: 'OPTIONS',
        caFile: k.endpoints.caFile,
        headers: {
          Origin: 'https://evil.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'x-identity-header',
        },
      });
      assert.ok(r.status >= 400 && r.status < 500, `preflight answered ${r.status}`);
      assert.equal(r.headers['access-control-allow-origin'], undefined);
      assert.equal(r.headers['access-control-allow-headers'], undefined);
    });

    it('issues tokens only to managed identities: not to an ordinary app, a user, or an unknown id', async () => {
      for (const id of [PIPELINE, randomUUID(), `dev@${DOMAIN}`, '../../etc/passwd']) {
        const r = await mi(`api-version=2019-08-01&resource=${AKS_SERVER}&client_id=${encodeURIComponent(id)}`, {
          'X-IDENTITY-HEADER': HEADER_VALUE,
        });
        assert.equal(r.status, 400, `${id}: ${r.text}`);
        assert.deepEqual(r.json(), { error: 'invalid_request', error_description: 'Identity not found' });
      }
    });

    it("a bad resource is a 4xx in the endpoint's shape, never a 5xx", async () => {
      for (const resource of ['', 'not a resource', 'https://unknown.example/', '%00']) {
        const r = await mi(`api-version=2019-08-01&resource=${encodeURIComponent(resource)}&client_id=${MANAGED}`, {
          'X-IDENTITY-HEADER': HEADER_VALUE,
        });
        assert.ok(r.status >= 400 && r.status < 500, `${resource}: ${r.status} ${r.text}`);
        assert.equal(typeof r.json().error, 'string');
        assert.equal(r.json().access_token, undefined);
      }
    });

    it('the header value and the tokens are not logged', () => {
      assert.ok(!k.logs().includes(HEADER_VALUE), 'X-IDENTITY-HEADER value in the logs');
      assert.doesNotMatch(k.logs(), /eyJ[\w-]+\.eyJ[\w-]+\./, 'a token in the logs');
    });
  });

  describe('client credentials with OIDC scopes beside .default (MSAL Go always adds them)', () => {
    it('gives an access token only: no id_token, no refresh token', async () => {
      const r = await tokenRequest(t, {
        client_id: PIPELINE,
        client_secret: SECRET,
        grant_type: 'client_credentials',
        scope: `${AKS_SERVER}/.default openid offline_access profile`,
      });
      assert.equal(r.status, 200, r.text);
      const body = r.json();
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.refresh_token, undefined);
      assert.equal(body.id_token, undefined);
      assert.equal(decodeJwt(body.access_token).idtyp, 'app');
    });

    it('still needs exactly one <resource>/.default', async () => {
      for (const scope of [
        'openid offline_access profile',
        'openid',
        `${AKS_SERVER}/user.read openid`,
        `${AKS_SERVER}/.default ${AKS_SERVER}/user.read openid`,
      ]) {
        assertAadError(
          await tokenRequest(t, { client_id: PIPELINE, client_secret: SECRET, grant_type: 'client_credentials', scope }),
          400,
          'invalid_scope',
          1002012,
        );
      }
    });

    it('authenticates the client first: a wrong secret is still AADSTS7000215', async () => {
      assertAadError(
        await tokenRequest(t, {
          client_id: PIPELINE,
          client_secret: 'wrong-secret-0123456789',
          grant_type: 'client_credentials',
          scope: `${AKS_SERVER}/.default openid offline_access profile`,
        }),
        401,
        'invalid_client',
        7000215,
      );
    });
  });

  describe('certificate assertions with x5t#S256 in standard base64', () => {
    it("the registered certificate's thumbprint in standard base64 with padding is accepted", async () => {
      const thumbprint = stdThumbprint(registered.certPem);
      assert.match(thumbprint, /=$/, 'standard base64, padded');
      const r = await certificateGrant(assertion(registered, { 'x5t#S256': thumbprint }));
      assert.equal(r.status, 200, r.text);
      assert.equal(decodeJwt(r.json().access_token).appidacr, '2');
    });

    it('the registered thumbprint on an assertion signed with another key is refused (AADSTS700027)', async () => {
      const r = await certificateGrant(assertion(stranger, { 'x5t#S256': stdThumbprint(registered.certPem) }));
      assertAadError(r, 401, 'invalid_client', 700027);
      assert.match(
        r.json().error_description,
        /^AADSTS700027: Client assertion failed signature validation\./,
        'the certificate was found, and the signature checked against it',
      );
    });

    it('an unregistered certificate, in either encoding, is refused', async () => {
      const raw = createHash('sha256').update(new X509Certificate(stranger.certPem).raw).digest();
      for (const thumbprint of [raw.toString('base64'), raw.toString('base64url'), `${raw.toString('base64url')}==`]) {
        const r = await certificateGrant(assertion(stranger, { 'x5t#S256': thumbprint }));
        assertAadError(r, 401, 'invalid_client', 700027);
        assert.match(r.json().error_description, /not registered on application/);
      }
    });

    it('a thumbprint that is not a string is a 401, not a 5xx', async () => {
      for (const value of [42, { a: 1 }, ['x'], null, '']) {
        const r = await certificateGrant(assertion(registered, { 'x5t#S256': value }));
        assert.equal(r.status, 401, `${JSON.stringify(value)}: ${r.text}`);
        assert.equal(r.json().error, 'invalid_client');
      }
    });
  });

  describe('user realm (MSAL Go asks /common/UserRealm/<upn> before ROPC)', () => {
    const realm = (user: string) =>
      httpsFetch(`${k.endpoints.authority}/common/UserRealm/${encodeURIComponent(user)}?api-version=1.0`, { caFile: k.endpoints.caFile });

    it("says Managed for a tenant's domain, and the same for a user that exists and one that does not", async () => {
      const known = await realm(`dev@${DOMAIN}`);
      const unknownUser = await realm(`nobody@${DOMAIN}`);
      assert.equal(known.status, 200);
      assert.equal(known.json().account_type, 'Managed');
      assert.deepEqual(unknownUser.json(), known.json(), 'no user enumeration');
    });

    it('an unknown domain or garbage is Unknown, never a 5xx', async () => {
      for (const user of ['x@unknown.example', '', '@', '../../adfs', 'a'.repeat(400), '\u0000@x']) {
        const r = await realm(user);
        assert.ok(r.status < 500, `${JSON.stringify(user)}: ${r.status}`);
        if (r.status === 200) assert.equal(r.json().account_type, 'Unknown', JSON.stringify(user));
      }
    });
  });
});
