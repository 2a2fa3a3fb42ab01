import { after, before, describe, it } from 'node:test';
import { packageSkip } from '../../test/support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { runStoreConformance } from './conformance.js';
import { openStore } from './open.js';

// CI installs PostgreSQL (.ci/run) and must never skip this; elsewhere it skips, naming the package.
const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');

if (available) {
  let pg: TestPostgres;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });
  let url = '';
  runStoreConformance(
    'PostgreSQL',
    async () => openStore({ url: (url = await pg.newDatabase()) }),
    async () => openStore({ url }),
  );
} else {
  describe('store conformance: PostgreSQL', () => {
    it('needs PostgreSQL (Debian package postgresql)', { skip }, () => {});
  });
}
