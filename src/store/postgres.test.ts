import { after, before, describe, it } from 'node:test';
import { packageSkip } from '../../test/support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { runStoreConformance } from './conformance.js';
import { checkAccessLogMigration, type TablesBefore0011 } from './migration-checks.js';
import { openStore } from './open.js';

// CI installs PostgreSQL (.ci/run) and must never skip this; elsewhere it skips, naming the package.
const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');

if (available) {
  let server: TestPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  let url = '';
  runStoreConformance(
    'PostgreSQL',
    async () => openStore({ url: (url = await server.newDatabase()) }),
    async () => openStore({ url }),
  );
  describe('PostgreSQL store', () => {
    let migrated = '';
    checkAccessLogMigration(
      async () =>
        new Kysely<TablesBefore0011>({
          dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: (migrated = await server.newDatabase()) }) }),
        }),
      () => openStore({ url: migrated }),
    );
  });
} else {
  describe('store conformance: PostgreSQL', () => {
    it('needs PostgreSQL (Debian package postgresql)', { skip }, () => {});
  });
}
