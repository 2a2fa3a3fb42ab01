import type { Database, Statement } from 'better-sqlite3';

/**
 * Appends rows of the logs (the sign-in log, the cluster access log) to SQLite straight through
 * better-sqlite3: one transaction per batch, one prepared statement per table, no query builder per
 * row. A log row costs about 10 µs of SQLite's own work; through the builder it cost twice that.
 * The store calls it while it holds kysely's single connection, so a batch never lands inside
 * another caller's transaction.
 */
export class SqliteAppender {
  private readonly append: (statement: Statement, rows: readonly unknown[][]) => void;

  /** `prepare` is the store's statement cache (sqlite-statements.ts): each INSERT text is prepared once. */
  constructor(
    database: Database,
    private readonly prepare: (sql: string) => Statement,
  ) {
    this.append = database.transaction((statement: Statement, rows: readonly unknown[][]) => {
      for (const row of rows) statement.run(row);
    });
  }

  /** Inserts `rows` with `sql` (one row's INSERT with `?` placeholders) in one transaction. */
  run(sql: string, rows: readonly unknown[][]): void {
    this.append(this.prepare(sql), rows);
  }
}
