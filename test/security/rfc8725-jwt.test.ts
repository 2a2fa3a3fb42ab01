import assert from 'node:assert/strict';
import {
  createHash,
  createHmac,
  createPublicKey,
  createSign,
  generateKeyPairSync,
  constants,
  randomUUID,
  sign as rawSign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { storeSigningKeyPem } from '../support/signing-key.js';
import { createSelfSignedCertificate, type CertificateAndKey } from '../../src/pki/index.js';
import { httpsFetch, postForm } from '../support/http.js';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { postJson, tokenReview } from '../support/webhook-client.js';

// RFC 8725 (JWT BCP) and RFC 7515 §4.1.11 at every verifier of Kentra's own tokens
// (reference/security.md §7): Microsoft Graph, ARM, OIDC userinfo, the on-behalf-of grant and a
// cluster's TokenReview webhook. Each attack starts from a real token Kentra issued and changes one
// thing; the untouched token is accepted by the same verifier, so each refusal is the check at work.
//
// Tokens that need a valid signature under Kentra's key (crit, a foreign issuer, PS256) are re-signed
// with the private key read from the SQLite store in the data directory, the way test/support's
// expiredCopy does: an attacker without the key cannot make them, a verifier must still refuse them.

const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const D = 'kentra.onmicrosoft.com';
const ADMINS = '88888888-0000-4000-8000-0000000000a1';
const MIDDLE = '88888888-0000-4000-8000-0000000000c1';
const MIDDLE_SECRET = 'middle-tier-secret-0123456789';

const CERT_APP = '88888888-0000-4000-8000-0000000000c2';

const seed = (certPem: string) => `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!' }
    groups:
      - { displayName: admins, id: ${ADMINS}, members: [alice@${D}] }
    applications:
      - displayName: middle-tier
        appId: ${MIDDLE}
        identifierUris: ['api://middle-tier']
        scopes: [{ value: access_as_user }]
        secrets: ['${MIDDLE_SECRET}']
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
      - displayName: certificate-daemon
        appId: ${CERT_APP}
        certificates: [{ pem: ${JSON.stringify(certPem)} }]
`;

/** The attacker's own RSA key pair (made once). */
const attackerKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const partsOf = (jwt: string) => {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
};

/** Kentra's signing key for `kid`, from the store in the data directory, unsealed (test-only). */
const storeSigningKey = (dataDir: string, kid: string): string => storeSigningKeyPem(dataDir, kid);

const rs256 = (header: object, payload: object, key: string | KeyObject) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
};

interface Verifier {
  name: string;
  /** A real token this verifier accepts. */
  token(): string;
  /** Presents a token; true when the verifier accepted it. */
  accepts(token: string): Promise<boolean>;
}

