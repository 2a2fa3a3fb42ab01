// Row ⇄ entity mapping, declared once per table. Booleans are 0/1 integers and lists are JSON text,
// so the same schema works on SQLite and PostgreSQL.

import type { Database } from './schema.js';

type Kind = 'text' | 'int' | 'bool' | 'json' | 'sealed-text' | 'sealed-json';

export type TableName = keyof Database & string;
/** A column of the table, as the migrations make it (schema.ts). */
export type ColumnOf<TB extends TableName> = keyof Database[TB] & string;

/** Seals and opens private material at rest (`sealed-*` columns); see src/shared/key-sealing.ts. */
export interface ColumnSealer {
  seal(plaintext: string): string;
  unseal(stored: string): string;
}

export interface Codec<T, TB extends TableName = TableName> {
  table: TB;
  /** Entity property → [column, kind]. */
  fields: { [K in keyof T]-?: [ColumnOf<TB>, Kind] };
  /** Extra columns computed from the entity (lower-cased lookup keys). */
  derived?: (entity: T) => Partial<Record<ColumnOf<TB>, unknown>>;
}

/** `codec<Entity>()('table', { property: ['column', kind] })`: the entity named, the table's columns checked. */
export function codec<T>() {
  return <TB extends TableName>(table: TB, fields: Codec<T, TB>['fields'], derived?: Codec<T, TB>['derived']): Codec<T, TB> => ({
    table,
    fields,
    derived,
  });
}

export function toRow<T, TB extends TableName>(c: Codec<T, TB>, entity: T, sealer?: ColumnSealer): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const key of Object.keys(c.fields) as (keyof T)[]) {
    const [column, kind] = c.fields[key];
    const value = entity[key];
    row[column] =
      value === undefined || value === null
        ? null
        : kind === 'bool'
          ? value
            ? 1
            : 0
          : kind === 'json'
            ? JSON.stringify(value)
            : kind === 'sealed-json'
              ? sealed(sealer, JSON.stringify(value))
              : kind === 'sealed-text'
                ? sealed(sealer, String(value))
                : value;
  }
  return c.derived ? { ...row, ...c.derived(entity) } : row;
}

export function fromRow<T, TB extends TableName>(c: Codec<T, TB>, row: Record<string, unknown>, sealer?: ColumnSealer): T {
  const entity: Record<string, unknown> = {};
  for (const key of Object.keys(c.fields)) {
    const [column, kind] = c.fields[key as keyof T];
    const value = row[column];
    if (value === null || value === undefined) entity[key] = null;
    else if (kind === 'sealed-json' || kind === 'sealed-text') {
      const text = String(value);
      openedOnRead(entity, key, kind === 'sealed-json' ? () => JSON.parse(opened(sealer, text)) : () => opened(sealer, text));
    } else
      entity[key] =
        kind === 'bool' ? Number(value) === 1 : kind === 'json' ? JSON.parse(String(value)) : kind === 'int' ? Number(value) : value;
  }
  return entity as T;
}

/**
 * A sealed column is opened when its property is first read, not when its row is: a read that never
 * looks at the private material leaves it sealed in memory and does not pay the AES-GCM opening. A key
 * that does not open it fails at that read.
 * The property is enumerable, so a spread or JSON.stringify of the entity opens it as before.
 */
function openedOnRead(entity: Record<string, unknown>, key: string, open: () => unknown): void {
  let done = false;
  let value: unknown;
  Object.defineProperty(entity, key, {
    enumerable: true,
    configurable: true,
    get() {
      if (!done) {
        value = open();
        done = true;
      }
      return value;
    },
    set(v: unknown) {
      Object.defineProperty(entity, key, { value: v, enumerable: true, configurable: true, writable: true });
    },
  });
}

/** The columns an entity is read from (its properties'), for reads that name them instead of `select *`. */
export function codecColumns<T, TB extends TableName>(c: Codec<T, TB>): ColumnOf<TB>[] {
  return Object.values<[ColumnOf<TB>, Kind]>(c.fields).map(([column]) => column);
}

/** The column of one property. */
export function col<T, TB extends TableName>(c: Codec<T, TB>, key: keyof T): ColumnOf<TB> {
  return c.fields[key][0];
}

// A store opened without a sealer (in-memory stores of unit tests) keeps these columns as they are.
const sealed = (sealer: ColumnSealer | undefined, value: string): string => (sealer ? sealer.seal(value) : value);
const opened = (sealer: ColumnSealer | undefined, value: string): string => (sealer ? sealer.unseal(value) : value);
