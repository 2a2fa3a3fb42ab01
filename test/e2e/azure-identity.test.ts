import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { ALICE, API_APP, CLI_APP, CLIENTS_TENANT, clientSeed, DAEMON_APP, DAEMON_SECRET, FEDERATED_SUBJECT, jwksVerifier } from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';

// The real @azure/identity credentials against `kentra up`, with only authorityHost,
// disableInstanceDiscovery and the CA set.

describe('@azure/identity against Kentra', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let issuer: TestIssuer;
  let dir: string;
  let certFile: string;
  let verify: (t: string) => Promise<Record<string, any>>;
  const run = (s: Record<string, unknown>, onUserCode?: (c: string) => Promise<void>) =>
    runClient({ lib: 'identity', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT, ...s }, { caFile: k.endpoints.caFile, onUserCode });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-identity-'));
    const cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    certFile = join(dir, 'daemon.pem');
    writeFileSync(certFile, `${cert.certPem}${cert.keyPem}`);
    issuer = await startTestIssuer(dir);
    // Kentra fetches the issuer's keys, so it trusts the issuer's CA (as it would a cluster's).
    k = await startTestKentra({ seed: clientSeed({ certificatePem: cert.certPem, issuer: issuer.url }), env: { NODE_EXTRA_CA_CERTS: issuer.caFile } });
    verify = await jwksVerifier(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
  });
  after(async () => {
    await k?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ClientSecretCredential', async () => {
    const r = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.aud, API_APP);
    assert.deepEqual(t.roles, ['Orders.Read']);
    const expiresIn = (r.result.expiresOnTimestamp - Date.now()) / 1000;
    assert.ok(expiresIn > 3000 && expiresIn <= 5400, `expires in ${expiresIn}`);
  });

  it('ClientCertificateCredential (PS256 assertion with x5t#S256)', async () => {
    const r = await run({ flow: 'client-certificate', clientId: DAEMON_APP, certificateFile: certFile, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.azp, DAEMON_APP);
    assert.equal(t.azpacr, '2');
  });

  it('ClientAssertionCredential with a federated credential (workload identity)', async () => {
    const assertionFile = join(dir, 'token');
    writeFileSync(assertionFile, issuer.sign({ sub: FEDERATED_SUBJECT, aud: 'api://AzureADTokenExchange' }));
    const r = await run({ flow: 'client-assertion', clientId: DAEMON_APP, assertionFile, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.azp, DAEMON_APP);
    assert.deepEqual(t.roles, ['Orders.Read']);

    writeFileSync(assertionFile, issuer.sign({ sub: 'system:serviceaccount:default:someone-else', aud: 'api://AzureADTokenExchange' }));
    const wrong = await run({ flow: 'client-assertion', clientId: DAEMON_APP, assertionFile, scopes: ['api://orders-api/.default'] });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /AADSTS70021: No matching federated identity record found for presented assertion/);
  });

  it('DeviceCodeCredential completed on /devicelogin', async () => {
    const r = await run({ flow: 'device-code', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'] },
      (code) => completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, ALICE.username, ALICE.password).then(() => undefined));
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.preferred_username, ALICE.username);
    assert.equal(t.scp, 'access_as_user');
  });

  it('UsernamePasswordCredential', async () => {
    const r = await run({ flow: 'username-password', clientId: CLI_APP, scopes: ['api://orders-api/.default'], ...ALICE });
    assert.ok(r.ok, r.error);
    const t = await verify(r.result.accessToken);
    assert.equal(t.preferred_username, ALICE.username);
    assert.equal(t.azp, CLI_APP);
    const wrong = await run({ flow: 'username-password', clientId: CLI_APP, scopes: ['api://orders-api/.default'], username: ALICE.username, password: 'nope' });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /AADSTS50126/);
  });
});
