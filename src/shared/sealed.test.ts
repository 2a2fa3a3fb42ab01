import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { seal, unseal } from './sealed.js';

describe('sealed page state', () => {
  const key = randomBytes(32);

  it('round-trips until it expires', () => {
    const s = seal(key, { h: 'abc' }, 2000);
    assert.equal(unseal<{ h: string }>(key, s, 1000)?.h, 'abc');
    assert.equal(unseal(key, s, 2000), null);
  });

  it('refuses a changed body or another key', () => {
    const s = seal(key, { u: 'alice' }, 5000);
    const [body, mac] = s.split('.');
    const forged = Buffer.from(JSON.stringify({ u: 'mallory', exp: 5000 })).toString('base64url');
    assert.equal(unseal(key, `${forged}.${mac}`, 1000), null);
    assert.equal(unseal(randomBytes(32), s, 1000), null);
    assert.equal(unseal(key, `${body}`, 1000), null);
    assert.equal(unseal(key, 42, 1000), null);
  });
});
