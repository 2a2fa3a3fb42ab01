import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { checkAccessLogMigration, type TablesBefore0011 } from './migration-checks.js';
import { runStoreConformance } from './conformance.js';
import { openStore } from './open.js';

runStoreConformance('SQLite in memory', () => openStore({ url: 'sqlite::memory:' }));

const dir = mkdtempSync(join(tmpdir(), 'kentra-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
runStoreConformance(
  'SQLite file (WAL)',
  () => openStore({ dataDir: dir }),
  () => openStore({ dataDir: dir }),
);

describe('SQLite file store', () => {
  {
    const file = join(dir, 'migrate-0011.db');
    checkAccessLogMigration(
      async () => new Kysely<TablesBefore0011>({ dialect: new SqliteDialect({ database: new Database(file) }) }),
      () => openStore({ url: `sqlite:${file}` }),
    );
  }

  it('keeps its data across close and reopen, and migrates once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kentra-sqlite-reopen-'));
    try {
      const a = await openStore({ dataDir: d });
      await a.setMeta('k', 'v');
      await a.close();
      const b = await openStore({ url: `sqlite:${join(d, 'kentra.db')}` });
      assert.equal(await b.getMeta('k'), 'v');
      await b.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('issue 14: fills in the uid index of clusters written before migration 0006, when it opens', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kentra-sqlite-backfill-'));
    try {
      const a = await openStore({ dataDir: d });
      const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/old';
      await a.createResource({
        id,
        subscriptionId: 's',
        resourceGroup: 'rg',
        type: 'Microsoft.ContainerService/managedClusters',
        name: 'old',
        location: 'eastus',
        tags: {},
        etag: '"1"',
        body: {},
        secrets: { uid: 'old-uid', adminToken: 't' },
        createdAt: 1,
        updatedAt: 1,
      });
      await a.close();
      // A row as the versions before 0006 left it: no cluster_uid.
      const raw = new Database(join(d, 'kentra.db'));
      raw.prepare('UPDATE arm_resources SET cluster_uid = NULL').run();
      raw.close();
      const b = await openStore({ dataDir: d });
      assert.equal((await b.getClusterByUid('old-uid'))?.resource.id, id);
      await b.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a transaction that reads, then writes, is not refused when another process writes the file in between: the other waits', async () => {
    const file = join(dir, 'two-processes.db');
    const store = await openStore({ url: `sqlite:${file}` });
    try {
      await store.setMeta('shared', 'start');
      // Another process on the same file (as `kentra keys rotate` beside `kentra up`): it writes when told,
      // with a busy timeout, and says when its write is committed.
      const other = spawn(
        process.execPath,
        [
          '-e',
          `const db = new (require(process.argv[1]))(process.argv[2]); db.pragma('busy_timeout = 5000');
           process.stdin.once('data', () => { db.prepare("update meta set value = 'other' where key = 'shared'").run(); console.log('committed'); db.close(); process.exit(0); });
           console.log('ready');`,
          createRequire(import.meta.url).resolve('better-sqlite3'),
          file,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const lines: string[] = [];
      const said = (line: string, ms: number) =>
        new Promise<boolean>((resolve) => {
          const check = () => lines.includes(line) && (clearTimeout(timer), other.stdout!.off('data', onData), resolve(true));
          const onData = (d: Buffer) => (lines.push(...d.toString().trim().split('\n')), check());
          const timer = setTimeout(() => (other.stdout!.off('data', onData), resolve(lines.includes(line))), ms);
          other.stdout!.on('data', onData);
          check();
        });
      assert.ok(await said('ready', 10_000), 'the other process started');
      let committedInBetween = false;
      await store.transaction(async (tx) => {
        assert.equal(await tx.getMeta('shared'), 'start');
        other.stdin!.write('go\n');
        committedInBetween = await said('committed', 300);
        await tx.setMeta('shared', 'this');
      });
      assert.equal(committedInBetween, false, "the other process's write waited for this transaction");
      assert.ok(await said('committed', 10_000), "then the other process's write was committed");
      assert.equal(await store.getMeta('shared'), 'other');
    } finally {
      await store.close();
    }
  });

  it('refuses a URL it does not know, without echoing a password', async () => {
    await assert.rejects(
      openStore({ url: 'mysql://root:hunter2@db/x' }),
      (e: Error) => /unsupported store URL/.test(e.message) && !e.message.includes('hunter2'),
    );
  });
});
