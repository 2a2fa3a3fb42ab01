import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, type Driver } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import { migrationProvider } from './migrations.js';
import type { Statement } from 'better-sqlite3';
import { SqliteDirect } from './sqlite-direct.js';
import { withStatementCache } from './sqlite-statements.js';
import { preparedName } from './pg-statements.js';
import type { ColumnSealer } from './codecs.js';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import type { CustomTypesConfig } from 'pg';

/** The tables the migrations make (schema.ts), which the store's queries name. */
type Tables = Database;
type Connection = Kysely<Tables>;

export interface OpenStoreOptions {
  /** Undefined or `sqlite:` → `<dataDir>/kentra.db`; `sqlite::memory:`; `sqlite:/path/file.db`; `postgres://…`. */
  url?: string;
  dataDir?: string;
  /** Seals private material at rest (signing keys, cluster secrets); `kentra up` always gives one. */
  sealer?: ColumnSealer;
}

/** The database and its WAL and shared-memory files are the owner's alone, whatever the folder's mode was. */
function ownerOnly(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/**
 * Kysely's SQLite dialect, with transactions that take the write lock when they begin. Kysely's own
 * plain (deferred) BEGIN takes it only at the first write: if another process (`kentra keys rotate`
 * beside `kentra up`, or a second instance) commits between a transaction's first read and its first
 * write, SQLite refuses that write at once with SQLITE_BUSY_SNAPSHOT ("database is locked"), whatever the
 * busy timeout. With BEGIN IMMEDIATE the other process waits its busy timeout instead. Within one process
 * nothing changes: kysely runs one transaction at a time on its one connection.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

async function sqlite(file: string): Promise<{ db: Connection; direct: SqliteDirect }> {
  const { default: Database } = await import('better-sqlite3');
  const onDisk = file !== ':memory:' && file !== '';
  if (onDisk) ownerOnly(file);
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  // SQLite makes -wal and -shm with the database file's mode; set it again in case they predate this.
  if (onDisk) ownerOnly(file);
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const statements = withStatementCache(database);
  return {
    db: new Kysely<Tables>({ dialect: new ImmediateSqliteDialect({ database: statements }) }),
    direct: new SqliteDirect(database, (sql) => statements.prepare(sql) as unknown as Statement),
  };
}

/** How long a statement may run on the server, and how long the client waits for any answer. */
export const POSTGRES_STATEMENT_TIMEOUT_MS = 5_000;
export const POSTGRES_QUERY_TIMEOUT_MS = 6_000;
/** How long opening a connection (or waiting for a free one in the pool) may take. */
export const POSTGRES_CONNECT_TIMEOUT_MS = 3_000;

async function postgres(url: string): Promise<Connection> {
  const { default: pg } = await import('pg');
  // bigint columns hold epoch milliseconds: safe as JavaScript numbers.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
  };
  // Timeouts, so a frozen or unreachable server fails requests in seconds (503) instead of hanging them:
  // statement_timeout ends a slow statement on the server; query_timeout gives up on a server that
  // does not answer at all; idle_in_transaction_session_timeout frees locks a vanished client held.
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types,
    keepAlive: true,
    connectionTimeoutMillis: POSTGRES_CONNECT_TIMEOUT_MS,
    query_timeout: POSTGRES_QUERY_TIMEOUT_MS,
    statement_timeout: POSTGRES_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: 60_000,
  });
  // A connection that the server drops (a restart, a failover) must not crash the process: pool.on('error')
  // covers idle clients, and each client gets its own listener for the time it is checked out. The query
  // in flight reports the failure; the pool drops the broken client and opens a new one for the next query.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    // A query the server never answered may still run when it wakes up, and the transaction around it
    // with it: such a connection is closed (its session rolls back), never handed to the next request.
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      // kysely runs `query(text, values)`; the few hot reads marked by keepPrepared run as named statements.
      const name = typeof args[0] === 'string' ? preparedName(args[0]) : undefined;
      const result = (name ? query({ name, text: args[0], values: args[1] }) : query(...args)) as Promise<unknown> | undefined;
      result?.catch?.((err: Error) => {
        if (err?.message === 'Query read timeout') client.end().catch(() => {});
      });
      return result;
    };
  });
  return new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * The kind of store a URL names, or the error openStore gives for one it cannot open: so that a command
 * can refuse it before it writes anything. The password of a URL is never in the message.
 */
export function storeKind(url = 'sqlite:'): 'sqlite' | 'postgres' {
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  if (url.startsWith('sqlite:')) return 'sqlite';
  throw new Error(`unsupported store URL (use sqlite:…, or postgres://…): ${url.replace(/\/\/[^@/]*@/, '//***@')}`);
}

/** Opens (and migrates) the store named by `url`. */
export async function openStore(opts: OpenStoreOptions = {}): Promise<Store> {
  const url = opts.url ?? 'sqlite:';
  let db: Connection;
  const kind = storeKind(url);
  let direct: SqliteDirect | null = null;
  if (kind === 'postgres') {
    db = await postgres(url);
  } else {
    let file = url.slice('sqlite:'.length);
    if (file === '') {
      if (!opts.dataDir) throw new Error('a data directory is needed for the embedded SQLite store');
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      file = join(opts.dataDir, 'kentra.db');
    }
    ({ db, direct } = await sqlite(file));
  }
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  const store = new KyselyStore(kind, db, db, opts.sealer);
  store.direct = direct;
  try {
    await store.backfillClusterUids();
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return store;
}
