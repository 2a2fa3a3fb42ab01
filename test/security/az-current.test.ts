import assert from 'node:assert/strict';
import { createHash, createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// What the current Azure CLI (issue 15) made Kentra accept, and the attacks on it:
// - GET /metadata/endpoints answers each api-version in its own shape (one cloud object since
//   2022-09-01, for `az cloud register`); the endpoints it names are only Kentra's own origin, never a
//   Host header's; an api-version that is not a date is ARM's 400, not a shape guessed from it.
// - a certificate client assertion whose `x5t` is base64url with '=' padding (MSAL Python's
//   urlsafe_b64encode, which Entra accepts) finds the registered certificate, and nothing more: the
//   signature is still checked against that certificate, an unregistered one is still unknown.

const CERT_APP = '88888888-0000-4000-8000-0000000000d1';
const OTHER_APP = '88888888-0000-4000-8000-0000000000d2';
const seed = (certPem: string, otherPem: string) => `
tenants:
  - domain: kentra.onmicrosoft.com
    applications:
      - { displayName: az-certificate-daemon, appId: ${CERT_APP}, certificates: [{ pem: ${JSON.stringify(certPem)} }] }
      - { displayName: another-daemon, appId: ${OTHER_APP}, certificates: [{ pem: ${JSON.stringify(otherPem)} }] }
`;

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const rs256 = (header: object, payload: object, key: string | KeyObject) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
};
/** The x5t MSAL Python puts in its assertion header: urlsafe_b64encode of the SHA-1, '=' padding kept. */
const msalPythonX5t = (der: Buffer) => createHash('sha1').update(der).digest('base64').replace(/\+/g, '-').replace(/\//g, '_');

describe("the current Azure CLI's requests: cloud metadata and padded certificate thumbprints", { timeout: 120_000 }, () => {
  let k: TestKentra;
  let cert: CertificateAndKey;
  let other: CertificateAndKey;
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  before(async () => {
    cert = await createSelfSignedCertificate({ commonName: 'az-certificate-daemon' });
    other = await createSelfSignedCertificate({ commonName: 'another-daemon' });
    k = await startTestKentra({ seed: seed(cert.certPem, other.certPem) });
  });
  after(async () => {
    await k?.close();
  });

  const metadata = (query: string) => httpsFetch(`${k.endpoints.authority}//metadata/endpoints${query}`, { caFile: k.endpoints.caFile });

  describe('GET /metadata/endpoints', () => {
    it('api-version 2022-09-01: one cloud object whose Entra endpoint is the tenant authority and whose Graph is Kentra (the control)', async () => {
      const r = await metadata('?api-version=2022-09-01');
      assert.equal(r.status, 200);
      const cloud = r.json();
      assert.equal(Array.isArray(cloud), false);
      assert.equal(cloud.authentication.loginEndpoint, k.endpoints.authority);
      assert.deepEqual([cloud.resourceManager, cloud.microsoftGraphResourceId], [`${k.endpoints.authority}/`, `${k.endpoints.authority}/`]);
      assert.equal(cloud.authentication.audiences[0], 'https://management.core.windows.net/');
      assert.notEqual(cloud.name, 'AzureCloud', "az forces AzureCloud's login endpoint back to Microsoft's");
    });
    it('api-version 2015-01-01 (Debian az 2.45) keeps the ADFS-style login endpoint; 2019-05-01 is a list of clouds', async () => {
      assert.equal((await metadata('?api-version=2015-01-01')).json().authentication.loginEndpoint, `${k.endpoints.authority}/adfs`);
      const list = (await metadata('?api-version=2019-05-01')).json();
      assert.equal(list.length, 1);
      assert.equal(list[0].authentication.loginEndpoint, k.endpoints.authority);
    });
    for (const bad of [
      '?api-version=latest',
      '?api-version=2022-09-01%27%3E%3Cscript%3E',
      '?api-version=2022-09-01&api-version=2015-01-01',
      '?api-version=',
    ]) {
      it(`an api-version that is not one date (${bad}) is ARM's 400 InvalidApiVersionParameter`, async () => {
        const r = await metadata(bad);
        assert.equal(r.status, 400);
        assert.equal(r.json().error.code, 'InvalidApiVersionParameter');
        assert.match(
          r.json().error.message,
          /^The api-version '.*' is invalid\. The supported versions are '2015-01-01,2019-05-01,2020-06-01,2022-09-01'\.$/,
        );
        assert.doesNotMatch(r.text, /<script>/);
      });
    }
    it('a forged Host header never becomes an endpoint az would send credentials to', async () => {
      const { port } = new URL(k.endpoints.authority);
      const text = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          {
            hostname: '127.0.0.1',
            port,
            servername: 'localhost',
            path: '/metadata/endpoints?api-version=2022-09-01',
            ca: readFileSync(k.endpoints.caFile),
            headers: { host: `evil.example:${port}` },
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => {
              body += d.toString();
            });
            res.on('end', () => resolve(body));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.doesNotMatch(text, /evil\.example/);
      assert.equal(new URL(JSON.parse(text).authentication.loginEndpoint).hostname, 'localhost');
    });
  });

  describe('certificate client assertions with a padded x5t (MSAL Python)', () => {
    const tokenRequest = (clientId: string, clientAssertion: string) =>
      postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        {
          grant_type: 'client_credentials',
          client_id: clientId,
          scope: 'https://management.core.windows.net//.default',
          client_info: '1',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        },
        k.endpoints.caFile,
      );
    const assertion = (clientId: string, x5t: string, key: string | KeyObject) => {
      const now = Math.floor(Date.now() / 1000);
      return rs256(
        { alg: 'RS256', typ: 'JWT', x5t },
        {
          aud: `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
          iss: clientId,
          sub: clientId,
          jti: randomUUID(),
          nbf: now,
          exp: now + 600,
        },
        key,
      );
    };

    it('the registered certificate, x5t padded as MSAL Python sends it, is accepted (the control)', async () => {
      const x5t = msalPythonX5t(cert.certDer);
      assert.match(x5t, /=$/, 'a SHA-1 in base64 always ends in one "="');
      const r = await tokenRequest(CERT_APP, assertion(CERT_APP, x5t, cert.keyPem));
      assert.equal(r.status, 200, r.text);
    });
    it("the padded x5t of the app's certificate, signed with the attacker's key, is refused (AADSTS700027)", async () => {
      const r = await tokenRequest(CERT_APP, assertion(CERT_APP, msalPythonX5t(cert.certDer), attacker.privateKey));
      assert.equal(r.status, 401);
      assert.equal(r.json().error, 'invalid_client');
      assert.match(r.json().error_description, /^AADSTS700027: Client assertion failed signature validation\./);
    });
    it("another app's certificate (padded x5t, signed with its own key) does not sign in this app", async () => {
      const r = await tokenRequest(CERT_APP, assertion(CERT_APP, msalPythonX5t(other.certDer), other.keyPem));
      assert.equal(r.status, 401);
      assert.match(
        r.json().error_description,
        /^AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application\./,
      );
    });
    const lookalikes: [string, () => string][] = [
      ['only padding', () => '='],
      ['only padding, four times', () => '===='],
      ['text after the padding', () => `${msalPythonX5t(cert.certDer)}=x`],
      ['padding in front', () => `=${msalPythonX5t(cert.certDer)}`],
    ];
    for (const [what, x5t] of lookalikes) {
      it(`a thumbprint that only looks padded (${what}) names no certificate`, async () => {
        const r = await tokenRequest(CERT_APP, assertion(CERT_APP, x5t(), cert.keyPem));
        assert.equal(r.status, 401);
        assert.match(
          r.json().error_description,
          /^AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application\./,
        );
      });
    }
  });
});
