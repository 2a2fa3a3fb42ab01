import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GUID, timeOrderedId } from './crypto.js';

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
