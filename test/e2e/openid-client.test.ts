import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { ALICE, API_APP, API_SCOPE_ID, CLI_APP, CLIENTS_TENANT, clientSeed } from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { extendSeed, tokenChecker, type TokenChecker } from './clients/expect.js';

// openid-client v6 (panva), a strict OIDC relying party: discovery (the issuer must match), then
// authorization code + PKCE with the library checking state, nonce and the id_token, the userinfo
// endpoint and a refresh. The "browser" is plain HTTP in the client's process: GET the sign-in page,
// POST the form, POST consent when it is asked, and take the 303 to the loopback redirect URI
// (nothing listens there). openid-client uses fetch, so it runs in its own process with the CA in
// NODE_EXTRA_CA_CERTS.

const WEB_APP = '44444444-0000-4000-8000-0000000000e2';
const WEB_SECRET = 'orders-portal-secret-0123456789';
const WEB_REDIRECT = 'https://orders-portal.example/signin-oidc';
const LOOPBACK = 'http://localhost:8400';

describe('openid-client against Kentra', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let check: TokenChecker;
  const run = (s: Record<string, unknown>) =>
    runClient(
      { lib: 'openid-client', flow: 'code', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT, ...s },
      { caFile: k.endpoints.caFile },
    );
  const cli = {
    clientId: CLI_APP,
    redirectUri: LOOPBACK,
    scopes: ['openid', 'profile', 'offline_access', 'api://orders-api/access_as_user'],
  };

  before(async () => {
    const cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    const seed = extendSeed(clientSeed({ certificatePem: cert.certPem }), {
      applications: [
        {
          displayName: 'orders-portal',
          appId: WEB_APP,
          web: { redirectUris: [WEB_REDIRECT] },
          secrets: [WEB_SECRET],
          requiredResourceAccess: [{ resourceAppId: API_APP, resourceAccess: [{ id: API_SCOPE_ID, type: 'Scope' }] }],
          adminConsent: true,
        },
      ],
    });
    k = await startTestKentra({ seed });
    check = await tokenChecker(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
  });
  after(async () => k?.close());

  it('a public client: discovery, code + PKCE on a loopback redirect, id_token checks, userinfo, refresh', async () => {
    const r = await run({ ...cli, ...ALICE, redeemTwice: true });
    assert.ok(r.ok, r.error);
    assert.equal(r.result.issuer, `${k.endpoints.authority}/${CLIENTS_TENANT}/v2.0`, 'the discovered issuer is the one asked for');
    assert.equal(r.result.redirectedTo, `${LOOPBACK}/`, 'the server sent the browser to the loopback redirect URI');
    assert.equal(r.result.consented, false, 'consent was granted by the admin in the seed');
    // The library already checked signature, iss, aud, exp, nonce and state; a relying party's own check:
    const id = await check.idToken(r.result.idToken, { clientId: CLI_APP, username: ALICE.username, nonce: r.result.idTokenClaims.nonce });
    assert.ok(id.nonce, 'the nonce came back');
    assert.deepEqual(r.result.idTokenClaims, Object.fromEntries(Object.entries(id).filter(([key]) => key !== 'lifetime')));
    assert.equal(id.tid, CLIENTS_TENANT);
    assert.equal(id.name, 'Alice');
    assert.equal(r.result.tokenType.toLowerCase(), 'bearer');
    assert.ok(r.result.expiresIn >= 3500 && r.result.expiresIn <= 5400, `expires_in ${r.result.expiresIn}`);
    const at = await check.v2User(r.result.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      azpacr: '0',
      scp: 'access_as_user',
      username: ALICE.username,
    });
    assert.equal(at.oid, id.oid);
    assert.equal(r.result.userinfo.sub, id.sub, 'userinfo sub is the id_token sub (the library checks it too)');
    assert.equal(r.result.userinfo.preferred_username, ALICE.username);
    assert.equal(r.result.refreshToken, true);
    assert.ok(r.result.refreshed, 'refreshTokenGrant ran');
    await check.v2User(r.result.refreshed.accessToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username });
    assert.match(r.result.secondRedemption, /invalid_grant: AADSTS54005: OAuth2 Authorization code was already redeemed/);
    assert.match(r.result.refreshAfterReplay, /invalid_grant: AADSTS50173/, 'the replay revoked the refresh tokens issued from the code');
  });

  it('a confidential web client with HTTP Basic authentication at the token endpoint', async () => {
    const r = await run({
      clientId: WEB_APP,
      secret: WEB_SECRET,
      clientAuth: 'basic',
      redirectUri: WEB_REDIRECT,
      scopes: ['openid', 'profile', 'api://orders-api/access_as_user'],
      ...ALICE,
    });
    assert.ok(r.ok, r.error);
    assert.equal(r.result.redirectedTo, WEB_REDIRECT);
    await check.idToken(r.result.idToken, { clientId: WEB_APP, username: ALICE.username, nonce: r.result.idTokenClaims.nonce });
    await check.v2User(r.result.accessToken, { aud: API_APP, azp: WEB_APP, azpacr: '1', scp: 'access_as_user', username: ALICE.username });
    assert.equal(r.result.refreshToken, false, 'no offline_access, no refresh token');
    const wrong = await run({
      clientId: WEB_APP,
      secret: 'not-the-secret',
      clientAuth: 'post',
      redirectUri: WEB_REDIRECT,
      scopes: ['openid', 'api://orders-api/access_as_user'],
      ...ALICE,
    });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /invalid_client: AADSTS7000215/);
  });

  it('a code_verifier that does not match the challenge: AADSTS501481', async () => {
    const r = await run({ ...cli, ...ALICE, wrongVerifier: true });
    assert.equal(r.ok, false);
    assert.match(
      r.error!,
      /invalid_grant: AADSTS501481: The Code_Verifier doesn't match the code_challenge supplied in the authorization request\./,
    );
  });

  it('a redirect URI the app does not have is refused at /authorize with AADSTS50011 (no redirect)', async () => {
    const r = await run({ ...cli, flow: 'authorize-page', redirectUri: 'https://attacker.example/callback' });
    assert.ok(r.ok, r.error);
    assert.equal(r.result.status, 400);
    assert.equal(r.result.location, null, 'the browser is not sent to an unregistered URI');
    assert.match(
      r.result.text,
      /AADSTS50011: The redirect URI 'https:\/\/attacker.example\/callback' specified in the request does not match the redirect URIs configured for the application/,
    );
    // A loopback URI on another path is not the registered one either.
    const path = await run({ ...cli, flow: 'authorize-page', redirectUri: 'http://localhost:8400/elsewhere' });
    assert.equal(path.result.status, 400);
    assert.match(path.result.text, /AADSTS50011/);
  });

  it('fails the sign-in for a wrong password (shown on the sign-in page)', async () => {
    const r = await run({ ...cli, scopes: ['openid'], username: ALICE.username, password: 'wrong' });
    assert.equal(r.ok, false);
    assert.match(r.error!, /AADSTS50126: Error validating credentials due to invalid username or password/);
  });
});
