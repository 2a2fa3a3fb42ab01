import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sealer, SealingError } from '../shared/key-sealing.js';
import { fromRow, toRow } from './codecs.js';
import { clusterResourceFixture } from './conformance.js';
import { armResources } from './tables.js';
import type { ArmResource } from './types.js';

// Rows to entities: a sealed column is opened when its property is read, not when its row is (an ARM
// GET of a cluster never reads its secrets), and reads the same as if it had been opened at once.

const resource: ArmResource = clusterResourceFixture('c1', {
  tags: { team: 'a' },
  etag: 'e1',
  body: { properties: { provisioningState: 'Succeeded' } },
  secrets: { uid: 'u1', adminTokenHash: 'h' },
});

/** A sealer that counts how often it opened a value. */
function countingSealer(key = Buffer.alloc(32, 7)) {
  const inner = new Sealer(key);
  const counter = { opened: 0, seal: (p: string) => inner.seal(p), unseal: (s: string) => (counter.opened++, inner.unseal(s)) };
  return counter;
}

describe('codecs: sealed columns', () => {
  it('opens a sealed column on the first read of its property, once, and not for a row whose secrets are never read', () => {
    const sealer = countingSealer();
    const row = toRow(armResources, resource, sealer);
    assert.doesNotMatch(String(row.secrets), /adminTokenHash/, 'sealed at rest');
    const entity = fromRow(armResources, row, sealer);
    assert.equal(entity.name, 'c1');
    assert.deepEqual(entity.body, resource.body);
    assert.equal(sealer.opened, 0, 'reading the other fields opens nothing');
    assert.deepEqual(entity.secrets, resource.secrets);
    assert.equal(entity.secrets, entity.secrets, 'the same object on every read');
    assert.equal(sealer.opened, 1);
  });

  it('reads like an entity opened at once: keys, spread, JSON, equality, assignment', () => {
    const sealer = countingSealer();
    const entity = fromRow(armResources, toRow(armResources, resource, sealer), sealer);
    assert.deepEqual(Object.keys(entity), Object.keys(resource));
    assert.deepEqual({ ...entity }, resource);
    assert.deepEqual(JSON.parse(JSON.stringify(entity)), resource);
    assert.deepEqual(entity, resource);
    entity.secrets = { uid: 'u2' };
    assert.deepEqual(entity.secrets, { uid: 'u2' });
    assert.deepEqual(Object.getOwnPropertyDescriptor(entity, 'secrets')?.writable, true);
    // Frozen (as shared caches freeze what they hand out): still reads, no longer assignable.
    const frozen = Object.freeze(fromRow(armResources, toRow(armResources, resource, sealer), sealer));
    assert.deepEqual(frozen.secrets, resource.secrets);
    assert.throws(() => {
      (frozen as { secrets: unknown }).secrets = {};
    }, TypeError);
  });

  it('a key that does not open the column fails at the read of that property, with SealingError', () => {
    const row = toRow(armResources, resource, new Sealer(Buffer.alloc(32, 1)));
    const entity = fromRow(armResources, row, new Sealer(Buffer.alloc(32, 2)));
    assert.equal(entity.name, 'c1');
    assert.throws(() => entity.secrets, SealingError);
  });
});
