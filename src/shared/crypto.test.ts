import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { GUID, lookupKey, randomToken, timeOrderedId } from './crypto.js';

describe('timeOrderedId (UUID version 7, RFC 9562 §5.7)', () => {
  it('is a GUID of version 7 and variant 10, whose first 48 bits are the time in milliseconds', () => {
    const ms = Date.UTC(2026, 11, 5, 22, 50, 1, 234);
    const id = timeOrderedId(ms);
    assert.match(id, GUID);
    assert.equal(id[14], '7');
    assert.match(id[19]!, /[89ab]/);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms);
  });

  it('sorts as text in time order, and two ids of the same millisecond differ', () => {
    const times = [1, 255, 256, 65_536, 1_700_000_000_000, 1_700_000_000_001, 2 ** 47];
    const ids = times.map((t) => timeOrderedId(t));
    assert.deepEqual([...ids].sort(), ids);
    assert.notEqual(timeOrderedId(5), timeOrderedId(5));
  });
});

describe('randomToken (from a pool of CSPRNG bytes)', () => {
  it('gives the length asked for, never the same bytes twice across refills of the pool', () => {
    const seen = new Set<string>();
    // 3,000 identifiers of 16, 24 and 32 bytes: about 70 KiB, seventeen refills of the 4 KiB pool.
    for (let i = 0; i < 1000; i++) {
      for (const bytes of [16, 24, 32]) {
        const id = randomToken(bytes);
        assert.equal(Buffer.from(id, 'base64url').length, bytes);
        assert.match(id, /^[A-Za-z0-9_-]+$/);
        assert.ok(!seen.has(id), `identifier ${id} handed out twice`);
        seen.add(id);
      }
    }
    // Bytes look uniform: every value of a byte shows up over the run (a stuck or zeroed pool would not).
    const counts = new Array<number>(256).fill(0);
    for (const id of seen) for (const b of Buffer.from(id, 'base64url')) counts[b]!++;
    assert.ok(
      counts.every((c) => c > 0),
      'every byte value appears',
    );
  });

  it('refuses a size outside 1–256', () => {
    for (const bytes of [0, -1, 257, 1.5, Number.NaN]) assert.throws(() => randomToken(bytes), RangeError);
  });
});

describe('lookupKey', () => {
  it('is SHA-256 of the prefix and the value: a different prefix or value gives a different key', () => {
    assert.equal(lookupKey('p', 'v'), createHash('sha256').update('pv').digest('base64url'));
    assert.notEqual(lookupKey('p1', 'v'), lookupKey('p2', 'v'));
    assert.notEqual(lookupKey('p', 'v1'), lookupKey('p', 'v2'));
  });
});
