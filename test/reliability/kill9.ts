import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { bootstrapToken, call, closeAgents, countInStore, jsonHeaders, sleep } from './load.js';

// Issue 16: Kentra killed with SIGKILL in the middle of hundreds of concurrent Graph and ARM writes, on
// each store. After a restart on the same data: every acknowledged write is there and whole (0 lost,
// 0 half-written), no cluster stays in Creating, no operation row without its resource, and SQLite's
// file passes its integrity check.

const API = 'api-version=2022-11-01';

/** Rows the store holds that a crash could have left inconsistent, read straight from the database. */
async function storeCheck(
  store: { name: string },
  dataDir: string,
  url: string | undefined,
): Promise<{ integrity: string; orphanOperations: number }> {
  const orphans = `SELECT count(*) AS n FROM arm_operations o WHERE o.kind = 'create' AND NOT EXISTS (SELECT 1 FROM arm_resources r WHERE r.id_lower = lower(o.resource_id))`;
  const orphanOperations = await countInStore(dataDir, store.name === 'SQLite' ? undefined : url, orphans);
  if (store.name !== 'SQLite') return { integrity: 'n/a', orphanOperations };
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dataDir, 'kentra.db'), { readonly: true });
  try {
    return {
      integrity: (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join(','),
      orphanOperations,
    };
  } finally {
    db.close();
  }
}

