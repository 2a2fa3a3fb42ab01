import { after, before, describe, it } from 'node:test';
import { postgresBinDir, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { runStoreConformance } from './conformance.js';
import { openStore } from './open.js';

// CI installs PostgreSQL (.ci/run) and must never skip this; elsewhere it skips, naming the package.
const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
if (!available && process.env.CI) throw new Error('PostgreSQL is required in CI: install the Debian package postgresql');

if (available) {
  let pg: TestPostgres;
  before(async () => { pg = await startPostgres(); });
  after(async () => { await pg?.stop(); });
  runStoreConformance('PostgreSQL', async () => openStore({ url: await pg.newDatabase() }));
} else {
  describe('store conformance: PostgreSQL', () => {
    it('needs PostgreSQL (Debian package postgresql)', { skip: 'initdb not found: install the Debian package postgresql' }, () => {});
  });
}
