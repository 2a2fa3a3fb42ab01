import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { ALICE, API_APP, CLI_APP, CLIENTS_TENANT, clientSeed, jwksVerifier } from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// openid-client (panva), a strict OIDC relying party: discovery, then authorization code + PKCE with
// the library checking state, nonce and the id_token, and the userinfo endpoint.

describe('openid-client against Kentra', { timeout: 120_000 }, () => {
  let k: TestKentra;

  before(async () => {
    const cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    k = await startTestKentra({ seed: clientSeed({ certificatePem: cert.certPem }) });
  });
  after(async () => k?.close());

  it('discovers the issuer and completes a code + PKCE sign-in', async () => {
    const r = await runClient({
      lib: 'openid-client', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT, clientId: CLI_APP,
      scopes: ['openid', 'profile', 'offline_access', 'api://orders-api/access_as_user'], redirectUri: 'http://localhost:8400', ...ALICE,
    }, { caFile: k.endpoints.caFile });
    assert.ok(r.ok, r.error);
    assert.equal(r.result.issuer, `${k.endpoints.authority}/${CLIENTS_TENANT}/v2.0`);
    const id = r.result.idTokenClaims;
    assert.equal(id.aud, CLI_APP);
    assert.equal(id.tid, CLIENTS_TENANT);
    assert.equal(id.preferred_username, ALICE.username);
    assert.ok(id.nonce, 'the nonce came back and the library checked it');
    assert.equal(r.result.refreshToken, true);
    assert.equal(r.result.userinfo.sub, id.sub);
    assert.equal(r.result.userinfo.preferred_username, ALICE.username);
    const verify = await jwksVerifier(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
    const at = await verify(r.result.accessToken);
    assert.equal(at.aud, API_APP);
    assert.equal(at.scp, 'access_as_user');
  });

  it('fails the sign-in for a wrong password', async () => {
    const r = await runClient({
      lib: 'openid-client', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT, clientId: CLI_APP,
      scopes: ['openid'], redirectUri: 'http://localhost:8400', username: ALICE.username, password: 'wrong',
    }, { caFile: k.endpoints.caFile });
    assert.equal(r.ok, false);
    assert.match(r.error!, /AADSTS50126: Error validating credentials due to invalid username or password/);
  });
});
