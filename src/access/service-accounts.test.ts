import assert from 'node:assert/strict';
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as rsaSign,
  verify as rsaVerify,
  type KeyObject,
} from 'node:crypto';
import { before, describe, it } from 'node:test';
import { decodeJwt, signJwt, v1Issuer } from '../identity/index.js';
import {
  issueServiceAccountToken,
  serviceAccountAuthenticator,
  serviceAccountJwks,
  serviceAccountKeyId,
  serviceAccountOidcDiscovery,
  serviceAccountSigningKey,
  TokenRequestInvalidError,
  type AuthnResult,
  type IssueServiceAccountTokenOptions,
  type ServiceAccountSigningKey,
  type TokenAuthenticator,
} from './index.js';

const ISSUER = 'https://kentra.localhost:8443/clusters/c1';
const API = 'https://kubernetes.default.svc.cluster.local';
const SA_UID = '0b7e5c1a-4f2d-4c1e-9a3b-7d6e5f4a3b21';
const POD_UID = '9d2f0c4e-1a3b-4c5d-8e7f-6a5b4c3d2e1f';
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0, 750);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('access: Kubernetes service account tokens', () => {
  let signing: ServiceAccountSigningKey;
  let privateKey: KeyObject;
  let other: ServiceAccountSigningKey;
  let now = T0;
  const clock = { now: () => now };
  const accounts = new Map<string, { uid: string }>();
  const pods = new Map<string, { uid: string }>();
  let lookupFails = false;
  let authn: TokenAuthenticator;

  const issue = (extra: Partial<IssueServiceAccountTokenOptions> = {}) =>
    issueServiceAccountToken({
      issuer: ISSUER,
      key: { privateKey, kid: signing.kid },
      namespace: 'default',
      name: 'builder',
      uid: SA_UID,
      audiences: [API],
      expirationSeconds: 3600,
      now: T0,
      ...extra,
    });
  const result = (token: string, audiences?: string[], with_ = authn) => with_({ token, audiences });
  const error = async (token: string, audiences?: string[], with_ = authn) => {
    const r = await result(token, audiences, with_);
    assert.equal(r.kind, 'error', JSON.stringify(r));
    return (r as Extract<AuthnResult, { kind: 'error' }>).message;
  };
  /** A token with hand-made claims, signed by the cluster key. */
  const signed = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    signJwt({ alg: 'RS256', kid: signing.kid, ...header }, claims, privateKey);
  const claimsOf = (token: string) => decodeJwt(token).payload;

  before(async () => {
    [signing, other] = await Promise.all([serviceAccountSigningKey(), serviceAccountSigningKey()]);
    privateKey = createPrivateKey(signing.privateKeyPem);
    const publicKeys = new Map([[signing.kid, createPublicKey(signing.publicKeyPem)]]);
    accounts.set('default/builder', { uid: SA_UID });
    pods.set('default/web-0', { uid: POD_UID });
    authn = serviceAccountAuthenticator({
      issuer: ISSUER,
      publicKey: (kid) => publicKeys.get(kid),
      apiAudiences: [API],
      clock,
      serviceAccount: async (ns, name) => {
        if (lookupFails) throw new Error('store unavailable');
        return accounts.get(`${ns}/${name}`) ?? null;
      },
      boundObject: async (kind, ns, name) => (kind === 'Pod' ? pods.get(`${ns}/${name}`) : undefined) ?? null,
    });
  });

  it('signing keys: RSA 2048, kid = base64url SHA-256 of the DER SubjectPublicKeyInfo', () => {
    const key = createPublicKey(signing.publicKeyPem);
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(createPrivateKey(signing.privateKeyPem).asymmetricKeyType, 'rsa');
    const expected = createHash('sha256')
      .update(key.export({ type: 'spki', format: 'der' }))
      .digest('base64url');
    assert.equal(signing.kid, expected);
    assert.match(signing.kid, /^[A-Za-z0-9_-]{43}$/, 'unpadded base64url');
    assert.equal(serviceAccountKeyId(signing.publicKeyPem), signing.kid);
    assert.equal(serviceAccountKeyId(createPublicKey(signing.privateKeyPem)), signing.kid, 'the same kid from the private key');
    assert.notEqual(other.kid, signing.kid);
  });

  it('issues the upstream claims, RS256 with the kid, and an RFC 3339 expiry at seconds precision', () => {
    const { token, expirationTimestamp } = issue();
    const jwt = decodeJwt(token);
    assert.deepEqual(jwt.header, { alg: 'RS256', kid: signing.kid });
    const iat = Math.floor(T0 / 1000);
    const { jti, ...rest } = jwt.payload;
    assert.match(String(jti), UUID);
    assert.deepEqual(rest, {
      aud: [API],
      exp: iat + 3600,
      iat,
      nbf: iat,
      iss: ISSUER,
      sub: 'system:serviceaccount:default:builder',
      'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'builder', uid: SA_UID } },
    });
    assert.equal(expirationTimestamp, '2026-11-25T13:00:00Z');
    assert.notEqual(claimsOf(issue().token).jti, jti, 'a fresh jti per token');
    const pod = claimsOf(issue({ boundObject: { kind: 'Pod', name: 'web-0', uid: POD_UID } }).token)['kubernetes.io'];
    assert.deepEqual(pod, { namespace: 'default', serviceaccount: { name: 'builder', uid: SA_UID }, pod: { name: 'web-0', uid: POD_UID } });
    const secret = claimsOf(issue({ boundObject: { kind: 'Secret', name: 'tok', uid: 's-1' } }).token)['kubernetes.io'] as Record<
      string,
      unknown
    >;
    assert.deepEqual([secret.secret, secret.pod], [{ name: 'tok', uid: 's-1' }, undefined]);
  });

  it('refuses TokenRequests the kube-apiserver refuses, saying which field and why', () => {
    const refused = (extra: Partial<IssueServiceAccountTokenOptions>, message: RegExp) =>
      assert.throws(
        () => issue(extra),
        (err: unknown) => err instanceof TokenRequestInvalidError && err.code === 'TokenRequestInvalid' && message.test(err.message),
      );
    refused({ expirationSeconds: 599 }, /^spec\.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes$/);
    refused({ expirationSeconds: 2 ** 32 + 1 }, /may not specify a duration larger than 2\^32 seconds/);
    refused({ expirationSeconds: 3600.5 }, /whole number of seconds/);
    assert.equal(claimsOf(issue({ expirationSeconds: 600 }).token).exp, Math.floor(T0 / 1000) + 600, 'ten minutes is allowed');
    assert.equal(
      issue({ expirationSeconds: 2 ** 32 }).expirationTimestamp,
      new Date((Math.floor(T0 / 1000) + 2 ** 32) * 1000).toISOString().replace('.000Z', 'Z'),
    );
    refused({ name: '' }, /^metadata\.name: Required value$/);
    refused({ namespace: '' }, /^metadata\.namespace: Required value$/);
    refused({ uid: '' }, /^metadata\.uid: Required value$/);
    refused({ issuer: '' }, /^issuer: Required value$/);
    refused({ audiences: [] }, /^spec\.audiences: Required value/);
    refused({ audiences: [API, ''] }, /^spec\.audiences\[1\]: Required value$/);
    refused({ boundObject: { kind: 'Pod', name: 'web-0', uid: '' } }, /^spec\.boundObjectRef\.uid: Required value$/);
    refused({ boundObject: { kind: 'Node' as 'Pod', name: 'n', uid: 'u' } }, /^spec\.boundObjectRef\.kind: Unsupported value: "Node"/);
  });

  it("the JWKS serves keys whose n and e verify the tokens; the discovery document is the kube-apiserver's", () => {
    const jwks = serviceAccountJwks([signing, other]);
    assert.deepEqual(
      jwks.keys.map(({ kty, alg, use, kid, e }) => ({ kty, alg, use, kid, e })),
      [
        { kty: 'RSA', alg: 'RS256', use: 'sig', kid: signing.kid, e: 'AQAB' },
        { kty: 'RSA', alg: 'RS256', use: 'sig', kid: other.kid, e: 'AQAB' },
      ],
    );
    const jwt = decodeJwt(issue().token);
    const fromJwk = (i: number) => createPublicKey({ key: { kty: 'RSA', n: jwks.keys[i]!.n, e: jwks.keys[i]!.e }, format: 'jwk' });
    assert.equal(rsaVerify('sha256', Buffer.from(jwt.signingInput), fromJwk(0), jwt.signature), true);
    assert.equal(rsaVerify('sha256', Buffer.from(jwt.signingInput), fromJwk(1), jwt.signature), false, 'the other key does not');
    assert.equal(serviceAccountKeyId(fromJwk(0)), signing.kid, "the published kid is the key's own");
    assert.throws(
      () =>
        serviceAccountJwks([
          {
            publicKeyPem: createPublicKey({
              key: {
                kty: 'EC',
                crv: 'P-256',
                x: 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4',
                y: '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM',
              },
              format: 'jwk',
            }).export({ type: 'spki', format: 'pem' }) as string,
            kid: 'ec',
          },
        ]),
      /not an RSA key/,
    );
    assert.deepEqual(serviceAccountOidcDiscovery(ISSUER, `${ISSUER}/openid/v1/jwks`), {
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  it('authenticates an issued token as the service account, with the jti as credential ID', async () => {
    now = T0;
    const { token } = issue();
    const r = await result(token);
    assert.deepEqual(r, {
      kind: 'user',
      expiresAt: (Math.floor(T0 / 1000) + 3600) * 1000,
      user: {
        username: 'system:serviceaccount:default:builder',
        uid: SA_UID,
        groups: ['system:serviceaccounts', 'system:serviceaccounts:default'],
        extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${String(claimsOf(token).jti)}`] },
      },
    });
  });

  it('a pod-bound token names the pod in extra, and stops working when the pod is gone or replaced', async () => {
    now = T0;
    const { token } = issue({ boundObject: { kind: 'Pod', name: 'web-0', uid: POD_UID } });
    const r = await result(token);
    assert.equal(r.kind, 'user', JSON.stringify(r));
    const { extra } = (r as Extract<AuthnResult, { kind: 'user' }>).user;
    assert.deepEqual(extra, {
      'authentication.kubernetes.io/credential-id': [`JTI=${String(claimsOf(token).jti)}`],
      'authentication.kubernetes.io/pod-name': ['web-0'],
      'authentication.kubernetes.io/pod-uid': [POD_UID],
    });
    pods.set('default/web-0', { uid: 'recreated-pod' });
    assert.equal(await error(token), `pod UID (recreated-pod) does not match claim (${POD_UID})`);
    pods.delete('default/web-0');
    assert.equal(await error(token), 'pod default/web-0 has been deleted');
    pods.set('default/web-0', { uid: POD_UID });
    assert.equal(
      await error(issue({ boundObject: { kind: 'Secret', name: 'gone', uid: 's-1' } }).token),
      'secret default/gone has been deleted',
    );
  });

  it('gives no answer for what is not a JWT or not from this issuer, so the next authenticator can judge it', async () => {
    now = T0;
    assert.deepEqual(await result('static-admin-token-0123456789'), { kind: 'none' });
    assert.deepEqual(
      await result(issue({ issuer: 'https://kentra.localhost:8443/clusters/c2' }).token),
      { kind: 'none' },
      "another cluster's",
    );
    assert.deepEqual(
      await result(signed({ iss: v1Issuer('72f988bf-86f1-41af-91ab-2d7cd011db47'), aud: API, exp: 9e9 })),
      { kind: 'none' },
      'an Entra token',
    );
    assert.deepEqual(
      await result(signed({ sub: 'system:serviceaccount:default:builder', exp: 9e9 })),
      { kind: 'none' },
      'no issuer at all',
    );
  });

  it('refuses a token of this issuer with a foreign key, a forged payload or another algorithm', async () => {
    now = T0;
    const foreign = issue({ key: { privateKey: createPrivateKey(other.privateKeyPem), kid: other.kid } }).token;
    assert.equal(await error(foreign), `service account token: no signing key with kid "${other.kid}"`);
    const forgedKid = issue({ key: { privateKey: createPrivateKey(other.privateKeyPem), kid: signing.kid } }).token;
    assert.equal(await error(forgedKid), 'service account token: the signature is invalid', 'the right kid, the wrong key');
    const [h, p, s] = issue().token.split('.');
    const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'system:serviceaccount:kube-system:admin' };
    assert.equal(
      await error(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`),
      'service account token: the signature is invalid',
    );
    const pss = signJwt({ alg: 'PS256', kid: signing.kid }, claimsOf(issue().token), privateKey);
    assert.equal(await error(pss), 'service account token: the signing algorithm "PS256" is not accepted');
    const input = `${Buffer.from(JSON.stringify({ alg: 'RS512', kid: signing.kid })).toString('base64url')}.${p}`;
    const rs512 = `${input}.${rsaSign('sha512', Buffer.from(input), { key: privateKey, padding: constants.RSA_PKCS1_PADDING }).toString('base64url')}`;
    assert.equal(await error(rs512), 'service account token: the signing algorithm "RS512" is not accepted');
  });

  it('refuses expired and not-yet-valid tokens, with a minute of leeway on each', async () => {
    const { token } = issue({ expirationSeconds: 600 });
    const exp = Number(claimsOf(token).exp) * 1000;
    now = exp + 60_000;
    assert.equal((await result(token)).kind, 'user', 'inside the minute of leeway');
    now = exp + 61_000;
    assert.equal(await error(token), 'service account token has expired');
    now = T0;
    const early = issue({ now: T0 + 120_000 }).token;
    assert.equal(await error(early), 'service account token is not valid yet');
    assert.equal((await result(issue({ now: T0 + 59_000 }).token)).kind, 'user', 'nbf inside the minute of leeway');
    const claims = claimsOf(issue().token);
    assert.equal(await error(signed({ ...claims, exp: undefined })), 'service account token has no exp claim');
  });

  it("checks the audience against the request's audiences, or the API audiences when the request names none", async () => {
    now = T0;
    const vault = issue({ audiences: ['vault'] }).token;
    assert.equal(await error(vault), `token audiences ["vault"] is invalid for the target audiences ["${API}"]`);
    assert.equal(
      await error(vault, []),
      `token audiences ["vault"] is invalid for the target audiences ["${API}"]`,
      'an empty list means the API audiences',
    );
    assert.equal((await result(vault, ['vault', 'other'])).kind, 'user');
    assert.equal(
      await error(issue().token, ['vault']),
      `token audiences ["${API}"] is invalid for the target audiences ["vault"]`,
      "the request's audiences replace the API's",
    );
    assert.equal((await result(issue({ audiences: ['vault', API] }).token)).kind, 'user', 'one audience in common is enough');
    assert.equal(
      await error(signed({ ...claimsOf(issue().token), aud: API.toUpperCase() })),
      `token audiences ["${API.toUpperCase()}"] is invalid for the target audiences ["${API}"]`,
      'compared exactly',
    );
  });

  it('refuses the token of a deleted or recreated service account, and claims that do not agree', async () => {
    now = T0;
    const { token } = issue();
    accounts.set('default/builder', { uid: 'c0ffee00-0000-4000-8000-000000000001' });
    assert.equal(
      await error(token),
      `service account UID (c0ffee00-0000-4000-8000-000000000001) does not match claim (${SA_UID}): the token was issued to an earlier service account of that name`,
    );
    accounts.delete('default/builder');
    assert.equal(await error(token), 'service account default/builder has been deleted');
    accounts.set('default/builder', { uid: SA_UID });
    lookupFails = true;
    assert.match(await error(token), /could not look up service account default\/builder or its bound object: store unavailable$/);
    lookupFails = false;
    assert.equal((await result(token)).kind, 'user');
    const claims = claimsOf(token);
    const disagreeing = 'service account token: the kubernetes.io and sub claims are missing or do not agree';
    assert.equal(await error(signed({ ...claims, sub: 'system:serviceaccount:kube-system:builder' })), disagreeing);
    assert.equal(await error(signed({ ...claims, 'kubernetes.io': undefined })), disagreeing);
    assert.equal(
      await error(signed({ ...claims, 'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'builder' } } })),
      disagreeing,
    );
    assert.equal(
      await error(signed({ ...claims, 'kubernetes.io': { ...(claims['kubernetes.io'] as object), pod: { name: 'web-0' } } })),
      'service account token: the bound object claim is malformed',
    );
  });

  it('without a bound-object look-up, a bound token is judged by its service account alone', async () => {
    now = T0;
    const plain = serviceAccountAuthenticator({
      issuer: ISSUER,
      publicKey: async (kid) => (kid === signing.kid ? createPublicKey(signing.publicKeyPem) : undefined),
      apiAudiences: [API],
      clock,
      serviceAccount: async (ns, name) => accounts.get(`${ns}/${name}`) ?? null,
    });
    const token = issue({ boundObject: { kind: 'Pod', name: 'never-existed', uid: 'p-0' } }).token;
    const r = await plain({ token });
    assert.equal(r.kind, 'user', JSON.stringify(r));
    assert.deepEqual((r as Extract<AuthnResult, { kind: 'user' }>).user.extra['authentication.kubernetes.io/pod-name'], ['never-existed']);
  });
});