/** Registers the kill -9 test for one store (one file per store keeps each file's run short). */
export function killDuringWritesTest(store: { name: string; url?: () => Promise<string> }): void {
  describe(`reliability on ${store.name}: kill -9 during concurrent writes`, { timeout: 240_000 }, () => {
    after(() => closeAgents());
    it(`issue 16: kill -9 during ≥ 500 concurrent Graph and ARM writes loses no acknowledged write, half-writes nothing, leaves nothing in Creating (${store.name})`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'kentra-kill9-'));
      const url = store.url ? await store.url() : undefined;
      let k: TestKentra | undefined;
      try {
        k = await startTestKentra({ dataDir, store: url });
        const kentra = k;
        const graphToken = await bootstrapToken(kentra, 'graph');
        const armToken = await bootstrapToken(kentra, 'arm');
        const sub = `/subscriptions/${kentra.endpoints.subscriptionId}`;
        assert.equal(
          (
            await call(kentra, 'PUT', `${sub}/resourcegroups/rg-kill?${API}`, {
              body: JSON.stringify({ location: 'eastus' }),
              headers: jsonHeaders(armToken),
            })
          ).status,
          201,
        );

        type Write = { kind: 'group' | 'rg' | 'cluster'; name: string; id?: string };
        const writes: Write[] = [];
        for (let i = 0; i < 300; i++) writes.push({ kind: 'group', name: `k9-group-${i}` });
        for (let i = 0; i < 200; i++) writes.push({ kind: 'rg', name: `k9-rg-${i}` });
        for (let i = 0; i < 100; i++) writes.push({ kind: 'cluster', name: `k9-c${i}` });
        writes.sort((a, b) => a.name.length - b.name.length || (a.name < b.name ? -1 : 1));
        const acknowledged: Write[] = [];
        let failed = 0;
        let sent = 0;
        const send = async (w: Write) => {
          sent++;
          const res =
            w.kind === 'group'
              ? await call(kentra, 'POST', '/v1.0/groups', {
                  body: JSON.stringify({
                    displayName: w.name,
                    mailNickname: w.name.replace(/-/g, ''),
                    securityEnabled: true,
                    mailEnabled: false,
                  }),
                  headers: jsonHeaders(graphToken),
                })
              : w.kind === 'rg'
                ? await call(kentra, 'PUT', `${sub}/resourcegroups/${w.name}?${API}`, {
                    body: JSON.stringify({ location: 'westeurope', tags: { written: w.name } }),
                    headers: jsonHeaders(armToken),
                  })
                : await call(
                    kentra,
                    'PUT',
                    `${sub}/resourceGroups/rg-kill/providers/Microsoft.ContainerService/managedClusters/${w.name}?${API}`,
                    {
                      body: JSON.stringify({
                        location: 'eastus',
                        properties: { dnsPrefix: w.name, agentPoolProfiles: [{ name: 'nodepool1', count: 1 }] },
                      }),
                      headers: jsonHeaders(armToken),
                    },
                  );
          if (res.status >= 200 && res.status < 300) acknowledged.push(w.kind === 'group' ? { ...w, id: res.json().id } : w);
          else failed++;
        };
        // 64 writes in flight at a time; SIGKILL once 500 have been sent.
        let next = 0;
        const workers = Array.from({ length: 64 }, async () => {
          while (next < writes.length) await send(writes[next++]!);
        });
        while (sent < 500 && next < writes.length) await sleep(2);
        const inFlight = sent - acknowledged.length - failed;
        const sentAtKill = sent;
        kentra.process.kill('SIGKILL');
        await Promise.all(workers);
        await new Promise((r) =>
          kentra.process.exitCode !== null || kentra.process.signalCode !== null ? r(null) : kentra.process.once('exit', r),
        );
        const check = await storeCheck(store, dataDir, url);

        k = await startTestKentra({ dataDir, store: url });
        const again = k;
        const graphAgain = await bootstrapToken(again, 'graph');
        const armAgain = await bootstrapToken(again, 'arm');
        let lost = 0;
        let halfWritten = 0;
        const problems: string[] = [];
        const verify = async (w: Write) => {
          if (w.kind === 'group') {
            const res = await call(again, 'GET', `/v1.0/groups/${w.id}`, { headers: jsonHeaders(graphAgain) });
            if (res.status === 404) lost++;
            else if (res.status !== 200 || res.json().displayName !== w.name || res.json().securityEnabled !== true) halfWritten++;
            if (res.status !== 200) problems.push(`${w.name}: ${res.status}`);
          } else if (w.kind === 'rg') {
            const res = await call(again, 'GET', `${sub}/resourcegroups/${w.name}?${API}`, { headers: jsonHeaders(armAgain) });
            if (res.status === 404) lost++;
            else if (res.status !== 200 || res.json().location !== 'westeurope' || res.json().tags?.written !== w.name) halfWritten++;
            if (res.status !== 200) problems.push(`${w.name}: ${res.status}`);
          }
        };
        const queue = [...acknowledged];
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let w = queue.shift(); w; w = queue.shift()) await verify(w);
          }),
        );
        // Every cluster that exists (acknowledged or not) must finish its create: none stays in Creating.
        await sleep(1_500);
        const listed = (
          await call(again, 'GET', `${sub}/resourceGroups/rg-kill/providers/Microsoft.ContainerService/managedClusters?${API}`, {
            headers: jsonHeaders(armAgain),
          })
        ).json().value as { name: string }[];
        const names = new Set(listed.map((c) => c.name));
        let stuck = 0;
        for (const w of acknowledged.filter((x) => x.kind === 'cluster')) if (!names.has(w.name)) lost++;
        await Promise.all(
          listed.map(async (c) => {
            const res = await call(
              again,
              'GET',
              `${sub}/resourceGroups/rg-kill/providers/Microsoft.ContainerService/managedClusters/${c.name}?${API}`,
              { headers: jsonHeaders(armAgain) },
            );
            const state = res.json().properties?.provisioningState;
            if (state !== 'Succeeded') {
              stuck++;
              problems.push(`${c.name}: ${state}`);
            }
            if (res.json().properties?.dnsPrefix !== c.name || !Array.isArray(res.json().properties?.agentPoolProfiles)) halfWritten++;
          }),
        );
        console.log(
          `issue 16 kill -9 figure (${store.name}): ${writes.length} writes planned, ${sentAtKill} sent before the kill, ${acknowledged.length} acknowledged (${acknowledged.filter((w) => w.kind === 'group').length} Graph, ${acknowledged.filter((w) => w.kind !== 'group').length} ARM), ${inFlight} in flight at the kill; after restart: ${lost} acknowledged lost, ${halfWritten} half-written, ${stuck} of ${listed.length} clusters not Succeeded, ${check.orphanOperations} operation rows without their resource, integrity_check ${check.integrity}${problems.length ? `; ${problems.slice(0, 5).join(', ')}` : ''}`,
        );
        assert.ok(sentAtKill >= 500 && inFlight > 0, 'the kill came with 500 writes sent and some in flight');
        assert.equal(lost, 0, problems.join(', '));
        assert.equal(halfWritten, 0, problems.join(', '));
        assert.equal(stuck, 0, problems.join(', '));
        assert.equal(check.orphanOperations, 0, 'no operation row outlives a resource that was never written');
        if (store.name === 'SQLite') assert.equal(check.integrity, 'ok');
      } finally {
        await k?.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
