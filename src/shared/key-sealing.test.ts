import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  deriveKeyEncryptionKey,
  isSealed,
  OPENED_MEMO_BYTES,
  parseKeyEncryptionKey,
  Sealer,
  SealingError,
  sealedCacheStats,
} from './key-sealing.js';

describe('Sealer (private material at rest)', () => {
  const sealer = new Sealer(Buffer.alloc(32, 1));

  it('seals so that the plaintext is not in the stored value, and opens it again', () => {
    const stored = sealer.seal('-----BEGIN PRIVATE KEY-----\nabc');
    assert.ok(isSealed(stored));
    assert.doesNotMatch(stored, /PRIVATE KEY/);
    assert.equal(sealer.unseal(stored), '-----BEGIN PRIVATE KEY-----\nabc');
    assert.notEqual(sealer.seal('x'), sealer.seal('x'), 'a fresh IV each time');
  });

  it('reads a value stored before sealing as it is', () => {
    assert.equal(sealer.unseal('{"uid":"u1"}'), '{"uid":"u1"}');
  });

  it('refuses another key, and a changed value, with SealingError', () => {
    const stored = sealer.seal('secret');
    assert.throws(
      () => new Sealer(Buffer.alloc(32, 2)).unseal(stored),
      (e: unknown) => e instanceof SealingError && /sealed with key-encryption key/.test(e.message),
    );
    const tampered = stored.slice(0, -3) + (stored.endsWith('AAA') ? 'BBB' : 'AAA');
    assert.throws(() => sealer.unseal(tampered), SealingError);
  });

  it('remembers what it opened, yet a changed copy of an opened value, or one sealed under another key, is still refused', () => {
    const stored = sealer.seal('{"caKeyPem":"k"}');
    for (let i = 0; i < 3; i++) assert.equal(sealer.unseal(stored), '{"caKeyPem":"k"}');
    const tampered = stored.slice(0, -3) + (stored.endsWith('AAA') ? 'BBB' : 'AAA');
    assert.throws(() => sealer.unseal(tampered), SealingError);
    assert.throws(() => new Sealer(Buffer.alloc(32, 2)).unseal(stored), SealingError, 'the memo is the sealer’s own');
    // More values than a small memo holds: the first is opened again, as it was.
    const small = new Sealer(Buffer.alloc(32, 1), 4096);
    const many = Array.from({ length: 100 }, (_, i) => small.seal(`v${i}`));
    many.forEach((v, i) => assert.equal(small.unseal(v), `v${i}`));
    assert.ok(small.memo.size <= 4096 && small.memo.entries < 100, `the memo stays within its bound (${JSON.stringify(small.memo)})`);
    assert.equal(small.unseal(many[0]!), 'v0');
    assert.equal(small.unseal(stored), '{"caKeyPem":"k"}');
  });

  it('keeps opened values by their size, not their number: the secrets of a thousand clusters fit the default memo, a key too big for it is opened every time', () => {
    const own = new Sealer(Buffer.alloc(32, 1));
    const secrets = (i: number) => JSON.stringify({ uid: `u${i}`, adminToken: 'x'.repeat(64), aad: { managed: true, tenantID: 't' } });
    const stored = Array.from({ length: 1000 }, (_, i) => own.seal(secrets(i)));
    stored.forEach((v, i) => assert.equal(own.unseal(v), secrets(i)));
    assert.equal(own.memo.entries, 1000, 'every one kept (512 at most before)');
    stored.forEach((v, i) => assert.equal(own.unseal(v), secrets(i)));
    assert.deepEqual([own.memo.hits, own.memo.misses], [1000, 1000], 'read again: every one from the memo');
    const all = sealedCacheStats();
    assert.ok(all.entries >= 1000 && all.hits >= 1000 && all.maxBytes === OPENED_MEMO_BYTES, 'summed for /metrics');
    assert.ok(own.memo.size > 1000 * 300 && own.memo.size <= OPENED_MEMO_BYTES);
    const big = new Sealer(Buffer.alloc(32, 1), 1000);
    const pem = big.seal('k'.repeat(2000));
    assert.equal(big.unseal(pem), 'k'.repeat(2000));
    assert.deepEqual(big.memo, { entries: 0, size: 0, maxSize: 1000, hits: 0, misses: 1 }, 'heavier than the whole bound: not kept');
    const none = new Sealer(Buffer.alloc(32, 1), 0);
    assert.equal(none.unseal(none.seal('s')), 's');
    assert.equal(none.unseal(none.seal('s')), 's');
    assert.deepEqual(none.memo, { entries: 0, size: 0, maxSize: 0, hits: 0, misses: 2 }, '--sealed-cache-mb 0 keeps nothing opened');
  });

  it('parses a key as base64 or hex and refuses any other length', () => {
    assert.equal(parseKeyEncryptionKey(Buffer.alloc(32, 3).toString('base64')).length, 32);
    assert.equal(parseKeyEncryptionKey('ab'.repeat(32)).length, 32);
    assert.throws(() => parseKeyEncryptionKey('c2hvcnQ='), /32 bytes/);
  });

  it('derives the same key from the same CA key, another from another', () => {
    const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const a = pem();
    assert.deepEqual(deriveKeyEncryptionKey(a), deriveKeyEncryptionKey(a));
    assert.notDeepEqual(deriveKeyEncryptionKey(a), deriveKeyEncryptionKey(pem()));
  });
});
