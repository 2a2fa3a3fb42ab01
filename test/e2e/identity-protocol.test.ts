import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { formAction, hiddenField, httpsFetch, postForm } from '../support/http.js';
import { startInProcessKentra, type InProcessKentra } from '../support/in-process.js';
import { completeDeviceLogin, pageText } from '../support/kentra.js';

// The wire protocol of the identity provider, driven over HTTPS against the real `kentra up` process,
// with requests shaped as the client libraries and az send them (reference/entra-protocol.md §1.5).

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const ARM_SCOPE = 'https://management.core.windows.net//.default';

const SEED = `
tenants:
  - id: 33333333-3333-4333-8333-333333333333
    domain: contoso.onmicrosoft.com
    users:
      - { userPrincipalName: alice@contoso.onmicrosoft.com, password: Alice-Passw0rd!, displayName: Alice }
      - { userPrincipalName: locked@contoso.onmicrosoft.com, password: Locked-Passw0rd!, displayName: Locked }
      - { userPrincipalName: disabled@contoso.onmicrosoft.com, password: Disabled-Passw0rd!, accountEnabled: false }
      - { userPrincipalName: many@contoso.onmicrosoft.com, password: Many-Passw0rd!, id: 33333333-0000-4000-8000-000000000009 }
    guests:
      - userPrincipalName: bob@fabrikam.onmicrosoft.com
        id: 33333333-0000-4000-8000-0000000000b0
    groups:
      - { displayName: admins, id: 33333333-0000-4000-8000-0000000000a1, members: [alice@contoso.onmicrosoft.com, group:nested] }
      - { displayName: nested, id: 33333333-0000-4000-8000-0000000000a2, members: [bob@fabrikam.onmicrosoft.com] }
    groupSets:
      - { prefix: g-, count: 205, members: [many@contoso.onmicrosoft.com] }
    applications:
      - displayName: web-app
        appId: 33333333-0000-4000-8000-0000000000c1
        web: { redirectUris: ['https://app.example/callback'] }
        publicClient: { redirectUris: ['http://localhost'] }
        isFallbackPublicClient: true
        identifierUris: ['api://web-app']
        scopes: [{ value: access_as_user }]
        secrets: [{ value: web-app-secret-0123456789 }]
  - domain: fabrikam.onmicrosoft.com
    users:
      - { userPrincipalName: bob@fabrikam.onmicrosoft.com, password: Bob-Passw0rd!, displayName: Bob }
`;

