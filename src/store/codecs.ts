// Row ⇄ entity mapping, declared once per table. Booleans are 0/1 integers and lists are JSON text,
// so the same schema works on SQLite and PostgreSQL.

type Kind = 'text' | 'int' | 'bool' | 'json';

export interface Codec<T> {
  table: string;
  /** Entity property → [column, kind]. */
  fields: { [K in keyof T]-?: [string, Kind] };
  /** Extra columns computed from the entity (lower-cased lookup keys). */
  derived?: (entity: T) => Record<string, unknown>;
}

export function codec<T>(table: string, fields: Codec<T>['fields'], derived?: Codec<T>['derived']): Codec<T> {
  return { table, fields, derived };
}

export function toRow<T>(c: Codec<T>, entity: T): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const key of Object.keys(c.fields) as (keyof T)[]) {
    const [column, kind] = c.fields[key];
    const value = entity[key];
    row[column] = value === undefined || value === null ? null
      : kind === 'bool' ? (value ? 1 : 0)
      : kind === 'json' ? JSON.stringify(value)
      : value;
  }
  return c.derived ? { ...row, ...c.derived(entity) } : row;
}

export function fromRow<T>(c: Codec<T>, row: Record<string, unknown>): T {
  const entity: Record<string, unknown> = {};
  for (const key of Object.keys(c.fields)) {
    const [column, kind] = c.fields[key as keyof T];
    const value = row[column];
    entity[key] = value === null || value === undefined ? null
      : kind === 'bool' ? Number(value) === 1
      : kind === 'json' ? JSON.parse(String(value))
      : kind === 'int' ? Number(value)
      : value;
  }
  return entity as T;
}

/** The column of one property. */
export function col<T>(c: Codec<T>, key: keyof T): string {
  return c.fields[key][0];
}
