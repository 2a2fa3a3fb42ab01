import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { certificateThumbprints, createSelfSignedCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { ALICE, API_APP, API_SECRET, CLI_APP, CLIENTS_TENANT, clientSeed, DAEMON_APP, DAEMON_SECRET } from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { httpsFetch, postForm } from '../support/http.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';
import { extendSeed, tokenChecker, userCodeIn, type TokenChecker } from './clients/expect.js';

// The real @azure/msal-node against `kentra up`, configured only with the authority, knownAuthorities
// and the CA (NODE_EXTRA_CA_CERTS in the client's process, as a user would set it).
//
// The directory: orders-api (v2 tokens, scope access_as_user, app role Orders.Read, a secret) calls
// inventory-api (v1 tokens, scope Inventory.Read) and Graph on behalf of users; orders-cli is a public
// client (fallback public client, loopback redirect); orders-daemon has a secret and a certificate and
// holds Orders.Read and Graph's User.Read.All; orders-web is a confidential web app that no one has
// consented to yet. Consent for orders-cli and orders-api is granted by the admin in the seed.

const INVENTORY_APP = '44444444-0000-4000-8000-0000000000d1';
const INVENTORY_SCOPE_ID = '44444444-0000-4000-8000-0000000000d9';
const WEB_APP = '44444444-0000-4000-8000-0000000000e1';
const WEB_SECRET = 'orders-web-secret-0123456789';
const WEB_REDIRECT = 'http://localhost:8765/auth/callback';
const GRAPH = 'https://graph.microsoft.com';
const BOB = { username: 'bob@clients.onmicrosoft.com', password: 'Bob-Passw0rd!' };

function seed(certificatePem: string): string {
  return extendSeed(clientSeed({ certificatePem }), {
    applicationsFirst: [
      {
        displayName: 'inventory-api',
        appId: INVENTORY_APP,
        identifierUris: ['api://inventory-api'],
        scopes: [{ value: 'Inventory.Read', id: INVENTORY_SCOPE_ID }],
      },
    ],
    applications: [
      {
        displayName: 'orders-web',
        appId: WEB_APP,
        web: { redirectUris: [WEB_REDIRECT] },
        secrets: [WEB_SECRET],
        requiredResourceAccess: [
          { resourceAppId: API_APP, resourceAccess: [{ id: '44444444-0000-4000-8000-0000000000a9', type: 'Scope' }] },
        ],
      },
    ],
    users: [{ userPrincipalName: BOB.username, password: BOB.password, displayName: 'Bob', directoryRoles: ['Global Administrator'] }],
    patch: {
      [API_APP]: (a) => {
        a.requiredResourceAccess = [{ resourceAppId: INVENTORY_APP, resourceAccess: [{ id: INVENTORY_SCOPE_ID, type: 'Scope' }] }];
      },
      [DAEMON_APP]: (a) => {
        a.graphPermissions = { application: ['User.Read.All'] };
      },
    },
  });
}

describe('msal-node against Kentra', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let cert: CertificateAndKey;
  let check: TokenChecker;
  const base = () => ({ lib: 'msal', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT });
  const run = (s: Record<string, unknown>, onUserCode?: (c: string) => Promise<void>) =>
    runClient({ ...base(), ...s }, { caFile: k.endpoints.caFile, onUserCode });
  const thumbprintHex = () => Buffer.from(certificateThumbprints(cert.certDer).sha256, 'base64url').toString('hex');

  before(async () => {
    cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    k = await startTestKentra({ seed: seed(cert.certPem) });
    check = await tokenChecker(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
  });
  after(async () => k?.close());

  it("client credentials with a secret: a v2 app token with the granted role, then from msal's cache", async () => {
    const r = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '1' });
    assert.equal(r.result.tokenType, 'Bearer');
    assert.equal(r.result.secondFromCache, true, 'msal cached the token (expires_in understood)');
  });

  it('client credentials for Graph: a v1 app token (sts.windows.net issuer, appid) with the application permission', async () => {
    const r = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: [`${GRAPH}/.default`] });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 1, aud: GRAPH, clientId: DAEMON_APP, roles: ['User.Read.All'], acr: '1' });
  });

  it('client credentials with a certificate (RS256 assertion with x5t#S256), with and without x5c', async () => {
    const r = await run({
      flow: 'client-certificate',
      clientId: DAEMON_APP,
      privateKeyPem: cert.keyPem,
      thumbprintSha256: thumbprintHex(),
      scopes: ['api://orders-api/.default'],
    });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '2' });
    const chain = await run({
      flow: 'client-certificate',
      clientId: DAEMON_APP,
      privateKeyPem: cert.keyPem,
      certificatePem: cert.certPem,
      thumbprintSha256: thumbprintHex(),
      sendCertificateChain: true,
      scopes: ['api://orders-api/.default'],
    });
    assert.ok(chain.ok, chain.error);
    assert.equal((await check.verify(chain.result.accessToken, { iss: check.v2Issuer, aud: API_APP })).azpacr, '2');
  });

  it('refuses a certificate the app does not have (AADSTS700027)', async () => {
    const other = await createSelfSignedCertificate({ commonName: 'stranger' });
    const r = await run({
      flow: 'client-certificate',
      clientId: DAEMON_APP,
      privateKeyPem: other.keyPem,
      thumbprintSha256: Buffer.from(certificateThumbprints(other.certDer).sha256, 'base64url').toString('hex'),
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(r.ok, false);
    assert.match(r.error!, /invalid_client.*AADSTS700027/s);
  });

  it('a wrong secret: the library error carries AADSTS7000215', async () => {
    const bad = await run({
      flow: 'client-secret',
      clientId: DAEMON_APP,
      secret: 'wrong-secret-0123456789',
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /invalid_client: Error\(s\): 7000215 .*Description: AADSTS7000215: Invalid client secret provided/s);
  });

  it('an unknown tenant: msal cannot resolve the authority, because discovery answers AADSTS90002', async () => {
    // msal-node resolves the authority's metadata before anything else; when that fails it throws
    // endpoints_resolution_error and does not pass the server's message on (Entra gives it the same
    // answer). So the AADSTS90002 the server sent is checked on the wire, on the URLs msal uses.
    const tenant = 'no-such-tenant.onmicrosoft.com';
    const r = await run({
      flow: 'client-secret',
      clientId: DAEMON_APP,
      secret: DAEMON_SECRET,
      scopes: ['api://orders-api/.default'],
      tenantId: tenant,
    });
    assert.equal(r.ok, false);
    assert.match(r.error!, /endpoints_resolution_error/);
    const meta = await httpsFetch(`${k.endpoints.authority}/${tenant}/v2.0/.well-known/openid-configuration`, {
      caFile: k.endpoints.caFile,
    });
    assert.equal(meta.status, 400);
    assert.equal(meta.json().error, 'invalid_tenant');
    assert.deepEqual(meta.json().error_codes, [90002]);
    assert.match(meta.json().error_description, /^AADSTS90002: Tenant 'no-such-tenant.onmicrosoft.com' not found\./);
    const token = await postForm(
      `${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`,
      { client_id: DAEMON_APP, client_secret: DAEMON_SECRET, grant_type: 'client_credentials', scope: 'api://orders-api/.default' },
      k.endpoints.caFile,
    );
    assert.equal(token.status, 400);
    assert.match(token.json().error_description, /^AADSTS90002: /);
  });

  it('device code: the user code is read from the prompt, a person signs in on /devicelogin, then refresh', async () => {
    let given = '';
    const r = await run({ flow: 'device-code', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'] }, async (code) => {
      given = code;
      await completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, ALICE.username, ALICE.password);
    });
    assert.ok(r.ok, r.error);
    const message = /MESSAGE (.*)/.exec(r.stderr)![1]!;
    assert.match(
      message,
      /^To sign in, use a web browser to open the page https:\/\/localhost:\d+\/devicelogin and enter the code [A-Z]{9} to authenticate\.$/,
    );
    assert.equal(userCodeIn(message), given);
    const first = await check.v2User(r.result.first.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      azpacr: '0',
      scp: 'access_as_user',
      username: ALICE.username,
    });
    const id = await check.idToken(r.result.first.idToken, { clientId: CLI_APP, username: ALICE.username });
    assert.equal(id.oid, first.oid);
    assert.equal(r.result.first.account.username, ALICE.username);
    assert.equal(r.result.first.account.homeAccountId, `${first.oid}.${CLIENTS_TENANT}`, 'client_info gave msal the home account');
    assert.equal(r.result.first.account.environment, new URL(k.endpoints.authority).host);
    // acquireTokenSilent with forceRefresh used the cached refresh token.
    const refreshed = await check.v2User(r.result.refreshed.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      scp: 'access_as_user',
      username: ALICE.username,
    });
    assert.notEqual(r.result.refreshed.accessToken, r.result.first.accessToken);
    assert.equal(r.result.refreshed.fromCache, false);
    assert.equal(refreshed.oid, first.oid);
    assert.equal(r.result.hadRefreshToken, true);
    // acquireTokenByRefreshToken in another application instance, with the refresh token from the cache.
    assert.ok(r.result.byRefreshToken, 'acquireTokenByRefreshToken ran');
    assert.equal(
      (
        await check.v2User(r.result.byRefreshToken.accessToken, {
          aud: API_APP,
          azp: CLI_APP,
          scp: 'access_as_user',
          username: ALICE.username,
        })
      ).oid,
      first.oid,
    );
  });

  it('device code for an administrator of the tenant', async () => {
    const r = await run({ flow: 'device-code', clientId: CLI_APP, scopes: [`${GRAPH}/User.Read`] }, (code) =>
      completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, BOB.username, BOB.password).then(() => undefined),
    );
    assert.ok(r.ok, r.error);
    const t = await check.v1User(r.result.first.accessToken, {
      aud: GRAPH,
      appid: CLI_APP,
      appidacr: '0',
      scp: 'User.Read',
      upn: BOB.username,
    });
    assert.equal(t.name, 'Bob');
    await check.idToken(r.result.first.idToken, { clientId: CLI_APP, username: BOB.username });
  });

  it('username and password, then forceRefresh and acquireTokenByRefreshToken for another resource', async () => {
    const r = await run({
      flow: 'username-password',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      refreshScopes: [`${GRAPH}/User.Read`],
      ...ALICE,
    });
    assert.ok(r.ok, r.error);
    const first = await check.v2User(r.result.first.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      azpacr: '0',
      scp: 'access_as_user',
      username: ALICE.username,
    });
    const id = await check.idToken(r.result.first.idToken, { clientId: CLI_APP, username: ALICE.username });
    assert.equal(id.name, 'Alice');
    assert.ok(r.result.first.scopes.includes('api://orders-api/access_as_user'), r.result.first.scopes.join(' '));
    assert.equal(r.result.first.tenantId, CLIENTS_TENANT);
    const expiresIn = (Date.parse(r.result.first.expiresOn) - Date.now()) / 1000;
    assert.ok(expiresIn > 3500 && expiresIn <= 5400, `msal's expiresOn is ${expiresIn} s away`);
    await check.v2User(r.result.refreshed.accessToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username });
    // A refresh token is not bound to one resource: the same one buys a v1 Graph token.
    const graph = await check.v1User(r.result.byRefreshToken.accessToken, {
      aud: GRAPH,
      appid: CLI_APP,
      scp: 'User.Read',
      upn: ALICE.username,
    });
    assert.equal(graph.oid, first.oid);
  });

  it('username and password: a wrong password is AADSTS50126, an unknown user AADSTS50034', async () => {
    const wrong = await run({
      flow: 'username-password',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      username: ALICE.username,
      password: 'nope',
    });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /invalid_grant.*AADSTS50126: Error validating credentials due to invalid username or password/s);
    const nobody = await run({
      flow: 'username-password',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      username: 'nobody@clients.onmicrosoft.com',
      password: 'nope',
    });
    assert.equal(nobody.ok, false);
    assert.match(nobody.error!, /invalid_grant.*AADSTS50034/s);
  });

  it("multi-tenant authorities (organizations, common): the tenant is the user's, the tokens are that tenant's", async () => {
    const ropc = await run({
      flow: 'username-password',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      tenantId: 'organizations',
      ...ALICE,
    });
    assert.ok(ropc.ok, ropc.error);
    const t = await check.v2User(ropc.result.first.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      scp: 'access_as_user',
      username: ALICE.username,
    });
    assert.equal(ropc.result.first.account.homeAccountId, `${t.oid}.${CLIENTS_TENANT}`);
    await check.idToken(ropc.result.first.idToken, { clientId: CLI_APP, username: ALICE.username });
    await check.v2User(ropc.result.refreshed.accessToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username });
    const device = await run(
      { flow: 'device-code', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], tenantId: 'common' },
      (code) => completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, ALICE.username, ALICE.password).then(() => undefined),
    );
    assert.ok(device.ok, device.error);
    assert.equal(
      (await check.v2User(device.result.first.accessToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username }))
        .oid,
      t.oid,
    );
  });

  it("acquireTokenInteractive: msal's loopback listener gets the code from the redirect, then refresh", async () => {
    const r = await run({ flow: 'interactive', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], ...ALICE });
    assert.ok(r.ok, r.error);
    assert.match(r.result.redirectedTo, /^http:\/\/localhost:\d+\/?$/, "the registered http://localhost matched msal's port");
    const at = await check.v2User(r.result.first.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      azpacr: '0',
      scp: 'access_as_user',
      username: ALICE.username,
    });
    await check.idToken(r.result.first.idToken, { clientId: CLI_APP, username: ALICE.username });
    assert.equal(r.result.first.account.homeAccountId, `${at.oid}.${CLIENTS_TENANT}`);
    await check.v2User(r.result.refreshed.accessToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username });
  });

  it('authorization code + PKCE for a confidential web app: getAuthCodeUrl, sign-in, user consent, acquireTokenByCode', async () => {
    const r = await run({
      flow: 'auth-code',
      clientId: WEB_APP,
      secret: WEB_SECRET,
      redirectUri: WEB_REDIRECT,
      scopes: ['api://orders-api/access_as_user'],
      ...ALICE,
    });
    assert.ok(r.ok, r.error);
    assert.equal(r.result.redirectedTo, WEB_REDIRECT);
    assert.equal(r.result.consented, true, 'nobody had consented to orders-web: the consent page came up');
    const at = await check.v2User(r.result.accessToken, {
      aud: API_APP,
      azp: WEB_APP,
      azpacr: '1',
      scp: 'access_as_user',
      username: ALICE.username,
    });
    const id = await check.idToken(r.result.idToken, { clientId: WEB_APP, username: ALICE.username });
    assert.equal(id.oid, at.oid);
    assert.equal(r.result.account.homeAccountId, `${at.oid}.${CLIENTS_TENANT}`);
    // The second sign-in needs no consent: it was recorded.
    const again = await run({
      flow: 'auth-code',
      clientId: WEB_APP,
      secret: WEB_SECRET,
      redirectUri: WEB_REDIRECT,
      scopes: ['api://orders-api/access_as_user'],
      ...ALICE,
    });
    assert.ok(again.ok, again.error);
    assert.equal(again.result.consented, false);
  });

  it('on-behalf-of: the API trades the user token for a v1 Graph token and a v1 inventory-api token for the same user', async () => {
    const r = await run({
      flow: 'on-behalf-of',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      ...ALICE,
      apiClientId: API_APP,
      apiSecret: API_SECRET,
      downstream: [[`${GRAPH}/User.Read`], ['api://inventory-api/Inventory.Read']],
    });
    assert.ok(r.ok, r.error);
    const user = await check.v2User(r.result.user.accessToken, {
      aud: API_APP,
      azp: CLI_APP,
      scp: 'access_as_user',
      username: ALICE.username,
    });
    const graph = await check.v1User(r.result.obos[0].accessToken, {
      aud: GRAPH,
      appid: API_APP,
      appidacr: '1',
      scp: 'User.Read',
      upn: ALICE.username,
    });
    assert.equal(graph.oid, user.oid);
    const inventory = await check.v1User(r.result.obos[1].accessToken, {
      aud: 'api://inventory-api',
      appid: API_APP,
      appidacr: '1',
      scp: 'Inventory.Read',
      upn: ALICE.username,
    });
    assert.equal(inventory.oid, user.oid);
    assert.notEqual(inventory.sub, graph.sub, 'sub is pairwise per resource');
  });

  it('on-behalf-of is refused for a token whose audience is another API (AADSTS50013)', async () => {
    // orders-cli's Graph token is not for orders-api: orders-api may not exchange it.
    const r = await run({
      flow: 'on-behalf-of',
      clientId: CLI_APP,
      scopes: [`${GRAPH}/User.Read`],
      ...ALICE,
      apiClientId: API_APP,
      apiSecret: API_SECRET,
      downstream: [['api://inventory-api/Inventory.Read']],
    });
    assert.equal(r.ok, false);
    assert.match(r.error!, /invalid_grant.*AADSTS50013/s);
  });
});
