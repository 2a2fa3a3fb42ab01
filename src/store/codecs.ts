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
  const entity: Record<PropertyKey, unknown> = {};
  for (const key of Object.keys(c.fields)) {
    const [column, kind] = c.fields[key as keyof T];
    const value = row[column];
    if (value === null || value === undefined) entity[key] = null;
    else if (kind === 'sealed-json' || kind === 'sealed-text') openedOnRead(entity, key, kind === 'sealed-json', String(value), sealer);
    else
      entity[key] =
        kind === 'bool' ? Number(value) === 1 : kind === 'json' ? JSON.parse(String(value)) : kind === 'int' ? Number(value) : value;
  }
  return entity as T;
}

/** An entity's sealed columns as read, and what was opened of them; kept under a symbol, not enumerable. */
const SEALED = Symbol('sealed columns');
interface SealedColumns {
  sealer: ColumnSealer | undefined;
  texts: Record<string, string>;
  opened: Record<string, unknown>;
}

/**
 * A sealed column is opened when its property is first read, not when its row is: a read that never
 * looks at the private material leaves it sealed in memory and does not pay the AES-GCM opening. A key
 * that does not open it fails at that read.
 * The property is enumerable, so a spread or JSON.stringify of the entity opens it as before.
 *
 * Every entity shares one getter and setter per property (sealedAccessor): V8 keeps an accessor in the
 * object's hidden class, so an accessor made for each entity (a closure over its sealed text) gave every
 * entity a hidden class of its own. Those live in the old generation until a full collection, and kept
 * each entity, its row and all they referenced alive through every young collection in between: an ARM
 * GET of a cluster left about 7 KB that survived two scavenges, and each scavenge took 2–4 ms.
 */
function openedOnRead(
  entity: Record<PropertyKey, unknown>,
  key: string,
  json: boolean,
  text: string,
  sealer: ColumnSealer | undefined,
): void {
  let columns = entity[SEALED] as SealedColumns | undefined;
  if (columns === undefined) {
    columns = { sealer, texts: Object.create(null), opened: Object.create(null) };
    Object.defineProperty(entity, SEALED, { value: columns });
  }
  columns.texts[key] = text;
  Object.defineProperty(entity, key, sealedAccessor(key, json));
}

const accessors = new Map<string, PropertyDescriptor>();

function sealedAccessor(key: string, json: boolean): PropertyDescriptor {
  const name = `${json ? 'json' : 'text'}:${key}`;
  let accessor = accessors.get(name);
  if (accessor === undefined) {
    accessor = {
      enumerable: true,
      configurable: true,
      get(this: Record<PropertyKey, unknown>) {
        const columns = this[SEALED] as SealedColumns;
        if (key in columns.opened) return columns.opened[key];
        const text = opened(columns.sealer, columns.texts[key]!);
        const value = json ? JSON.parse(text) : text;
        columns.opened[key] = value;
        return value;
      },
      set(this: Record<PropertyKey, unknown>, v: unknown) {
        Object.defineProperty(this, key, { value: v, enumerable: true, configurable: true, writable: true });
      },
    };
    accessors.set(name, accessor);
  }
  return accessor;
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
