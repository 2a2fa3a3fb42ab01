import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runStoreConformance } from './conformance.js';
import { openStore } from './open.js';

runStoreConformance('SQLite in memory', () => openStore({ url: 'sqlite::memory:' }));

const dir = mkdtempSync(join(tmpdir(), 'kentra-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
runStoreConformance('SQLite file (WAL)', () => openStore({ dataDir: dir }));

describe('SQLite file store', () => {
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

  it('refuses a URL it does not know, without echoing a password', async () => {
    await assert.rejects(openStore({ url: 'mysql://root:hunter2@db/x' }), (e: Error) => /unsupported store URL/.test(e.message) && !e.message.includes('hunter2'));
  });
});
