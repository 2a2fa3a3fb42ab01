import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { signJwt } from '../shared/jwt.js';
import { popTokenAuthenticator, rsaThumbprint, type AuthnResult, type TokenAuthenticator } from './index.js';

// The PoP authenticator decodes a bearer JWT once and hands it on with the request, so the Entra
// authenticator behind it does not decode it again. What it hands on must be the decoded form of the
// very token the authenticator behind it is asked about: for a PoP token that is the inner access token,
// never the envelope. (Guard's PoP checks themselves: test/security/pop.test.ts.)

const clock = { now: () => 1_700_000_000_000 };
const HOST = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/c';
const USER: AuthnResult = { kind: 'user', user: { username: 'u@example.com', uid: '', groups: [], extra: {} } };

function recorder(): { inner: TokenAuthenticator; seen: Parameters<TokenAuthenticator>[0][] } {
  const seen: Parameters<TokenAuthenticator>[0][] = [];
  return { seen, inner: async (req) => (seen.push(req), USER) };
}

describe('the PoP authenticator hands on what it decoded', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('gives the authenticator behind it a bearer token with that token decoded', async () => {
    const { inner, seen } = recorder();
    const token = signJwt({ alg: 'RS256', typ: 'JWT', kid: 'k' }, { oid: 'o1', tid: 't1' }, privateKey);
    assert.equal(await popTokenAuthenticator(inner, { hostname: HOST, clock })({ token, audiences: ['a'] }), USER);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.token, token);
    assert.deepEqual(seen[0]!.audiences, ['a']);
    assert.deepEqual(seen[0]!.jwt?.payload, { oid: 'o1', tid: 't1' });
    assert.equal(seen[0]!.jwt?.signingInput, token.split('.').slice(0, 2).join('.'));
  });

  it('gives it something that is not a JWT as it came', async () => {
    const { inner, seen } = recorder();
    await popTokenAuthenticator(inner, { hostname: HOST, clock })({ token: 'local-admin-token' });
    assert.deepEqual(seen, [{ token: 'local-admin-token' }]);
  });

  it("gives it a PoP token's inner access token without the envelope's decoded form", async () => {
    const { inner, seen } = recorder();
    const pop = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = pop.publicKey.export({ format: 'jwk' }) as { e: string; n: string };
    const at = signJwt({ alg: 'RS256', typ: 'JWT', kid: 'k' }, { oid: 'o2', cnf: { kid: rsaThumbprint(jwk.e, jwk.n) } }, privateKey);
    const envelope = signJwt(
      { alg: 'RS256', typ: 'pop', kid: 'pop-key' },
      { at, ts: clock.now() / 1000, u: HOST, cnf: { jwk: { kty: 'RSA', e: jwk.e, n: jwk.n } }, nonce: 'n' },
      pop.privateKey,
    );
    const authenticate = popTokenAuthenticator(inner, { hostname: HOST, clock });
    assert.equal((await authenticate({ token: envelope })).kind, 'user');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.token, at);
    assert.equal(seen[0]!.jwt, undefined, "the envelope's claims are not handed on as the access token's");
  });
});
