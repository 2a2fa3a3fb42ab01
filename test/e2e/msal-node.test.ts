import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { certificateThumbprints, createSelfSignedCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { ALICE, API_APP, API_SECRET, CLI_APP, CLIENTS_TENANT, clientSeed, DAEMON_APP, DAEMON_SECRET, jwksVerifier } from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';

// The real @azure/msal-node against `kentra up`, configured only with the authority, knownAuthorities
// and the CA (NODE_EXTRA_CA_CERTS).

describe('msal-node against Kentra', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let cert: CertificateAndKey;
  let verify: (t: string) => Promise<Record<string, any>>;
  const base = () => ({ lib: 'msal', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT });
  const run = (s: Record<string, unknown>, onUserCode?: (c: string) => Promise<void>) => runClient({ ...base(), ...s }, { caFile: k.endpoints.caFile, onUserCode });
  const lifetime = (token: Record<string, any>) => token.exp - token.iat;

  before(async () => {
    cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    k = await startTestKentra({ seed: clientSeed({ certificatePem: cert.certPem }) });
    verify = await jwksVerifier(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
  });
  after(async () => k?.close());

  it('client credentials with a secret: an app token with the granted role', async () => {
    const r = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.aud, API_APP);
    assert.equal(t.iss, `${k.endpoints.authority}/${CLIENTS_TENANT}/v2.0`);
    assert.equal(t.ver, '2.0');
    assert.equal(t.azp, DAEMON_APP);
    assert.equal(t.azpacr, '1');
    assert.equal(t.idtyp, 'app');
    assert.deepEqual(t.roles, ['Orders.Read']);
    assert.ok(lifetime(t) >= 3600 && lifetime(t) <= 5400);
  });

  it('client credentials with a certificate (RS256 assertion with x5t#S256)', async () => {
    const r = await run({ flow: 'client-certificate', clientId: DAEMON_APP, privateKeyPem: cert.keyPem, thumbprintSha256: Buffer.from(certificateThumbprints(cert.certDer).sha256, 'base64url').toString('hex'), scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.azp, DAEMON_APP);
    assert.equal(t.azpacr, '2');
  });

  it('refuses a wrong secret and an unknown tenant with the AADSTS codes', async () => {
    const bad = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: 'wrong-secret-0123456789', scopes: ['api://orders-api/.default'] });
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /invalid_client.*7000215/s);
    const noTenant = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'], tenantId: 'no-such-tenant.onmicrosoft.com' });
    assert.equal(noTenant.ok, false);
    assert.match(noTenant.error!, /90002|endpoints_resolution_error/);
  });

  it('device code completed on /devicelogin, then a silent refresh', async () => {
    const r = await run({ flow: 'device-code', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'] },
      (code) => completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, ALICE.username, ALICE.password).then(() => undefined));
    assert.ok(r.ok, r.error);
    assert.match(r.stderr, /MESSAGE To sign in, use a web browser to open the page https:\/\/localhost:\d+\/devicelogin and enter the code [A-Z]{9} to authenticate\./);
    const first = await verify(r.result.first.accessToken);
    assert.equal(first.aud, API_APP);
    assert.equal(first.scp, 'access_as_user');
    assert.equal(first.preferred_username, ALICE.username);
    assert.equal(first.azp, CLI_APP);
    assert.equal(r.result.first.account.username, ALICE.username);
    assert.equal(r.result.first.account.homeAccountId, `${first.oid}.${CLIENTS_TENANT}`);
    const id = await verify(r.result.first.idToken);
    assert.equal(id.aud, CLI_APP);
    const refreshed = await verify(r.result.refreshed.accessToken);
    assert.notEqual(r.result.refreshed.accessToken, r.result.first.accessToken);
    assert.equal(refreshed.oid, first.oid);
  });

  it('username and password, then a silent refresh', async () => {
    const r = await run({ flow: 'username-password', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], ...ALICE });
    assert.ok(r.ok, r.error);
    assert.equal((await verify(r.result.first.accessToken)).preferred_username, ALICE.username);
    assert.equal((await verify(r.result.refreshed.accessToken)).scp, 'access_as_user');
    const wrong = await run({ flow: 'username-password', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], username: ALICE.username, password: 'nope' });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /50126/);
  });

  it('on-behalf-of: the API trades the user token for a Graph token for the same user', async () => {
    const r = await run({ flow: 'on-behalf-of', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'], ...ALICE, apiClientId: API_APP, apiSecret: API_SECRET, downstreamScopes: ['https://graph.microsoft.com/User.Read'] });
    assert.ok(r.ok, r.error);
    const user = await verify(r.result.user.accessToken);
    const obo = await verify(r.result.obo.accessToken);
    assert.equal(obo.aud, 'https://graph.microsoft.com');
    assert.equal(obo.oid, user.oid);
    assert.equal(obo.appid, API_APP);
    assert.equal(obo.scp, 'User.Read');
    assert.equal(obo.upn, ALICE.username);
  });
});
