import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore, type Tenant } from '../store/index.js';
import { aad } from './errors.js';
import { Params } from './oauth/params.js';
import { SignInLog } from './sign-in-log.js';

const tenant: Tenant = {
  id: '53535353-0000-4000-8000-000000000001',
  displayName: 'T',
  defaultDomain: 't.onmicrosoft.com',
  domains: [],
  createdAt: 0,
};

describe('sign-in log writer', () => {
  it('queues without waiting, writes in batches, keeps no credential, and prunes after the retention', async () => {
    const store = await openStore({ url: 'sqlite::memory:' });
    await store.createTenant(tenant);
    let now = Date.UTC(2026, 0, 1);
    const log = new SignInLog(store, { now: () => now }, { retentionDays: 30, batchSize: 10, flushMs: 10_000 });
    const password = 'Hunter2-Secret-Passw0rd';
    const secret = 'client-secret-value-0123456789';
    const params = Params.fromSearch(
      new URLSearchParams({ grant_type: 'password', client_id: 'c', client_secret: secret, username: 'ann@t.onmicrosoft.com', password }),
    );
    // An error whose text echoes a credential (as a careless message might): the row must not keep it.
    const echo = aad.malformed(`value ${password} and ${secret}`);
    for (let i = 0; i < 25; i++)
      log.recordToken({ tenant, params, ip: '10.0.0.1' }, 'password', { error: i === 0 ? echo : aad.badPassword() });
    log.recordToken({ tenant, params, ip: '10.0.0.1' }, 'device_code', { error: aad.authorizationPending() });
    assert.equal((await store.listSignIns(tenant.id, {})).items.length, 0, 'nothing is written on the request path');
    await log.flush();
    const rows = (await store.listSignIns(tenant.id, {})).items;
    assert.equal(rows.length, 25, 'device-code polling is not a sign-in');
    assert.ok(rows.every((r) => r.userPrincipalName === 'ann@t.onmicrosoft.com' && r.eventType === 'interactiveUser'));
    const text = JSON.stringify(rows);
    assert.ok(!text.includes(password) && !text.includes(secret), text);
    assert.equal(rows.filter((r) => r.errorCode === 50126).length, 24);

    now += 29 * 86_400_000;
    assert.equal(await log.prune(), 0);
    now += 2 * 86_400_000;
    assert.equal(await log.prune(), 25);
    await log.close();
    await store.close();
  });
});
