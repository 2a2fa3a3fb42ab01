import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import {
  ALICE,
  API_APP,
  API_SECRET,
  CLI_APP,
  CLIENTS_TENANT,
  clientSeed,
  DAEMON_APP,
  DAEMON_SECRET,
  FEDERATED_SUBJECT,
} from '../support/client-seed.js';
import { runClient } from '../support/clients.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { extendSeed, tokenChecker, userCodeIn, type TokenChecker } from './clients/expect.js';

// The real @azure/identity credentials against `kentra up`, with only authorityHost,
// disableInstanceDiscovery and the CA (NODE_EXTRA_CA_CERTS in the client's process) set.
// Workload identity: the test runs a small HTTPS OIDC issuer (as a Kubernetes cluster's service
// account issuer would be) whose TLS certificate comes from its own CA; Kentra trusts that CA through
// NODE_EXTRA_CA_CERTS in its own process, fetches the issuer's discovery document and keys, and
// matches the assertion against orders-daemon's federated identity credential.

const GRAPH = 'https://graph.microsoft.com';
const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';

describe('@azure/identity against Kentra', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let issuer: TestIssuer;
  let dir: string;
  let certFile: string;
  let check: TokenChecker;
  const run = (s: Record<string, unknown>, onUserCode?: (c: string) => Promise<void>) =>
    runClient(
      { lib: 'identity', authority: k.endpoints.authority, tenantId: CLIENTS_TENANT, ...s },
      { caFile: k.endpoints.caFile, onUserCode },
    );
  const expiresIn = (r: { result: { expiresOnTimestamp: number } }) => (r.result.expiresOnTimestamp - Date.now()) / 1000;
  const assertion = (claims: Parameters<TestIssuer['sign']>[0], name = 'token') => {
    const file = join(dir, name);
    writeFileSync(file, issuer.sign(claims));
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-identity-'));
    const cert = await createSelfSignedCertificate({ commonName: 'orders-daemon' });
    certFile = join(dir, 'daemon.pem');
    writeFileSync(certFile, `${cert.certPem}${cert.keyPem}`);
    issuer = await startTestIssuer(dir);
    const seed = extendSeed(clientSeed({ certificatePem: cert.certPem, issuer: issuer.url }), {
      patch: {
        [DAEMON_APP]: (a) => {
          a.graphPermissions = { application: ['User.Read.All'] };
        },
      },
    });
    // Kentra fetches the issuer's keys, so its process trusts the issuer's CA (as it would a cluster's).
    k = await startTestKentra({ seed, env: { NODE_EXTRA_CA_CERTS: issuer.caFile } });
    check = await tokenChecker(k.endpoints.authority, k.endpoints.caFile, CLIENTS_TENANT);
  });
  after(async () => {
    await k?.close();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ClientSecretCredential: a v2 token for the API and a v1 token for Graph', async () => {
    const r = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: ['api://orders-api/.default'] });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '1' });
    assert.ok(expiresIn(r) > 3500 && expiresIn(r) <= 5400, `expires in ${expiresIn(r)} s`);
    assert.equal(r.result.tokenType, 'Bearer');
    assert.equal(r.result.secondCallSameToken, true, 'the credential cached the token');
    const graph = await run({ flow: 'client-secret', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: `${GRAPH}/.default` });
    assert.ok(graph.ok, graph.error);
    await check.app(graph.result.accessToken, { version: 1, aud: GRAPH, clientId: DAEMON_APP, roles: ['User.Read.All'], acr: '1' });
  });

  it('ClientSecretCredential: a wrong secret is AADSTS7000215, an unknown tenant cannot be resolved', async () => {
    const bad = await run({
      flow: 'client-secret',
      clientId: DAEMON_APP,
      secret: 'wrong-secret-0123456789',
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(bad.ok, false);
    assert.match(
      bad.error!,
      /^AuthenticationRequiredError: invalid_client: Error\(s\): 7000215 .*AADSTS7000215: Invalid client secret provided/s,
    );
    // As against Entra, identity reports a failed authority resolution as CredentialUnavailableError
    // (the AADSTS90002 the discovery endpoint answers is checked on the wire in msal-node.test.ts).
    const noTenant = await run({
      flow: 'client-secret',
      clientId: DAEMON_APP,
      secret: DAEMON_SECRET,
      scopes: ['api://orders-api/.default'],
      tenantId: 'no-such-tenant.onmicrosoft.com',
    });
    assert.equal(noTenant.ok, false);
    assert.match(noTenant.error!, /^CredentialUnavailableError: endpoints_resolution_error/);
  });

  it('ClientCertificateCredential from a PEM file with the certificate and key (PS256, x5t#S256), with and without the chain', async () => {
    const r = await run({
      flow: 'client-certificate',
      clientId: DAEMON_APP,
      certificateFile: certFile,
      scopes: ['api://orders-api/.default'],
    });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '2' });
    const chain = await run({
      flow: 'client-certificate',
      clientId: DAEMON_APP,
      certificateFile: certFile,
      sendCertificateChain: true,
      scopes: [`${GRAPH}/.default`],
    });
    assert.ok(chain.ok, chain.error);
    await check.app(chain.result.accessToken, { version: 1, aud: GRAPH, clientId: DAEMON_APP, roles: ['User.Read.All'], acr: '2' });
  });

  it('ClientCertificateCredential with a certificate the app does not have: AADSTS700027', async () => {
    const other = await createSelfSignedCertificate({ commonName: 'stranger' });
    const file = join(dir, 'stranger.pem');
    writeFileSync(file, `${other.certPem}${other.keyPem}`);
    const r = await run({ flow: 'client-certificate', clientId: DAEMON_APP, certificateFile: file, scopes: ['api://orders-api/.default'] });
    assert.equal(r.ok, false);
    assert.match(r.error!, /invalid_client.*AADSTS700027/s);
  });

  it('ClientAssertionCredential with a federated credential (workload identity)', async () => {
    const r = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: FEDERATED_SUBJECT, aud: EXCHANGE_AUDIENCE }),
      scopes: ['api://orders-api/.default'],
    });
    assert.ok(r.ok, r.error);
    await check.app(r.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '2' });
    assert.ok(expiresIn(r) > 3500 && expiresIn(r) <= 5400, `expires in ${expiresIn(r)} s`);
    const graph = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: FEDERATED_SUBJECT, aud: EXCHANGE_AUDIENCE }),
      scopes: `${GRAPH}/.default`,
    });
    assert.ok(graph.ok, graph.error);
    await check.app(graph.result.accessToken, { version: 1, aud: GRAPH, clientId: DAEMON_APP, roles: ['User.Read.All'], acr: '2' });
  });

  it('ClientAssertionCredential: another subject or audience has no federated record (AADSTS70021)', async () => {
    const subject = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: 'system:serviceaccount:default:someone-else', aud: EXCHANGE_AUDIENCE }),
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(subject.ok, false);
    assert.match(subject.error!, /AADSTS70021: No matching federated identity record found for presented assertion/);
    const audience = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: FEDERATED_SUBJECT, aud: 'api://something-else' }),
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(audience.ok, false);
    assert.match(audience.error!, /AADSTS70021/);
  });

  it('ClientAssertionCredential: an expired or tampered assertion is refused', async () => {
    const expired = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: FEDERATED_SUBJECT, aud: EXCHANGE_AUDIENCE, lifetimeSeconds: -600 }),
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(expired.ok, false);
    assert.match(expired.error!, /invalid_client.*AADSTS700024/s);
    const token = issuer.sign({ sub: FEDERATED_SUBJECT, aud: EXCHANGE_AUDIENCE });
    const [h, p, sig] = token.split('.');
    const tampered = join(dir, 'tampered');
    writeFileSync(tampered, `${h}.${p}.${sig!.slice(0, 10)}${sig![10] === 'A' ? 'B' : 'A'}${sig!.slice(11)}`);
    const forged = await run({
      flow: 'client-assertion',
      clientId: DAEMON_APP,
      assertionFile: tampered,
      scopes: ['api://orders-api/.default'],
    });
    assert.equal(forged.ok, false);
    assert.match(forged.error!, /invalid_client.*AADSTS700213/s);
  });

  it('DefaultAzureCredential from the environment: workload identity (as in a pod) and a client secret', async () => {
    const wi = await run({
      flow: 'default-workload-identity',
      clientId: DAEMON_APP,
      assertionFile: assertion({ sub: FEDERATED_SUBJECT, aud: EXCHANGE_AUDIENCE }),
      scopes: ['api://orders-api/.default'],
    });
    assert.ok(wi.ok, wi.error);
    await check.app(wi.result.accessToken, { version: 2, aud: API_APP, clientId: DAEMON_APP, roles: ['Orders.Read'], acr: '2' });
    const env = await run({ flow: 'default-environment', clientId: DAEMON_APP, secret: DAEMON_SECRET, scopes: `${GRAPH}/.default` });
    assert.ok(env.ok, env.error);
    await check.app(env.result.accessToken, { version: 1, aud: GRAPH, clientId: DAEMON_APP, roles: ['User.Read.All'], acr: '1' });
  });

  it("OnBehalfOfCredential: orders-api exchanges the user's token for a Graph token", async () => {
    const r = await run({
      flow: 'on-behalf-of',
      clientId: CLI_APP,
      scopes: ['api://orders-api/access_as_user'],
      ...ALICE,
      apiClientId: API_APP,
      apiSecret: API_SECRET,
      downstreamScopes: [`${GRAPH}/User.Read`],
    });
    assert.ok(r.ok, r.error);
    const user = await check.v2User(r.result.userToken, { aud: API_APP, azp: CLI_APP, scp: 'access_as_user', username: ALICE.username });
    const obo = await check.v1User(r.result.accessToken, {
      aud: GRAPH,
      appid: API_APP,
      appidacr: '1',
      scp: 'User.Read',
      upn: ALICE.username,
    });
    assert.equal(obo.oid, user.oid);
  });

  it('DeviceCodeCredential: the prompt carries the code, a person signs in on /devicelogin', async () => {
    let given = '';
    const r = await run({ flow: 'device-code', clientId: CLI_APP, scopes: ['api://orders-api/access_as_user'] }, async (code) => {
      given = code;
      await completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, code, ALICE.username, ALICE.password);
    });
    assert.ok(r.ok, r.error);
    assert.equal(userCodeIn(/MESSAGE (.*)/.exec(r.stderr)![1]!), given);
    await check.v2User(r.result.accessToken, { aud: API_APP, azp: CLI_APP, azpacr: '0', scp: 'access_as_user', username: ALICE.username });
    assert.ok(expiresIn(r) > 3500 && expiresIn(r) <= 5400, `expires in ${expiresIn(r)} s`);
    assert.equal(r.result.secondCallSameToken, true, 'the second getToken came from the cache, not another sign-in');
  });

  it('UsernamePasswordCredential: v2 API token, v1 Graph token; a wrong password is AADSTS50126', async () => {
    const r = await run({ flow: 'username-password', clientId: CLI_APP, scopes: ['api://orders-api/.default'], ...ALICE });
    assert.ok(r.ok, r.error);
    await check.v2User(r.result.accessToken, { aud: API_APP, azp: CLI_APP, azpacr: '0', scp: 'access_as_user', username: ALICE.username });
    const graph = await run({ flow: 'username-password', clientId: CLI_APP, scopes: `${GRAPH}/User.Read`, ...ALICE });
    assert.ok(graph.ok, graph.error);
    await check.v1User(graph.result.accessToken, { aud: GRAPH, appid: CLI_APP, appidacr: '0', scp: 'User.Read', upn: ALICE.username });
    const wrong = await run({
      flow: 'username-password',
      clientId: CLI_APP,
      scopes: ['api://orders-api/.default'],
      username: ALICE.username,
      password: 'nope',
    });
    assert.equal(wrong.ok, false);
    assert.match(wrong.error!, /^AuthenticationRequiredError: invalid_grant.*AADSTS50126/s);
  });
});
