import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A throwaway PostgreSQL server for tests: initdb in a temporary folder, listening on 127.0.0.1 on a
// free port. The server refuses to run as root, so as root it runs as an unprivileged user.

export interface TestPostgres {
  /** URL of a fresh, empty database. */
  url: string;
  /** Another fresh database on the same server. */
  newDatabase(): Promise<string>;
  stop(): Promise<void>;
  /** The server's own controls, when this process started it (not for KENTRA_TEST_POSTGRES_URL): for fault tests. */
  server?: { dataDir: string; pgCtl(args: string[]): void; start(): void };
}

const PG_USER = 'kentra';

/** Where initdb and pg_ctl are: on PATH, or in Debian's versioned folder. */
export function postgresBinDir(): string | null {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The unprivileged OS user to run the server as when we are root (created when missing). */
function osUser(): { name: string; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'kentra-pg']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (id.status === 0) {
      return { name, uid: Number(id.stdout.trim()), gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()) };
    }
  }
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'kentra-pg']);
  return osUser();
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

let counter = 0;
const dbName = () => `kentra_test_${process.pid}_${++counter}_${Date.now().toString(36)}`;

export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.KENTRA_TEST_POSTGRES_URL;
  if (external) {
    const make = async () => {
      const name = dbName();
      await createDatabase(external, name);
      const u = new URL(external);
      u.pathname = `/${name}`;
      return u.toString();
    };
    return { url: await make(), newDatabase: make, stop: async () => {} };
  }

  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries (initdb, pg_ctl) were not found: install the Debian package postgresql');
  const user = osUser();
  const dir = mkdtempSync(join(tmpdir(), 'kentra-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  const asUser = (cmd: string, args: string[]) => {
    const [file, argv] = user ? ['runuser', ['-u', user.name, '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const res = spawnSync(file, argv, { encoding: 'utf8', cwd: dir });
    if (res.status !== 0) throw new Error(`${cmd} failed (${res.status}): ${res.stderr || res.stdout}`);
  };
  asUser('initdb', ['-D', dataDir, '-U', PG_USER, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const start = () =>
    asUser('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -h 127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
  start();
  const adminUrl = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
  const make = async () => {
    const name = dbName();
    await createDatabase(adminUrl, name);
    return `postgres://${PG_USER}@127.0.0.1:${port}/${name}`;
  };
  return {
    url: await make(),
    newDatabase: make,
    server: { dataDir, pgCtl: (args) => asUser('pg_ctl', ['-D', dataDir, ...args]), start },
    async stop() {
      // pg_ctl stops the server by the process id in its postmaster.pid.
      try {
        asUser('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The stores an end-to-end file runs on: SQLite, and PostgreSQL where its binaries are (always in CI).
 * One throwaway server per file, stopped when the file's tests end.
 */
export function storeMatrix(after: (fn: () => Promise<void>) => void): { name: string; url?: () => Promise<string> }[] {
  const stores: { name: string; url?: () => Promise<string> }[] = [{ name: 'SQLite' }];
  let pg: TestPostgres | undefined;
  if (postgresBinDir() || process.env.KENTRA_TEST_POSTGRES_URL)
    stores.push({ name: 'PostgreSQL', url: async () => (pg ??= await startPostgres()).newDatabase() });
  else if (process.env.CI) throw new Error('PostgreSQL is required in CI: install the Debian package postgresql');
  after(async () => pg?.stop());
  return stores;
}
