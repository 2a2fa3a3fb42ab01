import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { assertAadError } from './support-oauth.js';

// Issue 13's additions to the token and authorize endpoints, attacked: the `spn:<appId>` resource form
// (only an app id of the tenant, never a look-alike), and `login_hint` on the sign-in page (text, never markup,
// and no "known account" step for an account that cannot sign in).

const TENANT = '66666666-6666-4666-8666-66666666a13b';
const OTHER_TENANT = '66666666-6666-4666-8666-66666666a13c';
const PIPELINE = '66666666-0000-4000-8000-00000000a13d';
const OTHER_APP = '66666666-0000-4000-8000-00000000a13e';
const SECRET = 'pipeline-secret-0123456789';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';

const SEED = `
tenants:
  - id: ${TENANT}
    domain: spnsec.onmicrosoft.com
    users:
      - { userPrincipalName: dev@spnsec.onmicrosoft.com, password: 'Dev-Passw0rd!' }
      - { userPrincipalName: gone@spnsec.onmicrosoft.com, password: 'Gone-Passw0rd!', accountEnabled: false }
    applications:
      - { displayName: pipeline, appId: ${PIPELINE}, secrets: ['${SECRET}'] }
  - id: ${OTHER_TENANT}
    domain: spnother.onmicrosoft.com
    applications:
      - { displayName: elsewhere, appId: ${OTHER_APP}, identifierUris: ['api://elsewhere'] }
`;

describe('spn: resources and login_hint, attacked (issue 13)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  const token = (fields: Record<string, string>, path = 'oauth2/v2.0/token') =>
    postForm(
      `${k.endpoints.authority}/${TENANT}/${path}`,
      { grant_type: 'client_credentials', client_id: PIPELINE, client_secret: SECRET, ...fields },
      k.endpoints.caFile,
    );
  const signInPage = (hint: string) =>
    httpsFetch(
      `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/authorize?${new URLSearchParams({
        client_id: AKS_CLIENT,
        response_type: 'code',
        redirect_uri: 'http://localhost',
        scope: `${AKS_SERVER}/.default`,
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
        login_hint: hint,
      })}`,
      { caFile: k.endpoints.caFile },
    );

  before(async () => {
    k = await startTestKentra({ seed: SEED });
  });
  after(async () => {
    await k?.close();
  });

  it('an spn: resource that names no application of the tenant: AADSTS500011, no token (v1 and v2)', async () => {
    const unknown = 'spn:0badc0de-0000-4000-8000-000000000000';
    assertAadError(await token({ scope: `${unknown}/.default` }), 400, 'invalid_resource', 500011);
    assertAadError(await token({ resource: unknown }, 'oauth2/token'), 400, 'invalid_resource', 500011);
    // An application of another tenant is not this tenant's resource.
    assertAadError(await token({ scope: `spn:${OTHER_APP}/.default` }), 400, 'invalid_resource', 500011);
  });

  it('malformed spn: forms are not a resource: an identifier URI, a name, nothing, a GUID with extra text', async () => {
    for (const resource of ['spn:api://elsewhere', 'spn:pipeline', 'spn:', `spn:${PIPELINE}x`, `spn:spn:${PIPELINE}`]) {
      assertAadError(await token({ resource }, 'oauth2/token'), 400, 'invalid_resource', 500011);
    }
    // In a v2 scope, with nothing after spn: but a slash, the value is not a resource either.
    const res = await token({ scope: 'spn:/.default' });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json().access_token, undefined);
  });

  it('api-version=1.0 turns only an app id into its spn: form; an identifier URI resource keeps its own audience', async () => {
    const res = await token({ resource: 'https://management.core.windows.net/' }, 'oauth2/token?api-version=1.0');
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json().access_token).aud, 'https://management.core.windows.net/');
  });

  it('login_hint is text on the sign-in page, in both steps, never markup', async () => {
    for (const hint of [
      '"><script>alert(1)</script>@spnsec.onmicrosoft.com',
      'dev@spnsec.onmicrosoft.com"><img src=x onerror=alert(1)>',
      `${'a'.repeat(5000)}<b>@spnsec.onmicrosoft.com`,
    ]) {
      const res = await signInPage(hint);
      assert.equal(res.status, 200);
      assert.doesNotMatch(res.text, /<script>alert|<img |<b>/);
      assert.doesNotMatch(res.text, /<h1>Enter password<\/h1>/, 'not an account');
      assert.match(res.text, /name="username" value="[^"<>]*&quot;|name="username" value="a{10}/);
    }
  });

  it('a disabled account or one of another tenant gets no "Enter password" step', async () => {
    for (const hint of ['gone@spnsec.onmicrosoft.com', 'nobody@spnother.onmicrosoft.com']) {
      const res = await signInPage(hint);
      assert.equal(res.status, 200);
      assert.match(res.text, /<h1>Sign in<\/h1>/, hint);
      assert.doesNotMatch(res.text, /class="account"/, hint);
    }
  });
});
