import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../../store/index.js';
import { signToken } from './claims.js';
import { KeyRing } from './keys.js';
import { InvalidTokenError, TokenVerifier } from './verify.js';

const DAY = 24 * 3600 * 1000;
const code = (code: string) => (e: unknown) => e instanceof InvalidTokenError && e.code === code;

describe('token verification: tokens seen before', () => {
  let store: Store;
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now };
  let ring: KeyRing;
  const token = (claims: Record<string, unknown> = {}) =>
    signToken(ring, {
      tid: 't',
      iss: 'https://sts.windows.net/t/',
      aud: 'https://management.core.windows.net/',
      groups: ['g1'],
      exp: Math.floor(now / 1000) + 3600,
      ...claims,
    });
  before(async () => {
    store = await openStore({ url: 'sqlite::memory:' });
    ring = new KeyRing(store, clock, { signingPeriodMs: 10 * DAY, publishLeadMs: 2 * DAY, retentionMs: 1 * DAY });
    await ring.refresh();
  });
  after(() => store.close());

  it('checks every claim again on each use: expiry, audience and tenant', () => {
    const v = new TokenVerifier(ring, clock);
    const t = token();
    const audiences = ['https://management.core.windows.net/'];
    assert.equal(v.verify(t, { audiences }).tid, 't');
    assert.equal(v.verify(t, { audiences }).tid, 't', 'seen before');
    assert.throws(() => v.verify(t, { audiences: ['https://graph.microsoft.com'] }), code('audience'));
    assert.throws(() => v.verify(t, { tenantId: 'other' }), code('tenant'));
    const saved = now;
    now += 2 * 3600 * 1000;
    try {
      assert.throws(() => v.verify(t, { audiences }), code('expired'));
    } finally {
      now = saved;
    }
  });

  it('refuses a token whose payload was changed after the original was verified, and one with a changed signature', () => {
    const v = new TokenVerifier(ring, clock);
    const t = token({ groups: ['reader'] });
    v.verify(t);
    const [h, , sig] = t.split('.');
    const payload = Buffer.from(JSON.stringify({ ...v.verify(t), groups: ['admins'] })).toString('base64url');
    assert.throws(() => v.verify(`${h}.${payload}.${sig}`), code('bad_signature'));
    assert.throws(() => v.verify(`${t.slice(0, -2)}${t.endsWith('AA') ? 'BB' : 'AA'}`), code('bad_signature'));
  });

  it('gives claims no caller can change for the next one', () => {
    const v = new TokenVerifier(ring, clock);
    const t = token();
    const claims = v.verify(t);
    assert.throws(() => {
      claims.tid = 'other';
    }, TypeError);
    assert.throws(() => (claims.groups as string[]).push('admins'), TypeError);
    assert.deepEqual(v.verify(t).groups, ['g1']);
  });

  it('refuses a token seen before once its key has left the key ring', async () => {
    const v = new TokenVerifier(ring, clock);
    const t = token({ exp: Math.floor(now / 1000) + 30 * 86400 });
    v.verify(t);
    now += 11.5 * DAY; // past the first key's retirement and retention
    await ring.refresh();
    await ring.refresh();
    assert.throws(() => v.verify(t), code('unknown_key'));
  });

  it('works the same with the cache off (cacheSize 0)', () => {
    const v = new TokenVerifier(ring, clock, { cacheSize: 0 });
    const t = token();
    assert.equal(v.verify(t).tid, 't');
    assert.equal(v.verify(t).tid, 't');
  });
});