describe('RFC 8725 / RFC 7515 at every verifier of Kentra tokens', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let tid: string;
  let uid: string;
  let webhookClient: CertificateAndKey;
  let publicKeyPem: string;
  let daemonCert: CertificateAndKey;
  const tokens: Record<string, string> = {};

  const tokenEndpoint = (fields: Record<string, string>) =>
    postForm(`${k.endpoints.authority}/${tid}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
  const bearer = (url: string, t: string) => httpsFetch(url, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${t}` } });
  const ropc = async (clientId: string, scope: string, extra: Record<string, string> = {}) => {
    const res = await tokenEndpoint({
      client_id: clientId,
      grant_type: 'password',
      username: `alice@${D}`,
      password: 'Alice-Passw0rd!',
      scope,
      ...extra,
    });
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };

  before(async () => {
    daemonCert = await createSelfSignedCertificate({ commonName: 'certificate-daemon' });
    k = await startTestKentra({ seed: seed(daemonCert.certPem), extraArgs: ['--provisioning-delay', '0'] });
    tid = k.endpoints.tenantId;
    tokens.graph = await ropc(AZURE_CLI, 'https://graph.microsoft.com/.default');
    tokens.arm = await ropc(AZURE_CLI, 'https://management.azure.com//.default');
    tokens.middle = await ropc(MIDDLE, 'api://middle-tier/.default', { client_secret: MIDDLE_SECRET });
    tokens.aks = await ropc(AKS_CLIENT, `${AKS_SERVER}/.default`);
    const kid = partsOf(tokens.graph).header.kid;
    const jwks = (await httpsFetch(`${k.endpoints.authority}/${tid}/discovery/v2.0/keys`, { caFile: k.endpoints.caFile })).json()
      .keys as any[];
    publicKeyPem = createPublicKey({ key: jwks.find((j) => j.kid === kid), format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();

    const owner = (
      await tokenEndpoint({
        client_id: k.endpoints.servicePrincipal.appId,
        client_secret: k.endpoints.servicePrincipal.secret,
        grant_type: 'client_credentials',
        scope: 'https://management.azure.com/.default',
      })
    ).json().access_token as string;
    const arm = (method: string, path: string, body?: unknown) =>
      httpsFetch(`${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}${path}?api-version=2022-11-01`, {
        method,
        caFile: k.endpoints.caFile,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${owner}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      });
    ({ uid, webhookClient } = await clusterWithWebhookClient(k, arm, ADMINS));
  });
  after(async () => k?.close());

  const verifiers: Verifier[] = [
    {
      name: 'Microsoft Graph',
      token: () => tokens.graph!,
      accepts: async (t) => (await bearer(`${k.endpoints.authority}/v1.0/me`, t)).status === 200,
    },
    {
      name: 'ARM',
      token: () => tokens.arm!,
      accepts: async (t) => (await bearer(`${k.endpoints.armEndpoint}subscriptions?api-version=2022-12-01`, t)).status === 200,
    },
    {
      name: 'OIDC userinfo',
      token: () => tokens.graph!,
      accepts: async (t) => (await bearer(`${k.endpoints.authority}/oidc/userinfo`, t)).status === 200,
    },
    {
      name: 'the on-behalf-of grant',
      token: () => tokens.middle!,
      accepts: async (t) =>
        (
          await tokenEndpoint({
            grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
            requested_token_use: 'on_behalf_of',
            client_id: MIDDLE,
            client_secret: MIDDLE_SECRET,
            assertion: t,
            scope: 'https://graph.microsoft.com/.default',
          })
        ).status === 200,
    },
    {
      name: "a cluster's TokenReview webhook",
      token: () => tokens.aks!,
      accepts: async (t) => {
        const r = await postJson(
          `${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`,
          tokenReview(t),
          readFileSync(k.endpoints.caFile, 'utf8'),
          webhookClient,
        );
        return r.status === 200 && r.json?.status?.authenticated === true;
      },
    },
  ];

  /** Each attack: the standard's section, what the token is, how to make it from a real one. */
  const attacks: { rule: string; what: string; forge: (real: string) => string }[] = [
    {
      rule: 'RFC 8725 §3.1',
      what: "signed with alg 'none'",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return `${b64({ ...header, alg: 'none' })}.${b64(payload)}.`;
      },
    },
    {
      rule: 'RFC 8725 §3.1',
      what: 'signed with HS256 using the published public key as the HMAC secret',
      forge: (real) => {
        const { header, payload } = partsOf(real);
        const input = `${b64({ ...header, alg: 'HS256' })}.${b64(payload)}`;
        return `${input}.${createHmac('sha256', publicKeyPem).update(input).digest('base64url')}`;
      },
    },
    {
      rule: 'RFC 8725 §3.1',
      what: "signed with PS256 under Kentra's own RS256 key (one algorithm per key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        const input = `${b64({ ...header, alg: 'PS256' })}.${b64(payload)}`;
        const sig = rawSign('sha256', Buffer.from(input), {
          key: storeSigningKey(k.dataDir, header.kid),
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        });
        return `${input}.${sig.toString('base64url')}`;
      },
    },
    {
      rule: 'RFC 8725 §3.10',
      what: "signed with an attacker's own RSA key under Kentra's kid",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return rs256(header, payload, attackerKeys.privateKey);
      },
    },
    {
      rule: 'RFC 8725 §3.10',
      what: "signed with an attacker's key announced in its own jwk and jku headers",
      forge: (real) => {
        const { payload } = partsOf(real);
        const { privateKey, publicKey } = attackerKeys;
        const jwk = publicKey.export({ format: 'jwk' });
        return rs256(
          { alg: 'RS256', typ: 'JWT', kid: 'attacker-key', jwk: { ...jwk, kid: 'attacker-key' }, jku: 'https://evil.example/keys' },
          payload,
          privateKey,
        );
      },
    },
    {
      rule: 'RFC 7515 §4.1.11',
      what: "with a crit header naming an extension Kentra does not understand (signed with Kentra's key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return rs256(
          { ...header, crit: ['urn:example:must-understand'], 'urn:example:must-understand': true },
          payload,
          storeSigningKey(k.dataDir, header.kid),
        );
      },
    },
    {
      rule: 'RFC 7515 §4.1.11',
      what: "with an empty crit header (signed with Kentra's key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return rs256({ ...header, crit: [] }, payload, storeSigningKey(k.dataDir, header.kid));
      },
    },
    {
      rule: 'RFC 8725 §3.8',
      what: "whose v2 issuer names another https host (signed with Kentra's key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return rs256(header, { ...payload, iss: `https://evil.example/${payload.tid}/v2.0` }, storeSigningKey(k.dataDir, header.kid));
      },
    },
    {
      rule: 'RFC 8725 §3.8',
      what: "whose v2 issuer names Kentra's host on another port (signed with Kentra's key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        const port = Number(new URL(k.endpoints.authority).port) === 1 ? 2 : 1;
        return rs256(header, { ...payload, iss: `https://localhost:${port}/${payload.tid}/v2.0` }, storeSigningKey(k.dataDir, header.kid));
      },
    },
    {
      rule: 'RFC 8725 §3.8',
      what: "whose v2 issuer is Kentra's origin with a query string slipped into the host part (signed with Kentra's key)",
      forge: (real) => {
        const { header, payload } = partsOf(real);
        return rs256(
          header,
          { ...payload, iss: `${new URL(k.endpoints.authority).origin}?evil.example/${payload.tid}/v2.0` },
          storeSigningKey(k.dataDir, header.kid),
        );
      },
    },
  ];

  // Client assertions signed with an application's certificate (client-auth.ts): the client, not
  // Kentra, holds the key, so PS256 (azidentity's choice) is allowed there and the issuer is the client id.
  describe('certificate client assertions at the token endpoint', () => {
    const assertion = (header: Record<string, unknown> = {}, key: string | KeyObject = daemonCert.keyPem) => {
      const now = Math.floor(Date.now() / 1000);
      const x5t = createHash('sha1').update(daemonCert.certDer).digest('base64url');
      return rs256(
        { alg: 'RS256', typ: 'JWT', x5t, ...header },
        {
          aud: `${k.endpoints.authority}/${tid}/oauth2/v2.0/token`,
          iss: CERT_APP,
          sub: CERT_APP,
          jti: randomUUID(),
          nbf: now,
          exp: now + 600,
        },
        key,
      );
    };
    const accepts = async (clientAssertion: string) =>
      (
        await tokenEndpoint({
          grant_type: 'client_credentials',
          client_id: CERT_APP,
          scope: 'https://graph.microsoft.com/.default',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        })
      ).status === 200;

    it('RFC 7523 §3: an assertion signed with the registered certificate is accepted (the control)', async () => {
      assert.equal(await accepts(assertion()), true);
    });
    it("RFC 8725 §3.1: an assertion signed with alg 'none' is refused", async () => {
      const [h, p] = assertion().split('.');
      assert.equal(await accepts(`${b64({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'none' })}.${p}.`), false);
    });
    it("RFC 8725 §3.1: an assertion signed with HS256 using the certificate's public key as the HMAC secret is refused", async () => {
      const [h, p] = assertion().split('.');
      const input = `${b64({ ...JSON.parse(Buffer.from(h!, 'base64url').toString()), alg: 'HS256' })}.${p}`;
      const secret = createPublicKey(daemonCert.certPem).export({ type: 'spki', format: 'pem' });
      assert.equal(await accepts(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`), false);
    });
    it("RFC 8725 §3.10: an assertion naming the certificate's x5t but signed with another key is refused", async () => {
      assert.equal(await accepts(assertion({}, attackerKeys.privateKey)), false);
    });
    it('RFC 7515 §4.1.11: an assertion with a crit header naming an unknown extension is refused', async () => {
      assert.equal(await accepts(assertion({ crit: ['urn:example:must-understand'], 'urn:example:must-understand': true })), false);
    });
    it('RFC 7515 §4.1.11: an assertion with an empty crit header is refused', async () => {
      assert.equal(await accepts(assertion({ crit: [] })), false);
    });
  });

  it("RFC 8725 §3.12: an id_token (aud = the middle tier, no scp) is not accepted as the on-behalf-of grant's assertion", async () => {
    const signIn = await tokenEndpoint({
      client_id: MIDDLE,
      client_secret: MIDDLE_SECRET,
      grant_type: 'password',
      username: `alice@${D}`,
      password: 'Alice-Passw0rd!',
      scope: 'api://middle-tier/.default openid profile',
    });
    assert.equal(signIn.status, 200, signIn.text);
    const idToken = signIn.json().id_token as string;
    assert.equal(partsOf(idToken).payload.aud, MIDDLE, 'the id_token is for the middle tier');
    const obo = await tokenEndpoint({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      requested_token_use: 'on_behalf_of',
      client_id: MIDDLE,
      client_secret: MIDDLE_SECRET,
      assertion: idToken,
      scope: 'https://graph.microsoft.com/.default',
    });
    assert.equal(obo.status, 400, `an id_token was exchanged: ${obo.text}`);
    assert.equal(obo.json().error, 'invalid_grant');
  });

  // The control runs first: every forgery below is presented after the genuine token it was made from
  // was verified, so it also meets the verifiers' cache of verified tokens (--verified-token-cache-size).
  for (const v of verifiers) {
    describe(v.name, () => {
      it(`RFC 8725 §3: the untouched token Kentra issued is accepted by ${v.name} (the control for the refusals below)`, async () => {
        assert.equal(await v.accepts(v.token()), true);
      });
      it(`RFC 8725 §3.8: a token re-signed with Kentra's key and Kentra's own v2 issuer is accepted by ${v.name}`, async () => {
        const { header, payload } = partsOf(v.token());
        const own = rs256(
          header,
          { ...payload, iss: `${new URL(k.endpoints.authority).origin}/${payload.tid}/v2.0` },
          storeSigningKey(k.dataDir, header.kid),
        );
        assert.equal(await v.accepts(own), true, 'the v2 issuer of this server stays valid');
      });
      for (const a of attacks) {
        it(`${a.rule}: a token ${a.what} is refused by ${v.name}`, async () => {
          assert.equal(await v.accepts(a.forge(v.token())), false, `${v.name} accepted a token ${a.what}`);
        });
      }
    });
  }
});
