import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, JwtError, signJwt, verifySignature, verifySignatureAsync } from './jwt.js';

// The signature check on the thread pool answers exactly as the one on the event loop: the same
// algorithms, the same header rules, the same errors.

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
const token = (header: Record<string, unknown> = {}) => signJwt({ alg: 'RS256', kid: 'k1', ...header }, { sub: 'a', n: 1 }, privateKey);
const code = (c: JwtError['code']) => (e: unknown) => e instanceof JwtError && e.code === c;

describe('verifySignatureAsync', () => {
  it('accepts a good RS256 and PS256 signature, as verifySignature does', async () => {
    const rs = decodeJwt(token());
    await verifySignatureAsync(rs, publicKey, ['RS256']);
    assert.doesNotThrow(() => verifySignature(rs, publicKey, ['RS256']));
    const ps = decodeJwt(token({ alg: 'PS256' }));
    await verifySignatureAsync(ps, publicKey, ['PS256']);
  });

  it('refuses another key, a changed payload, a disallowed algorithm and a crit header, with the same codes', async () => {
    const good = token();
    await assert.rejects(verifySignatureAsync(decodeJwt(good), other, ['RS256']), code('signature'));
    const [h, , s] = good.split('.');
    const changed = decodeJwt(`${h}.${Buffer.from(JSON.stringify({ sub: 'b', n: 1 })).toString('base64url')}.${s}`);
    await assert.rejects(verifySignatureAsync(changed, publicKey, ['RS256']), code('signature'));
    assert.throws(() => verifySignature(changed, publicKey, ['RS256']), code('signature'));
    await assert.rejects(verifySignatureAsync(decodeJwt(token({ alg: 'PS256' })), publicKey, ['RS256']), code('algorithm'));
    await assert.rejects(verifySignatureAsync(decodeJwt(token({ crit: ['exp'] })), publicKey, ['RS256']), code('header'));
    // Many at once: each settles on its own answer.
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => verifySignatureAsync(i % 2 ? changed : decodeJwt(good), publicKey, ['RS256'])),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array.from({ length: 16 }, (_, i) => (i % 2 ? 'rejected' : 'fulfilled')),
    );
  });
});
