// npm run bench -- directory
// Directory operations through Kentra's Microsoft Graph over HTTPS, on SQLite and on PostgreSQL:
// users created per second (each one scrypt-hashes its password, so raw scrypt is the limit shown
// beside it), and getMemberGroups for a user in 500 of 10,000 groups nested 5 deep.
import { randomUUID } from 'node:crypto';
import { hashSecret } from '../src/shared/crypto.js';
import { openStore } from '../src/store/index.js';
import { startTestKentra } from '../test/support/kentra.js';
import { fmt, httpsClient, load, onEachStore } from './_measure.js';

const GROUPS = 10_000;
const DEPTH = 5;
const PER_LEVEL = 100; // the user is in 100 groups at each of the 5 levels: 500 in all

async function run(name: string, storeUrl: string | undefined) {
  const k = await startTestKentra({ store: storeUrl, extraArgs: ['--log-level', 'warn'] });
  try {
    const { authority, tenantId, caFile, admin } = k.endpoints;
    const http = httpsClient(caFile);

    // Set-up through the Store interface: 10,000 groups, chains of 5 above the user's 100 direct groups.
    const store = await openStore({ url: storeUrl, dataDir: k.dataDir });
    const userId = randomUUID();
    const t0 = Date.now();
    await store.transaction(async (tx) => {
      await tx.createUser({
        tenantId, id: userId, userPrincipalName: `nested@kentra.onmicrosoft.com`, displayName: 'Nested', mailNickname: 'nested', mail: null,
        passwordHash: await hashSecret('Nested-Passw0rd!'), accountEnabled: true, userType: 'Member', homeTenantId: null, homeObjectId: null, createdAt: Date.now(),
      });
      let below: string[] = [];
      for (let level = 0; level < DEPTH; level++) {
        const ids: string[] = [];
        for (let i = 0; i < PER_LEVEL; i++) {
          const id = randomUUID();
          ids.push(id);
          await tx.createGroup({ tenantId, id, displayName: `l${level}-${i}`, mailNickname: `l${level}-${i}`, description: null, securityEnabled: true, mailEnabled: false, createdAt: Date.now() });
          await tx.addGroupMember(level === 0
            ? { tenantId, groupId: id, memberId: userId, memberType: 'user' }
            : { tenantId, groupId: id, memberId: below[i]!, memberType: 'group' });
        }
        below = ids;
      }
      for (let i = DEPTH * PER_LEVEL; i < GROUPS; i++) {
        await tx.createGroup({ tenantId, id: randomUUID(), displayName: `other-${i}`, mailNickname: `other-${i}`, description: null, securityEnabled: true, mailEnabled: false, createdAt: Date.now() });
      }
    });
    await store.close();
    const setupSeconds = (Date.now() - t0) / 1000;

    const tokenRes = await http(`${authority}/${tenantId}/oauth2/v2.0/token`, new URLSearchParams({
      client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', grant_type: 'password', username: admin.userPrincipalName, password: admin.password,
      scope: 'https://graph.microsoft.com/.default',
    }).toString());
    const token = JSON.parse(tokenRes.text).access_token as string;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    let n = 0;
    const create = await load(async () => {
      const i = n++;
      const res = await http(`${authority}/v1.0/users`, JSON.stringify({
        accountEnabled: true, displayName: `Bench ${i}`, mailNickname: `bench${i}`, userPrincipalName: `bench${i}@kentra.onmicrosoft.com`,
        passwordProfile: { password: 'Bench-Passw0rd!' },
      }), headers);
      return res.status === 201;
    }, { workers: 4, count: 200, maxSeconds: 30 });

    const check = await http(`${authority}/v1.0/users/${userId}/getMemberGroups`, '{"securityEnabledOnly":false}', headers);
    const found = JSON.parse(check.text).value.length as number;
    const groups = await load(async () => (await http(`${authority}/v1.0/users/${userId}/getMemberGroups`, '{"securityEnabledOnly":false}', headers)).status === 200,
      { workers: 4, count: 400, maxSeconds: 30 });

    const s0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await hashSecret('Bench-Passw0rd!');
    const scryptPerSecond = 20 / (Number(process.hrtime.bigint() - s0) / 1e9);

    console.log(`directory on ${name} (real kentra up process; ${GROUPS.toLocaleString()} groups set up in ${fmt(setupSeconds, 1)} s)`);
    console.log(`  create users (POST /v1.0/users)   ${fmt(create.perSecond, 1)} users/s   p50 ${fmt(create.p50, 1)} ms   p99 ${fmt(create.p99, 1)} ms   (${create.count} users, ${create.errors} errors)`);
    console.log(`  raw scrypt password hash          ${fmt(scryptPerSecond, 1)} hashes/s on one core (every new user costs one)`);
    console.log(`  getMemberGroups, ${found} of ${GROUPS.toLocaleString()} groups, 5 deep   p50 ${fmt(groups.p50, 2)} ms   p99 ${fmt(groups.p99, 2)} ms   ${fmt(groups.perSecond)} calls/s   (${groups.count} calls, ${groups.errors} errors)`);
  } finally {
    await k.close();
  }
}

await onEachStore(run);
