import type { Database, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Distinct SQL texts kept prepared; past this the cache starts over (the store's queries are a few hundred). */
export const STATEMENT_CACHE_MAX = 1_000;

/**
 * The database as kysely's SQLite dialect sees it, with each distinct SQL text prepared once:
 * kysely calls `prepare` for every query it runs, and better-sqlite3 would compile the statement
 * again each time. Kysely runs a statement to completion (`all` or `run`) right after preparing it,
 * so one statement object serves every use of its text; a statement still busy (a streamed query
 * being iterated) is never handed out again: that caller gets a fresh one.
 */
export function withStatementCache(database: Database, max = STATEMENT_CACHE_MAX): SqliteDatabase {
  let statements = new Map<string, Statement>();
  return {
    prepare(sql: string) {
      const cached = statements.get(sql);
      if (cached && !cached.busy) return cached;
      const statement = database.prepare(sql);
      if (!cached) {
        if (statements.size >= max) statements = new Map();
        statements.set(sql, statement);
      }
      return statement;
    },
    close() {
      statements = new Map();
      database.close();
    },
  };
}
