import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openStore, type Store } from '../../store/index.js';
import { signToken } from './claims.js';
import { KeyRing } from './keys.js';
import { TokenVerifier } from './verify.js';

const DAY = 24 * 3600 * 1000;

describe('signing key rotation', () => {
  const stores: Store[] = [];
  after(async () => {
    for (const s of stores) await s.close();
  });

  it('publishes the next key before it signs, switches on schedule and keeps the old one until its tokens expire', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    stores.push(store);
    let now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now };
    const policy = { signingPeriodMs: 10 * DAY, publishLeadMs: 2 * DAY, retentionMs: 1 * DAY };
    const ring = new KeyRing(store, clock, policy);
    const verifier = new TokenVerifier(ring, clock);
    await ring.refresh();
    const first = ring.current().kid;
    assert.equal(ring.jwks().keys.length, 1);
    const oldToken = signToken(ring, { tid: 't', iss: 'https://sts.windows.net/t/', ver: '1.0', exp: Math.floor(now / 1000) + 30 * 86400 });

    now += 8.5 * DAY; // inside the publish lead of the first key's retirement
    await ring.refresh();
    assert.equal(ring.jwks().keys.length, 2, 'the next key is published');
    assert.equal(ring.current().kid, first, 'but the first key still signs');

    now += 2 * DAY; // past retirement
    await ring.refresh();
    const second = ring.current().kid;
    assert.notEqual(second, first);
    assert.doesNotThrow(() => verifier.verify(oldToken), 'tokens of the retired key still verify');

    now += 1 * DAY; // past retention
    await ring.refresh();
    assert.deepEqual(
      ring.jwks().keys.map((k: any) => k.kid),
      [second],
    );
    assert.throws(() => verifier.verify(oldToken), /not signed by a key of this server/);
  });

  it('lets every instance on one store sign with the same key', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    stores.push(store);
    const clock = { now: () => Date.now() };
    const a = new KeyRing(store, clock);
    const b = new KeyRing(store, clock);
    await a.refresh();
    await b.refresh();
    assert.equal(a.current().kid, b.current().kid);
    await a.rotateNow();
    await b.refresh();
    assert.equal(b.current().kid, a.current().kid, 'a rotation on one instance is seen by the other');
    assert.equal(b.jwks().keys.length, 2);
  });

  it('adds one key when instances refresh an empty store at once, and verifies a kid rotated in elsewhere after one reload', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    stores.push(store);
    let now = Date.UTC(2026, 0, 1);
    const clock = { now: () => now };
    const rings = [0, 1, 2, 3].map(() => new KeyRing(store, clock));
    await Promise.all(rings.map((r) => r.refresh()));
    assert.equal((await store.listSigningKeys()).length, 1, 'one key, not one per instance');
    assert.equal(new Set(rings.map((r) => r.current().kid)).size, 1);

    const [a, b] = rings as [KeyRing, KeyRing];
    const next = await a.rotate(10_000);
    assert.notEqual(a.current().kid, next.kid, 'a key with a lead does not sign yet');
    assert.ok(
      a.jwks().keys.some((k: any) => k.kid === next.kid),
      'but is published at once',
    );
    now += 10_000;
    assert.equal(a.current().kid, next.kid);
    const token = signToken(a, { tid: 't', iss: 'https://sts.windows.net/t/', ver: '1.0', exp: Math.floor(now / 1000) + 600 });
    const verifier = new TokenVerifier(b, clock);
    assert.throws(() => verifier.verify(token), /not signed by a key of this server/, 'b has not reloaded');
    assert.equal((await verifier.verifyAsync(token)).tid, 't', 'an unknown kid makes b re-read the store once');
    assert.equal(b.current().kid, next.kid);

    // Forged kids: at most one re-read per second, however many tokens arrive.
    let reads = 0;
    const list = store.listSigningKeys.bind(store);
    store.listSigningKeys = async () => {
      reads++;
      return list();
    };
    const forged = token.replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'forged' })).toString('base64url'));
    now += 5_000;
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => verifier.verifyAsync(forged)));
    assert.ok(results.every((r) => r.status === 'rejected' && /not signed by a key of this server/.test(String(r.reason))));
    assert.equal(reads, 1);
    store.listSigningKeys = list;
  });
});