describe('identity provider protocol', { timeout: 240_000 }, () => {
  let k: InProcessKentra;
  let authority: string;
  let ca: string;
  let tid: string;
  const contoso = '33333333-3333-4333-8333-333333333333';

  const token = (tenant: string, fields: Record<string, string>, headers?: Record<string, string>) =>
    postForm(`${authority}/${tenant}/oauth2/v2.0/token?client-request-id=11111111-2222-4333-8444-555555555555`, fields, ca, headers);

  let jwks: ReturnType<typeof createLocalJWKSet>;
  // Checked at Kentra's time: a test may have moved its clock on (a lifetime passed without a sleep).
  const verify = async (jwt: string) =>
    (await jwtVerify(jwt, jwks, { algorithms: ['RS256'], currentDate: new Date(k.clock.now()) })).payload;

  before(async () => {
    k = await startInProcessKentra({ seed: SEED });
    ({ authority, caFile: ca, tenantId: tid } = k.endpoints);
    const keys = (await httpsFetch(`${authority}/${tid}/discovery/v2.0/keys`, { caFile: ca })).json<JSONWebKeySet>();
    jwks = createLocalJWKSet(keys);
  });
  after(async () => k?.close());

  it('publishes discovery for a GUID, a domain, organizations and ADFS, with issuers on this host', async () => {
    const v2 = (await httpsFetch(`${authority}/${contoso}/v2.0/.well-known/openid-configuration`, { caFile: ca })).json();
    assert.equal(v2.issuer, `${authority}/${contoso}/v2.0`);
    assert.equal(v2.token_endpoint, `${authority}/${contoso}/oauth2/v2.0/token`);
    assert.equal(v2.device_authorization_endpoint, `${authority}/${contoso}/oauth2/v2.0/devicecode`);
    const byDomain = (
      await httpsFetch(`${authority}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration`, { caFile: ca })
    ).json();
    assert.equal(byDomain.issuer, `${authority}/${contoso}/v2.0`);
    const v1 = (await httpsFetch(`${authority}/${contoso}/.well-known/openid-configuration`, { caFile: ca })).json();
    assert.equal(v1.issuer, `https://sts.windows.net/${contoso}/`);
    const orgs = (await httpsFetch(`${authority}/organizations/v2.0/.well-known/openid-configuration`, { caFile: ca })).json();
    assert.equal(orgs.issuer, `${authority}/{tenantid}/v2.0`);
    const adfs = (await httpsFetch(`${authority}/adfs/.well-known/openid-configuration`, { caFile: ca })).json();
    assert.equal(adfs.token_endpoint, `${authority}/adfs/oauth2/token/`);
    const unknown = await httpsFetch(`${authority}/nope.example.com/v2.0/.well-known/openid-configuration`, { caFile: ca });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json().error, 'invalid_tenant');
    assert.match(unknown.json().error_description, /^AADSTS90002: Tenant 'nope.example.com' not found/);
  });

  it('issues v1 app tokens with roles for the bootstrap service principal, verifiable against the JWKS', async () => {
    const sp = k.endpoints.servicePrincipal;
    const res = await token(tid, {
      client_id: sp.appId,
      client_secret: sp.secret,
      grant_type: 'client_credentials',
      scope: 'https://graph.microsoft.com/.default',
    });
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    assert.equal(body.token_type, 'Bearer');
    assert.ok(body.expires_in >= 3600 && body.expires_in <= 5400, `expires_in ${body.expires_in}`);
    assert.equal(body.ext_expires_in, body.expires_in);
    assert.equal(body.refresh_token, undefined);
    const claims = await verify(body.access_token);
    assert.equal(claims.iss, `https://sts.windows.net/${tid}/`);
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.appid, sp.appId);
    assert.equal(claims.appidacr, '1');
    assert.equal(claims.oid, sp.objectId);
    assert.deepEqual((claims.roles as string[]).sort(), [
      'Application.ReadWrite.All',
      'Directory.ReadWrite.All',
      'Group.ReadWrite.All',
      'User.ReadWrite.All',
    ]);
  });

  it('takes the client secret from HTTP Basic as well', async () => {
    const sp = k.endpoints.servicePrincipal;
    const basic = Buffer.from(`${encodeURIComponent(sp.appId)}:${encodeURIComponent(sp.secret)}`).toString('base64');
    const res = await token(
      tid,
      { grant_type: 'client_credentials', scope: `${AKS_SERVER}/.default` },
      { authorization: `Basic ${basic}` },
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json().access_token).aud, AKS_SERVER);
  });

  it('answers bad client requests in the AADSTS shape with the right status', async () => {
    const sp = k.endpoints.servicePrincipal;
    const bad = await token(tid, {
      client_id: sp.appId,
      client_secret: 'not-the-secret-at-all',
      grant_type: 'client_credentials',
      scope: ARM_SCOPE,
    });
    assert.equal(bad.status, 401);
    const e = bad.json();
    assert.equal(e.error, 'invalid_client');
    assert.deepEqual(e.error_codes, [7000215]);
    assert.equal(e.correlation_id, '11111111-2222-4333-8444-555555555555');
    assert.match(e.error_description, /Trace ID: .*\r\nCorrelation ID: 11111111-2222-4333-8444-555555555555\r\nTimestamp: /s);
    for (const key of ['timestamp', 'trace_id', 'error_uri']) assert.ok(e[key], key);

    const unknownApp = await token(tid, {
      client_id: '99999999-0000-4000-8000-000000000000',
      client_secret: 'whatever-secret-123',
      grant_type: 'client_credentials',
      scope: ARM_SCOPE,
    });
    assert.equal(unknownApp.json().error_codes[0], 700016);
    const noScope = await token(tid, {
      client_id: sp.appId,
      client_secret: sp.secret,
      grant_type: 'client_credentials',
      scope: 'https://management.azure.com/user_impersonation',
    });
    assert.equal(noScope.json().error_codes[0], 1002012);
    const noResource = await token(tid, {
      client_id: sp.appId,
      client_secret: sp.secret,
      grant_type: 'client_credentials',
      scope: 'api://does-not-exist/.default',
    });
    assert.equal(noResource.json().error, 'invalid_resource');
    const dup = await postForm(`${authority}/${tid}/oauth2/v2.0/token`, {}, ca).then(() =>
      httpsFetch(`${authority}/${tid}/oauth2/v2.0/token`, {
        method: 'POST',
        caFile: ca,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&grant_type=password',
      }),
    );
    assert.equal(dup.status, 400);
    assert.match(dup.json().error_description, /'grant_type' is duplicated/);
    const unsupported = await token(tid, { grant_type: 'magic' });
    assert.equal(unsupported.json().error, 'unsupported_grant_type');
    const missing = await token(tid, { client_id: sp.appId });
    assert.match(missing.json().error_description, /^AADSTS900144: .*'grant_type'/);
    const orgsCc = await token('organizations', {
      client_id: sp.appId,
      client_secret: sp.secret,
      grant_type: 'client_credentials',
      scope: ARM_SCOPE,
    });
    assert.equal(orgsCc.status, 400);
  });

  it('signs a member in with a password (ROPC) through organizations, with groups for the AKS server app', async () => {
    const res = await token('organizations', {
      client_id: AZURE_CLI,
      grant_type: 'password',
      username: 'alice@contoso.onmicrosoft.com',
      password: 'Alice-Passw0rd!',
      scope: `${AKS_SERVER}/.default openid profile offline_access`,
      client_info: '1',
    });
    assert.equal(res.status, 200, res.text);
    const body = res.json();
    const at = await verify(body.access_token);
    assert.equal(at.aud, AKS_SERVER);
    assert.equal(at.tid, contoso);
    assert.equal(at.upn, 'alice@contoso.onmicrosoft.com');
    assert.equal(at.ver, '1.0');
    assert.deepEqual(at.groups, ['33333333-0000-4000-8000-0000000000a1']);
    const id = await verify(body.id_token);
    assert.equal(id.aud, AZURE_CLI);
    assert.equal(id.preferred_username, 'alice@contoso.onmicrosoft.com');
    assert.equal(id.iss, `${authority}/${contoso}/v2.0`);
    const info = JSON.parse(Buffer.from(body.client_info, 'base64url').toString());
    assert.deepEqual(info, { uid: at.oid, utid: contoso });
    assert.ok(body.refresh_token);
  });

  it('gives a guest a token in the resource tenant: no upn, its own object id, groups through nesting', async () => {
    const res = await token(contoso, {
      client_id: AZURE_CLI,
      grant_type: 'password',
      username: 'bob@fabrikam.onmicrosoft.com',
      password: 'Bob-Passw0rd!',
      scope: `${AKS_SERVER}/.default openid`,
    });
    assert.equal(res.status, 200, res.text);
    const at = await verify(res.json().access_token);
    assert.equal(at.tid, contoso);
    assert.equal(at.oid, '33333333-0000-4000-8000-0000000000b0');
    assert.equal(at.upn, undefined);
    assert.equal(at.unique_name, 'bob@fabrikam.onmicrosoft.com');
    assert.match(String(at.idp), /^https:\/\/sts\.windows\.net\//);
    assert.deepEqual((at.groups as string[]).sort(), ['33333333-0000-4000-8000-0000000000a1', '33333333-0000-4000-8000-0000000000a2']);
  });

  it('replaces groups with the overage claim past 200 groups', async () => {
    const res = await token(contoso, {
      client_id: AZURE_CLI,
      grant_type: 'password',
      username: 'many@contoso.onmicrosoft.com',
      password: 'Many-Passw0rd!',
      scope: `${AKS_SERVER}/.default`,
    });
    const at = await verify(res.json().access_token);
    assert.equal(at.groups, undefined);
    assert.deepEqual(at._claim_names, { groups: 'src1' });
    assert.equal((at._claim_sources as any).src1.endpoint, `${authority}/v1.0/users/33333333-0000-4000-8000-000000000009/getMemberObjects`);
  });

  it('refuses wrong passwords, unknown and disabled users, and locks an account after repeated attempts', async () => {
    const pw = (username: string, password: string) =>
      token(contoso, { client_id: AZURE_CLI, grant_type: 'password', username, password, scope: ARM_SCOPE });
    assert.equal((await pw('alice@contoso.onmicrosoft.com', 'wrong')).json().error_codes[0], 50126);
    assert.equal((await pw('nobody@contoso.onmicrosoft.com', 'x')).json().error_codes[0], 50034);
    assert.equal((await pw('disabled@contoso.onmicrosoft.com', 'Disabled-Passw0rd!')).json().error_codes[0], 50057);
    let last;
    for (let i = 0; i < 11; i++) last = await pw('locked@contoso.onmicrosoft.com', 'wrong');
    assert.equal(last!.json().error_codes[0], 50053);
    assert.equal(
      (await pw('locked@contoso.onmicrosoft.com', 'Locked-Passw0rd!')).json().error_codes[0],
      50053,
      'still locked with the right password',
    );
  });

  it('rotates refresh tokens and revokes the family when a rotated token comes back later', async () => {
    const first = (
      await token(contoso, {
        client_id: AZURE_CLI,
        grant_type: 'password',
        username: 'alice@contoso.onmicrosoft.com',
        password: 'Alice-Passw0rd!',
        scope: `${ARM_SCOPE} offline_access`,
      })
    ).json();
    const second = await token(contoso, {
      client_id: AZURE_CLI,
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      scope: `${AKS_SERVER}/.default offline_access`,
    });
    assert.equal(second.status, 200, second.text);
    assert.notEqual(second.json().refresh_token, first.refresh_token);
    assert.equal(decodeJwt(second.json().access_token).aud, AKS_SERVER, 'a refresh token may be used for another resource');
    const wrongClient = await token(contoso, {
      client_id: '33333333-0000-4000-8000-0000000000c1',
      grant_type: 'refresh_token',
      refresh_token: second.json().refresh_token,
      scope: ARM_SCOPE,
    });
    assert.equal(wrongClient.status, 400);
    assert.equal(
      (await token(contoso, { client_id: AZURE_CLI, grant_type: 'refresh_token', refresh_token: 'garbage', scope: ARM_SCOPE })).json()
        .error,
      'invalid_grant',
    );
    // A stolen, already-rotated token used after the grace period: the whole family goes.
    k.clock.advance(10_500);
    const replay = await token(contoso, {
      client_id: AZURE_CLI,
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      scope: ARM_SCOPE,
    });
    assert.equal(replay.json().error_codes[0], 50173);
    const successor = await token(contoso, {
      client_id: AZURE_CLI,
      grant_type: 'refresh_token',
      refresh_token: second.json().refresh_token,
      scope: ARM_SCOPE,
    });
    assert.equal(successor.json().error_codes[0], 50173, 'the newer token of the family is revoked too');
  });

  it('completes a device-code sign-in on /devicelogin while the client polls (both grant spellings)', async () => {
    const dc = (
      await postForm(
        `${authority}/organizations/oauth2/v2.0/devicecode`,
        { client_id: AZURE_CLI, scope: `${ARM_SCOPE} offline_access openid profile` },
        ca,
      )
    ).json();
    assert.match(dc.user_code, /^[A-Z]{9}$/);
    assert.equal(dc.verification_uri, `${authority}/devicelogin`);
    assert.equal(dc.interval, 1);
    assert.equal(dc.expires_in, 900);
    assert.equal(
      dc.message,
      `To sign in, use a web browser to open the page ${authority}/devicelogin and enter the code ${dc.user_code} to authenticate.`,
    );
    const pending = await token('organizations', { client_id: AZURE_CLI, grant_type: 'device_code', device_code: dc.device_code });
    assert.equal(pending.json().error, 'authorization_pending');
    assert.equal(pending.json().error_codes[0], 70016);
    const wrongCode = await postForm(`${authority}/devicelogin`, { user_code: 'ZZZZZZZZZ' }, ca);
    assert.equal(wrongCode.status, 400);
    assert.match(pageText(wrongCode.text), /AADSTS70018/);
    const done = await completeDeviceLogin(authority, ca, dc.user_code, 'alice@contoso.onmicrosoft.com', 'Alice-Passw0rd!');
    assert.match(done, /You have signed in to the Microsoft Azure CLI application on your device/);
    const tokens = await token('organizations', {
      client_id: AZURE_CLI,
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: dc.device_code,
      code: dc.device_code,
      client_info: '1',
    });
    assert.equal(tokens.status, 200, tokens.text);
    assert.equal((await verify(tokens.json().access_token)).upn, 'alice@contoso.onmicrosoft.com');
    assert.ok(tokens.json().refresh_token && tokens.json().id_token);
    const again = await token('organizations', { client_id: AZURE_CLI, grant_type: 'device_code', device_code: dc.device_code });
    assert.equal(again.status, 400, 'a device code is redeemed once');
    const bogus = await token('organizations', { client_id: AZURE_CLI, grant_type: 'device_code', device_code: 'not-a-code' });
    assert.equal(bogus.json().error, 'bad_verification_code');
  });

  it('asks consent on /devicelogin for a client without a grant, and a decline stops the client', async () => {
    const app = '33333333-0000-4000-8000-0000000000c1';
    const dc = (
      await postForm(`${authority}/${contoso}/oauth2/v2.0/devicecode`, { client_id: app, scope: `${AKS_SERVER}/.default openid` }, ca)
    ).json();
    const text = await completeDeviceLogin(authority, ca, dc.user_code, 'alice@contoso.onmicrosoft.com', 'Alice-Passw0rd!', 'decline');
    assert.match(text, /You declined/);
    const res = await token(contoso, { client_id: app, grant_type: 'device_code', device_code: dc.device_code });
    assert.equal(res.json().error, 'authorization_declined');
  });

  it('runs authorization code with PKCE through the sign-in page, and checks the verifier and the redirect URI', async () => {
    const app = '33333333-0000-4000-8000-0000000000c1';
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = 'http://localhost:53123';
    const q = new URLSearchParams({
      client_id: app,
      response_type: 'code',
      redirect_uri: redirect,
      scope: 'api://web-app/access_as_user openid profile offline_access',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const page = await httpsFetch(`${authority}/${contoso}/oauth2/v2.0/authorize?${q}`, { caFile: ca });
    assert.equal(page.status, 200);
    let res = await postForm(
      `${authority}${formAction(page.text)}`,
      { state: hiddenField(page.text, 'state')!, username: 'alice@contoso.onmicrosoft.com', password: 'Alice-Passw0rd!' },
      ca,
    );
    assert.equal(res.status, 303, 'the app itself needs no consent for its own scope (303 after the credential POST)');
    const location = new URL(String(res.headers.location));
    assert.equal(location.origin, redirect);
    assert.equal(location.searchParams.get('state'), 'st-1');
    const code = location.searchParams.get('code')!;
    const wrong = await token(contoso, {
      client_id: app,
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirect,
      code_verifier: randomBytes(32).toString('base64url'),
    });
    assert.equal(wrong.json().error_codes[0], 501481);
    // The code was spent by the failed attempt, so sign in again for a fresh one.
    const page2 = await httpsFetch(`${authority}/${contoso}/oauth2/v2.0/authorize?${q}`, { caFile: ca });
    res = await postForm(
      `${authority}${formAction(page2.text)}`,
      { state: hiddenField(page2.text, 'state')!, username: 'alice@contoso.onmicrosoft.com', password: 'Alice-Passw0rd!' },
      ca,
    );
    const code2 = new URL(String(res.headers.location)).searchParams.get('code')!;
    const ok = await token(contoso, {
      client_id: app,
      grant_type: 'authorization_code',
      code: code2,
      redirect_uri: redirect,
      code_verifier: verifier,
    });
    assert.equal(ok.status, 200, ok.text);
    const id = await verify(ok.json().id_token);
    assert.equal(id.nonce, 'n-1');
    assert.equal(id.aud, app);
    assert.equal((await verify(ok.json().access_token)).scp, 'access_as_user');
    const reused = await token(contoso, {
      client_id: app,
      grant_type: 'authorization_code',
      code: code2,
      redirect_uri: redirect,
      code_verifier: verifier,
    });
    assert.equal(reused.json().error_codes[0], 54005);

    const noPkce = await httpsFetch(
      `${authority}/${contoso}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: app, response_type: 'code', redirect_uri: redirect, scope: 'openid', state: 's' })}`,
      { caFile: ca },
    );
    assert.equal(noPkce.status, 302);
    assert.equal(new URL(String(noPkce.headers.location)).searchParams.get('error'), 'invalid_request', 'public clients must use PKCE');
    const badRedirect = await httpsFetch(
      `${authority}/${contoso}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: app, response_type: 'code', redirect_uri: 'https://evil.example/cb', scope: 'openid' })}`,
      { caFile: ca },
    );
    assert.equal(badRedirect.status, 400);
    assert.match(pageText(badRedirect.text), /AADSTS50011/);
  });

  it('answers the ADFS-style token endpoint, working out the tenant from the client', async () => {
    const sp = k.endpoints.servicePrincipal;
    const res = await postForm(
      `${authority}/adfs/oauth2/token/`,
      { client_id: sp.appId, client_secret: sp.secret, grant_type: 'client_credentials', scope: ARM_SCOPE, client_info: '1' },
      ca,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(decodeJwt(res.json().access_token).tid, tid);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    assert.equal((await httpsFetch(`${authority}/healthz`, { caFile: ca })).text, 'ok');
    assert.equal((await httpsFetch(`${authority}/readyz`, { caFile: ca })).status, 200);
    const metrics = (await httpsFetch(`${authority}/metrics`, { caFile: ca })).text;
    assert.match(metrics, /kentra_http_requests_total\{method="POST",route="\/:tenant\/oauth2\/v2.0\/token",status="200"\} \d+/);
  });

  it('never writes a password, secret or token into its logs', async () => {
    const logs = k.logs();
    assert.ok(logs.length > 0);
    for (const secret of [
      k.endpoints.admin.password,
      k.endpoints.servicePrincipal.secret,
      'Alice-Passw0rd!',
      'web-app-secret-0123456789',
      'eyJ',
    ]) {
      assert.ok(!logs.includes(secret), `logs contain ${secret.slice(0, 4)}…`);
    }
  });
});
