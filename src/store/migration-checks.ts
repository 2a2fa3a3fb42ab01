import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { Migrator, type Kysely } from 'kysely';
import { migrationProvider } from './migrations.js';
import type { Store } from './store.js';

/**
 * Migration 0011 on a database that 0009's access log table holds rows in (shared by the SQLite and
 * PostgreSQL tests): `db` is a fresh database, `open` opens it as the store (migrating to the latest).
 */
/** The one table of migration 0009 this check writes to, loosely typed: it is not in schema.ts any more. */
export interface TablesBefore0011 {
  access_decisions: Record<string, unknown>;
}

export function checkAccessLogMigration(db: () => Promise<Kysely<TablesBefore0011>>, open: () => Promise<Store>): void {
  it('migration 0011 carries the access log rows of 0009 over into segments, every field and the order kept', async () => {
    const k = await db();
    const { error } = await new Migrator({ db: k, provider: migrationProvider }).migrateTo('0010_directory_revision');
    assert.equal(error, undefined);
    const [c1, c2] = [randomUUID(), randomUUID()];
    const now = Date.now();
    // 450 rows, the two clusters interleaved, times not in insertion order for c2.
    const rows = Array.from({ length: 450 }, (_, i) => ({
      cluster_uid: i % 3 === 0 ? c2 : c1,
      time: i % 3 === 0 ? now - ((i * 7) % 450) : now - 1000 + i,
      kind: i % 2 ? 'authorization' : 'authentication',
      source: 'webhook',
      user_name: `u${i}@example.com`,
      user_object_id: i % 5 ? randomUUID() : null,
      groups: JSON.stringify(i % 4 ? [randomUUID(), 'system:authenticated'] : []),
      groups_source: i % 4 ? 'tokenClaim' : null,
      verb: i % 2 ? 'get' : null,
      resource: i % 2 ? 'pods' : null,
      subresource: i % 6 === 1 ? 'log' : null,
      api_group: i % 2 ? '' : null,
      namespace: i % 2 ? 'default' : null,
      name: i % 7 === 1 ? 'p' : null,
      path: null,
      decision: i % 3 === 1 ? 'denied' : 'allowed',
      reason: `row ${i}`,
    }));
    for (let i = 0; i < rows.length; i += 50)
      await k
        .insertInto('access_decisions')
        .values(rows.slice(i, i + 50))
        .execute();
    await k.destroy();

    const s = await open();
    try {
      for (const c of [c1, c2]) {
        const expected = rows
          .map((r, i) => ({ r, i }))
          .filter(({ r }) => r.cluster_uid === c)
          .sort((a, b) => b.r.time - a.r.time || b.i - a.i)
          .map(({ r }) => ({
            clusterUid: r.cluster_uid,
            time: r.time,
            kind: r.kind,
            source: r.source,
            user: r.user_name,
            userObjectId: r.user_object_id,
            groups: JSON.parse(r.groups) as string[],
            groupsSource: r.groups_source,
            verb: r.verb,
            resource: r.resource,
            subresource: r.subresource,
            apiGroup: r.api_group,
            namespace: r.namespace,
            name: r.name,
            path: r.path,
            decision: r.decision,
            reason: r.reason,
          }));
        const page = await s.listAccessDecisions(c);
        assert.deepEqual(
          page.items.map(({ id: _id, ...e }) => e),
          expected,
        );
      }
    } finally {
      await s.close();
    }
  });
}
