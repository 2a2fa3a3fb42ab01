import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

  it('entities read from rows share one hidden class, sealed columns and all (V8 keeps accessors in it)', () => {
    // An accessor made per entity gave each its own hidden class, which outlived the entity in the old
    // generation and held it alive through young collections (see openedOnRead). V8's own check, in a
    // child process with its natives syntax.
    const at = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
    const script = `
      import { fromRow, toRow } from ${at('./codecs.js')};
      import { armResources } from ${at('./tables.js')};
      import { clusterResourceFixture } from ${at('./conformance.js')};
      import { Sealer } from ${at('../shared/key-sealing.js')};
      const sealer = new Sealer(Buffer.alloc(32, 7));
      const read = (name) => fromRow(armResources, toRow(armResources, clusterResourceFixture(name, { secrets: { uid: name } }), sealer), sealer);
      const [a, b, c] = [read('a'), read('b'), read('c')];
      const opened = c.secrets.uid;
      console.log(JSON.stringify({ same: %HaveSameMap(a, b) && %HaveSameMap(b, c), opened }));`;
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { same: true, opened: 'c' });
  });

  it('each entity opens its own sealed texts, though the getter is shared', () => {
    const sealer = countingSealer();
    const read = (uid: string) => fromRow(armResources, toRow(armResources, { ...resource, secrets: { uid } }, sealer), sealer);
    const [a, b] = [read('ua'), read('ub')];
    assert.deepEqual(b.secrets, { uid: 'ub' });
    assert.deepEqual(a.secrets, { uid: 'ua' });
    const getter = Object.getOwnPropertyDescriptor(a, 'secrets')!.get!;
    assert.equal(getter, Object.getOwnPropertyDescriptor(b, 'secrets')!.get, 'one getter');
    assert.deepEqual(getter.call(b), { uid: 'ub' }, "called on b, b's secrets");
    assert.equal(sealer.opened, 2);
    assert.deepEqual(Object.getOwnPropertySymbols(a).length, 1);
    assert.equal(
      Object.getOwnPropertyDescriptor(a, Object.getOwnPropertySymbols(a)[0]!)!.enumerable,
      false,
      'the sealed texts are not enumerable',
    );
  });

  it('a key that does not open the column fails at the read of that property, with SealingError', () => {
    const row = toRow(armResources, resource, new Sealer(Buffer.alloc(32, 1)));
    const entity = fromRow(armResources, row, new Sealer(Buffer.alloc(32, 2)));
    assert.equal(entity.name, 'c1');
    assert.throws(() => entity.secrets, SealingError);
  });
});
