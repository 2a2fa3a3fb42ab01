import { CompiledQuery, sql, type Kysely, type Transaction, type WhereInterface } from 'kysely';
import {
  col,
  codecColumns,
  fromRow as fromRowPlain,
  toRow as toRowPlain,
  type Codec,
  type ColumnOf,
  type ColumnSealer,
  type TableName,
} from './codecs.js';
import { StoreError } from './errors.js';
import {
  compareNewestFirst,
  cursorOf,
  parseCursor,
  SEGMENT_COLUMNS,
  SegmentMerger,
  segmentRows,
  trimSegment,
  type EntryKey,
  type StoredSegment,
} from './access-log-segments.js';
import type { SqliteDirect } from './sqlite-direct.js';
import { compareIds, type ListOptions, type Page, type Store, type Updater } from './store.js';
import type { Database } from './schema.js';
import { keepPrepared } from './pg-statements.js';
import { DIRECTORY_TABLES } from './migrations.js';
import * as t from './tables.js';
import type { AccessLogEntry, AccessLogQuery, AccessLogRecord } from './types.js';
import type {
  ArmOperation,
  ArmResource,
  FeatureRegistration,
  Application,
  AppRoleAssignment,
  AuthorizationCode,
  CounterHit,
  DeviceCode,
  DeviceCodeStatus,
  DirectoryRoleAssignment,
  FederatedIdentityCredential,
  Group,
  GroupMember,
  KeyCredential,
  KubeObject,
  OAuth2PermissionGrant,
  Owner,
  PasswordCredential,
  RefreshToken,
  RoleAssignment,
  ServicePrincipal,
  SignInEvent,
  SignInQuery,
  SignInSession,
  SigningKey,
  Subscription,
  Tenant,
  User,
} from './types.js';

type Db = Kysely<Database> | Transaction<Database>;
/**
 * The generic helpers (insert, one, many, page, update, remove) take their table and columns from a codec
 * (tables.ts) at run time, so they see the database as tables of columns of unknown values; every other
 * query is checked against `Database`.
 */
type LooseDatabase = Record<string, Record<string, unknown>>;
/** Equality conditions on columns of the table. */
type Where<TB extends TableName> = Partial<Record<ColumnOf<TB>, unknown>>;

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const GROUPS_PER_QUERY = 500;
/** The sizes getGroups and getUsers pad a chunk of ids to (the last is GROUPS_PER_QUERY). */
const GROUP_READ_SIZES = [1, 8, 32, 128, GROUPS_PER_QUERY];
/** How many group ids the transitive-membership cache holds in all (about 60 bytes each). */
export const MEMBERSHIP_CACHE_IDS = 200_000;

/** The meta row that serializes a tenant's group-in-group writes and counts its membership writes. */
const membershipKey = (tenantId: string) => `lock:group-members:${tenantId}`;

/** Transitive group ids by (tenant, member), each kept with the membership revision it was read under; least recently used first out. */
export class MembershipCache {
  private readonly entries = new Map<string, { revision: string; ids: readonly string[] }>();
  private size = 0;
  constructor(private readonly maxIds: number) {}

  get(tenantId: string, memberId: string, revision: string): readonly string[] | undefined {
    const key = `${tenantId}/${memberId}`;
    const e = this.entries.get(key);
    if (!e || e.revision !== revision) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.ids;
  }

  set(tenantId: string, memberId: string, revision: string, ids: readonly string[]): void {
    const key = `${tenantId}/${memberId}`;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.size -= old.ids.length + 1;
    }
    if (ids.length + 1 > this.maxIds) return;
    this.entries.set(key, { revision, ids });
    this.size += ids.length + 1;
    for (const [k, e] of this.entries) {
      if (this.size <= this.maxIds) break;
      this.entries.delete(k);
      this.size -= e.ids.length + 1;
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** How an object is named in a conflict message: `/configmaps default/app in cluster <uid>`. */
function kubeObjectName(o: Pick<KubeObject, 'clusterUid' | 'resource' | 'namespace' | 'name'>): string {
  return `${o.resource} ${o.namespace ? `${o.namespace}/` : ''}${o.name} in cluster ${o.clusterUid}`;
}

/** One implementation over kysely for both dialects; the dialect only changes row locking and text ordering. */
/**
 * Rows per INSERT statement when appending log rows through kysely (appendRows: PostgreSQL, or SQLite
 * inside a caller's transaction), largest first: a handful of statement texts, each built once.
 */
/** Access log segments read per query while a page is gathered (each holds up to 200 entries). */
const SEGMENTS_READ = 8;

const APPEND_CHUNKS_BY_KIND = { sqlite: [20, 5, 1], postgres: [50, 10, 1] } as const;

export class KyselyStore implements Store {
  constructor(
    readonly kind: 'sqlite' | 'postgres',
    private readonly db: Db,
    private readonly root: Kysely<Database> | null,
    private readonly sealer?: ColumnSealer,
    /** Transitive groups by member, checked against the tenant's membership revision on every read (root store only). */
    private readonly memberships: MembershipCache | null = root ? new MembershipCache(MEMBERSHIP_CACHE_IDS) : null,
  ) {}

  private toRow<T, TB extends TableName>(c: Codec<T, TB>, entity: T): Record<string, unknown> {
    return toRowPlain(c, entity, this.sealer);
  }
  /** A row as selected, typed (Database) or not. */
  private fromRow<T, TB extends TableName>(c: Codec<T, TB>, row: object): T {
    return fromRowPlain(c, row as Record<string, unknown>, this.sealer);
  }

  /** SQLite's log appends and hot reads without the query builder (root store only; see appendRows, hotRead). */
  direct: SqliteDirect | null = null;

  async close(): Promise<void> {
    await this.root?.destroy();
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (!this.root) return fn(this);
    return this.root.transaction().execute((trx) => fn(new KyselyStore(this.kind, trx, null, this.sealer)));
  }

  // ---- generic helpers -------------------------------------------------------------------

  /** The database as the generic helpers see it (see LooseDatabase). */
  private get loose(): Kysely<LooseDatabase> {
    return this.db as unknown as Kysely<LooseDatabase>;
  }

  private where<Q extends WhereInterface<LooseDatabase, string>, TB extends TableName>(q: Q, where: Where<TB>): Q {
    for (const [column, value] of Object.entries(where)) q = q.where(column, '=', value) as Q;
    return q;
  }

  private async insert<T, TB extends TableName>(c: Codec<T, TB>, entity: T, what: string): Promise<void> {
    try {
      await this.loose.insertInto(c.table).values(this.toRow(c, entity)).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new StoreError('conflict', `${what} already exists`);
      throw err;
    }
  }

  /** INSERT texts by table, columns and row count, for appendRows. */
  private readonly appendTexts = new Map<string, string>();

  /**
   * Appends log rows (a batch of the sign-in or access log, each row its values in `columns`' order)
   * in one transaction. On SQLite the direct way runs one prepared statement per row,
   * holding kysely's connection; on PostgreSQL the statements have a few fixed sizes whose text is
   * built once, so no query is built per row.
   */
  private async appendRows(table: TableName, columns: readonly string[], rows: readonly unknown[][]): Promise<void> {
    if (rows.length === 0) return;
    const direct = this.direct;
    if (direct && this.root) {
      const text = this.appendText(table, columns, 1);
      return this.root.connection().execute(async () => direct.append(text, rows));
    }
    const run = async (db: Kysely<Database>) => {
      let i = 0;
      for (const size of APPEND_CHUNKS_BY_KIND[this.kind]) {
        for (; rows.length - i >= size; i += size) {
          const params: unknown[] = [];
          for (let r = i; r < i + size; r++) params.push(...rows[r]!);
          await db.executeQuery(CompiledQuery.raw(this.appendText(table, columns, size), params));
        }
      }
    };
    if (this.root && rows.length > 1) await this.root.transaction().execute(run);
    else await run(this.db);
  }

  /**
   * A read that runs before most requests: on PostgreSQL a named prepared statement (keepPrepared); on
   * SQLite straight through better-sqlite3 while no transaction is open (SqliteDirect.read), else through
   * kysely like any other query. Only for a root store: a transaction's store reads inside it.
   */
  private async hotRead<R>(
    name: string,
    build: (db: Db) => { compile(): { sql: string } },
    parameters: readonly unknown[],
  ): Promise<readonly R[]> {
    let sql = this.hotTexts.get(name);
    if (sql === undefined) {
      // Built once per store (only the parameters change); on PostgreSQL a named prepared statement.
      sql = build(this.db).compile().sql;
      keepPrepared(sql);
      this.hotTexts.set(name, sql);
    }
    const rows = this.direct && this.root ? this.direct.read<R>(sql, parameters) : null;
    return rows ?? (await this.db.executeQuery(CompiledQuery.raw(sql, [...parameters]) as CompiledQuery<R>)).rows;
  }

  private readonly hotTexts = new Map<string, string>();

  /** The rows of a tenant's table with these ids (the ones that exist), ordered by id (compareIds): getGroups, getUsers. */
  private async byIds<T extends { id: string }, TB extends 'groups' | 'users'>(
    c: Codec<T, TB>,
    tenantId: string,
    ids: string[],
  ): Promise<T[]> {
    const found: T[] = [];
    // In chunks, well under both backends' limit on bound parameters. Each chunk is padded to one of a few
    // sizes by repeating its last id (which IN ignores), so that each size is a hot read, built and
    // prepared once, not a new statement for every count of ids.
    for (let i = 0; i < ids.length; i += GROUPS_PER_QUERY) {
      const chunk = ids.slice(i, i + GROUPS_PER_QUERY);
      const size = GROUP_READ_SIZES.find((n) => n >= chunk.length) ?? GROUPS_PER_QUERY;
      while (chunk.length < size) chunk.push(chunk[chunk.length - 1]!);
      const rows = await this.hotRead<Record<string, unknown>>(
        `${c.table}ByIds${size}`,
        (db) =>
          db
            .selectFrom(c.table as 'groups')
            .select(codecColumns(c) as ColumnOf<'groups'>[])
            .where('tenant_id', '=', '')
            .where(
              'id',
              'in',
              chunk.map(() => ''),
            ),
        [tenantId, ...chunk],
      );
      found.push(...rows.map((r) => this.fromRow(c, r)));
    }
    return found.sort((a, b) => compareIds(a.id, b.id));
  }

  private appendText(table: TableName, columns: readonly string[], size: number): string {
    const key = `${table}|${columns.join(',')}|${size}`;
    let text = this.appendTexts.get(key);
    if (!text) {
      let n = 0;
      const row = () => `(${columns.map(() => (this.kind === 'postgres' ? `$${++n}` : '?')).join(', ')})`;
      const values = Array.from({ length: size }, row).join(', ');
      text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${values}`;
      this.appendTexts.set(key, text);
    }
    return text;
  }

  private async one<T, TB extends TableName>(c: Codec<T, TB>, where: Where<TB>): Promise<T | null> {
    const row = await this.where(this.loose.selectFrom(c.table).selectAll(), where).executeTakeFirst();
    return row ? this.fromRow(c, row) : null;
  }

  private async many<T, TB extends TableName>(c: Codec<T, TB>, where: Where<TB>, orderBy?: ColumnOf<TB>): Promise<T[]> {
    let q = this.where(this.loose.selectFrom(c.table).selectAll(), where);
    if (orderBy) q = q.orderBy(orderBy);
    return (await q.execute()).map((r: Record<string, unknown>) => this.fromRow(c, r));
  }

  private async page<T, TB extends TableName>(c: Codec<T, TB>, where: Where<TB>, key: keyof T, opts: ListOptions = {}): Promise<Page<T>> {
    const limit = Math.min(Math.max(opts.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
    const column: string = col(c, key);
    let q = this.where(this.loose.selectFrom(c.table).selectAll(), where)
      .orderBy(column)
      .limit(limit + 1);
    if (opts.after) q = q.where(column, '>', Buffer.from(opts.after, 'base64url').toString('utf8'));
    const rows = await q.execute();
    const items = rows.slice(0, limit).map((r: Record<string, unknown>) => this.fromRow(c, r));
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, next: Buffer.from(String(last[key]), 'utf8').toString('base64url') } : { items };
  }

  /** Read-modify-write in one transaction, with the row locked on PostgreSQL. */
  private async update<T, TB extends TableName>(
    c: Codec<T, TB>,
    where: Where<TB>,
    fn: Updater<T>,
    what: string,
    after?: (tx: KyselyStore, before: T, next: T) => Promise<void>,
    alsoSet: Record<string, unknown> = {},
  ): Promise<T | null> {
    return this.transaction(async (store) => {
      const tx = store as KyselyStore;
      // The directory revision's row first, as every write of a directory table locks it (migrations.ts, DIRECTORY_TABLES).
      if (tx.kind === 'postgres' && DIRECTORY_TABLES.has(c.table))
        await sql`SELECT revision FROM directory_revision WHERE id = 1 FOR UPDATE`.execute(tx.db);
      let q = tx.where(tx.loose.selectFrom(c.table).selectAll(), where);
      if (tx.kind === 'postgres') q = q.forUpdate();
      const row = await q.executeTakeFirst();
      if (!row) return null;
      const before = this.fromRow(c, row);
      const next = fn(structuredClone(before));
      for (const [column, value] of Object.entries(where)) {
        const key = (Object.keys(c.fields) as (keyof T)[]).find((k) => c.fields[k][0] === column);
        if (key !== undefined && next[key] !== value) throw new StoreError('invalid', `${what}: the key ${String(key)} cannot change`);
      }
      try {
        await tx.where(tx.loose.updateTable(c.table as string).set({ ...this.toRow(c, next), ...alsoSet }), where).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('conflict', `${what} conflicts with an existing one`);
        throw err;
      }
      if (after) await after(tx, before, next);
      return next;
    });
  }

  private async remove<TB extends TableName>(table: TB, where: Where<TB>): Promise<number> {
    const res = await this.where(this.loose.deleteFrom(table), where).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  // ---- meta ------------------------------------------------------------------------------

  async getMeta(key: string): Promise<string | null> {
    // Read before every membership look-up (the tenant's membership revision).
    const rows = await this.hotRead<{ value: string }>('meta', (db) => db.selectFrom('meta').select('value').where('key', '=', ''), [key]);
    return rows[0] ? String(rows[0].value) : null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }

  async insertMetaIfAbsent(key: string, value: string): Promise<boolean> {
    // ON CONFLICT DO NOTHING: a concurrent insert of the same key waits for the other transaction and
    // inserts nothing if it committed; RETURNING tells the winner apart on both dialects.
    const rows = await this.db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .execute();
    return rows.length > 0;
  }

  async lockNamed(name: string): Promise<void> {
    const key = `lock:${name}`;
    await this.db
      .insertInto('meta')
      .values({ key, value: '' })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    // A no-op UPDATE rather than SELECT … FOR UPDATE: it also takes SQLite's write lock up front.
    await this.db
      .updateTable('meta')
      .set({ value: sql`value` })
      .where('key', '=', key)
      .execute();
  }

  // ---- tenants ---------------------------------------------------------------------------

  private async writeDomains(tenantId: string, domains: string[]): Promise<void> {
    await this.remove('tenant_domains', { tenant_id: tenantId });
    for (const domain of new Set(domains.map((d) => d.toLowerCase()))) {
      try {
        await this.db.insertInto('tenant_domains').values({ domain, tenant_id: tenantId }).execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('conflict', `domain ${domain} belongs to another tenant`);
        throw err;
      }
    }
  }

  createTenant(tenant: Tenant): Promise<void> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      await s.insert(t.tenants, tenant, `tenant ${tenant.id}`);
      await s.writeDomains(tenant.id, [tenant.defaultDomain, ...tenant.domains]);
    });
  }

  getTenant(id: string) {
    return this.one(t.tenants, { id });
  }

  async findTenantByDomain(domain: string): Promise<Tenant | null> {
    const row = await this.db
      .selectFrom('tenant_domains')
      .select('tenant_id')
      .where('domain', '=', domain.toLowerCase())
      .executeTakeFirst();
    return row ? this.getTenant(String(row.tenant_id)) : null;
  }

  listTenants() {
    return this.many(t.tenants, {}, 'id');
  }

  updateTenant(id: string, fn: Updater<Tenant>) {
    return this.update(t.tenants, { id }, fn, `tenant ${id}`, (tx, _b, next) => tx.writeDomains(id, [next.defaultDomain, ...next.domains]));
  }

  // ---- users -----------------------------------------------------------------------------

  createUser(u: User) {
    return this.insert(t.users, u, `a user with the UPN ${u.userPrincipalName} or id ${u.id}`);
  }
  getUser(tenantId: string, id: string) {
    return this.one(t.users, { tenant_id: tenantId, id });
  }
  getUsers(tenantId: string, ids: string[]): Promise<User[]> {
    return this.byIds(t.users, tenantId, ids);
  }

  findUserByUpn(tenantId: string, upn: string) {
    return this.one(t.users, { tenant_id: tenantId, upn_lower: upn.toLowerCase() });
  }
  listGuestAccounts(homeTenantId: string, homeObjectId: string) {
    return this.many(t.users, { home_tenant_id: homeTenantId, home_object_id: homeObjectId }, 'tenant_id');
  }
  listUsers(tenantId: string, opts?: ListOptions) {
    return this.page(t.users, { tenant_id: tenantId }, 'id', opts);
  }
  updateUser(tenantId: string, id: string, fn: Updater<User>) {
    return this.update(t.users, { tenant_id: tenantId, id }, fn, `user ${id}`);
  }

  deleteUser(tenantId: string, id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const n = await s.remove('users', { tenant_id: tenantId, id });
      if (n) await s.removePrincipalEverywhere(tenantId, id);
      return n > 0;
    });
  }

  private async removePrincipalEverywhere(tenantId: string, id: string): Promise<void> {
    await this.remove('owners', { tenant_id: tenantId, owner_id: id });
    await this.remove('owners', { tenant_id: tenantId, object_id: id });
    if (await this.remove('group_members', { tenant_id: tenantId, member_id: id })) await this.countMembershipWrite(tenantId);
    await this.remove('app_role_assignments', { tenant_id: tenantId, principal_id: id });
    await this.remove('oauth2_permission_grants', { tenant_id: tenantId, principal_id: id });
    await this.remove('directory_role_assignments', { tenant_id: tenantId, principal_id: id });
    await this.remove('role_assignments', { tenant_id: tenantId, principal_id: id });
  }

  // ---- groups ----------------------------------------------------------------------------

  createGroup(g: Group) {
    return this.insert(t.groups, g, `group ${g.id}`);
  }
  getGroup(tenantId: string, id: string) {
    return this.one(t.groups, { tenant_id: tenantId, id });
  }
  getGroups(tenantId: string, ids: string[]): Promise<Group[]> {
    return this.byIds(t.groups, tenantId, ids);
  }
  listGroups(tenantId: string, opts?: ListOptions) {
    return this.page(t.groups, { tenant_id: tenantId }, 'id', opts);
  }
  updateGroup(tenantId: string, id: string, fn: Updater<Group>) {
    return this.update(t.groups, { tenant_id: tenantId, id }, fn, `group ${id}`);
  }

  deleteGroup(tenantId: string, id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const n = await s.remove('groups', { tenant_id: tenantId, id });
      if (n) {
        if (await s.remove('group_members', { tenant_id: tenantId, group_id: id })) await s.countMembershipWrite(tenantId);
        await s.removePrincipalEverywhere(tenantId, id);
      }
      return n > 0;
    });
  }

  addGroupMember(m: GroupMember): Promise<void> {
    const what = `member ${m.memberId} of group ${m.groupId}`;
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      // The cycle check and the insert under one lock per tenant: "A member of B" and "B member of A" at
      // the same moment would otherwise each pass its check before the other's insert is visible.
      if (m.memberType === 'group') {
        await s.lockNamed(membershipKey(m.tenantId));
        if (m.memberId === m.groupId || (await s.listTransitiveGroupIds(m.tenantId, m.groupId)).includes(m.memberId)) {
          throw new StoreError('invalid', `adding group ${m.memberId} to group ${m.groupId} would create a membership cycle`);
        }
      }
      await s.insert(t.groupMembers, m, what);
      await s.countMembershipWrite(m.tenantId);
    });
  }

  removeGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const removed = (await s.remove('group_members', { tenant_id: tenantId, group_id: groupId, member_id: memberId })) > 0;
      if (removed) await s.countMembershipWrite(tenantId);
      return removed;
    });
  }

  /**
   * Every write of a tenant's memberships counts up the tenant's membership revision (in the row that also
   * serializes its group-in-group writes), in the writing transaction: a cached transitive membership is
   * good while the revision it was read under is still the committed one, on every instance.
   */
  private async countMembershipWrite(tenantId: string): Promise<void> {
    await this.db
      .insertInto('meta')
      .values({ key: membershipKey(tenantId), value: '1' })
      .onConflict((oc) =>
        oc
          .column('key')
          .doUpdateSet({ value: sql`CASE WHEN meta.value = '' THEN '1' ELSE CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT) END` }),
      )
      .execute();
  }

  listGroupMembers(tenantId: string, groupId: string) {
    return this.many(t.groupMembers, { tenant_id: tenantId, group_id: groupId }, 'member_id');
  }

  async listDirectGroupIds(tenantId: string, memberId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('group_members')
      .select('group_id')
      .where('tenant_id', '=', tenantId)
      .where('member_id', '=', memberId)
      .orderBy('group_id')
      .execute();
    return rows.map((r) => r.group_id);
  }

  async listTransitiveGroupIds(tenantId: string, memberId: string): Promise<string[]> {
    if (!this.memberships) return this.readTransitiveGroupIds(tenantId, memberId);
    // The revision first, then the groups: a write committed in between makes the groups newer than the
    // revision they are kept under, never older, and the next read sees the new revision and reads again.
    const revision = (await this.getMeta(membershipKey(tenantId))) ?? '';
    const cached = this.memberships.get(tenantId, memberId, revision);
    if (cached) return [...cached];
    const ids = await this.readTransitiveGroupIds(tenantId, memberId);
    this.memberships.set(tenantId, memberId, revision, ids);
    return [...ids];
  }

  private async readTransitiveGroupIds(tenantId: string, memberId: string): Promise<string[]> {
    // UNION (not UNION ALL) makes the recursion stop on cycles and report each group once. CROSS JOIN
    // keeps `up` as the outer loop on SQLite (its join-order hint), so each step is an index probe.
    const res = await sql<{ group_id: string }>`
      WITH RECURSIVE up(group_id) AS (
        SELECT group_id FROM group_members WHERE tenant_id = ${tenantId} AND member_id = ${memberId}
        UNION
        SELECT gm.group_id FROM up CROSS JOIN group_members gm WHERE gm.tenant_id = ${tenantId} AND gm.member_id = up.group_id
      )
      SELECT group_id FROM up ORDER BY group_id`.execute(this.db);
    return res.rows.map((r) => String(r.group_id));
  }

  // ---- applications and credentials --------------------------------------------------------

  private async writeIdentifierUris(app: Application): Promise<void> {
    await this.remove('application_identifier_uris', { tenant_id: app.tenantId, app_object_id: app.id });
    for (const uri of new Set(app.identifierUris.map((u) => u.toLowerCase()))) {
      try {
        await this.db
          .insertInto('application_identifier_uris')
          .values({ tenant_id: app.tenantId, uri_lower: uri, app_object_id: app.id })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('conflict', `another application already uses the identifier URI ${uri}`);
        throw err;
      }
    }
  }

  createApplication(a: Application): Promise<void> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      await s.insert(
        t.applications,
        a,
        `an application with the appId ${a.appId}, the id ${a.id}${a.uniqueName === null ? '' : ` or the uniqueName '${a.uniqueName}'`}`,
      );
      await s.writeIdentifierUris(a);
    });
  }

  getApplication(tenantId: string, id: string) {
    return this.one(t.applications, { tenant_id: tenantId, id });
  }
  findApplicationByAppId(tenantId: string, appId: string) {
    return this.one(t.applications, { tenant_id: tenantId, app_id: appId });
  }
  findApplicationByUniqueName(tenantId: string, uniqueName: string) {
    return this.one(t.applications, { tenant_id: tenantId, unique_name_lower: uniqueName.toLowerCase() });
  }

  async findApplicationByIdentifierUri(tenantId: string, uri: string): Promise<Application | null> {
    const row = await this.db
      .selectFrom('application_identifier_uris')
      .select('app_object_id')
      .where('tenant_id', '=', tenantId)
      .where('uri_lower', '=', uri.toLowerCase())
      .executeTakeFirst();
    return row ? this.getApplication(tenantId, String(row.app_object_id)) : null;
  }

  listApplications(tenantId: string, opts?: ListOptions) {
    return this.page(t.applications, { tenant_id: tenantId }, 'id', opts);
  }

  updateApplication(tenantId: string, id: string, fn: Updater<Application>) {
    return this.update(t.applications, { tenant_id: tenantId, id }, fn, `application ${id}`, (tx, _b, next) =>
      tx.writeIdentifierUris(next),
    );
  }

  deleteApplication(tenantId: string, id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const n = await s.remove('applications', { tenant_id: tenantId, id });
      if (n) {
        for (const table of ['application_identifier_uris', 'password_credentials', 'key_credentials', 'federated_credentials'] as const) {
          await s.remove(table, { tenant_id: tenantId, app_object_id: id });
        }
        await s.remove('owners', { tenant_id: tenantId, object_id: id });
      }
      return n > 0;
    });
  }

  addPasswordCredential(c: PasswordCredential) {
    return this.insert(t.passwordCredentials, c, `password credential ${c.keyId}`);
  }
  listPasswordCredentials(tenantId: string, appObjectId: string) {
    return this.many(t.passwordCredentials, { tenant_id: tenantId, app_object_id: appObjectId }, 'start_date_time');
  }
  async removePasswordCredential(tenantId: string, appObjectId: string, keyId: string) {
    return (await this.remove('password_credentials', { tenant_id: tenantId, app_object_id: appObjectId, key_id: keyId })) > 0;
  }
  addKeyCredential(c: KeyCredential) {
    return this.insert(t.keyCredentials, c, `key credential ${c.keyId}`);
  }
  listKeyCredentials(tenantId: string, appObjectId: string) {
    return this.many(t.keyCredentials, { tenant_id: tenantId, app_object_id: appObjectId }, 'start_date_time');
  }
  async removeKeyCredential(tenantId: string, appObjectId: string, keyId: string) {
    return (await this.remove('key_credentials', { tenant_id: tenantId, app_object_id: appObjectId, key_id: keyId })) > 0;
  }
  addFederatedCredential(c: FederatedIdentityCredential) {
    return this.insert(t.federatedCredentials, c, `federated identity credential ${c.name}`);
  }
  listFederatedCredentials(tenantId: string, appObjectId: string) {
    return this.many(t.federatedCredentials, { tenant_id: tenantId, app_object_id: appObjectId }, 'name');
  }
  async removeFederatedCredential(tenantId: string, appObjectId: string, id: string) {
    return (await this.remove('federated_credentials', { tenant_id: tenantId, app_object_id: appObjectId, id })) > 0;
  }

  // ---- service principals and consent --------------------------------------------------------

  createServicePrincipal(sp: ServicePrincipal) {
    return this.insert(t.servicePrincipals, sp, `a service principal for appId ${sp.appId}`);
  }
  getServicePrincipal(tenantId: string, id: string) {
    return this.one(t.servicePrincipals, { tenant_id: tenantId, id });
  }
  findServicePrincipalByAppId(tenantId: string, appId: string) {
    return this.one(t.servicePrincipals, { tenant_id: tenantId, app_id: appId });
  }
  listServicePrincipals(tenantId: string, opts?: ListOptions) {
    return this.page(t.servicePrincipals, { tenant_id: tenantId }, 'id', opts);
  }
  updateServicePrincipal(tenantId: string, id: string, fn: Updater<ServicePrincipal>) {
    return this.update(t.servicePrincipals, { tenant_id: tenantId, id }, fn, `service principal ${id}`);
  }

  deleteServicePrincipal(tenantId: string, id: string): Promise<boolean> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const n = await s.remove('service_principals', { tenant_id: tenantId, id });
      if (n) {
        await s.removePrincipalEverywhere(tenantId, id);
        await s.remove('password_credentials', { tenant_id: tenantId, app_object_id: id });
        await s.remove('key_credentials', { tenant_id: tenantId, app_object_id: id });
        await s.remove('oauth2_permission_grants', { tenant_id: tenantId, client_id: id });
        await s.remove('oauth2_permission_grants', { tenant_id: tenantId, resource_id: id });
        await s.remove('app_role_assignments', { tenant_id: tenantId, resource_id: id });
      }
      return n > 0;
    });
  }

  createOAuth2PermissionGrant(g: OAuth2PermissionGrant) {
    return this.insert(t.oauth2PermissionGrants, g, `permission grant ${g.id}`);
  }
  listOAuth2PermissionGrants(tenantId: string, filter: { clientId?: string; resourceId?: string } = {}) {
    const where: Where<'oauth2_permission_grants'> = { tenant_id: tenantId };
    if (filter.clientId) where.client_id = filter.clientId;
    if (filter.resourceId) where.resource_id = filter.resourceId;
    return this.many(t.oauth2PermissionGrants, where, 'id');
  }
  updateOAuth2PermissionGrant(tenantId: string, id: string, fn: Updater<OAuth2PermissionGrant>) {
    return this.update(t.oauth2PermissionGrants, { tenant_id: tenantId, id }, fn, `permission grant ${id}`);
  }
  async deleteOAuth2PermissionGrant(tenantId: string, id: string) {
    return (await this.remove('oauth2_permission_grants', { tenant_id: tenantId, id })) > 0;
  }

  createAppRoleAssignment(a: AppRoleAssignment) {
    return this.insert(t.appRoleAssignments, a, `app role assignment ${a.appRoleId} to ${a.principalId}`);
  }
  listAppRoleAssignments(tenantId: string, filter: { principalId?: string; resourceId?: string } = {}) {
    const where: Where<'app_role_assignments'> = { tenant_id: tenantId };
    if (filter.principalId) where.principal_id = filter.principalId;
    if (filter.resourceId) where.resource_id = filter.resourceId;
    return this.many(t.appRoleAssignments, where, 'id');
  }
  async deleteAppRoleAssignment(tenantId: string, id: string) {
    return (await this.remove('app_role_assignments', { tenant_id: tenantId, id })) > 0;
  }

  addDirectoryRoleAssignment(a: DirectoryRoleAssignment) {
    return this.insert(t.directoryRoleAssignments, a, `directory role ${a.roleTemplateId} for ${a.principalId}`);
  }
  listDirectoryRoleAssignments(tenantId: string, principalId: string) {
    return this.many(t.directoryRoleAssignments, { tenant_id: tenantId, principal_id: principalId }, 'role_template_id');
  }

  // ---- owners ----------------------------------------------------------------------------

  addOwner(o: Owner) {
    return this.insert(t.owners, o, `owner ${o.ownerId} of ${o.objectId}`);
  }
  async removeOwner(tenantId: string, objectId: string, ownerId: string) {
    return (await this.remove('owners', { tenant_id: tenantId, object_id: objectId, owner_id: ownerId })) > 0;
  }
  listOwners(tenantId: string, objectId: string) {
    return this.many(t.owners, { tenant_id: tenantId, object_id: objectId }, 'owner_id');
  }
  listOwnedObjects(tenantId: string, ownerId: string) {
    return this.many(t.owners, { tenant_id: tenantId, owner_id: ownerId }, 'object_id');
  }

  // ---- subscriptions and role assignments -------------------------------------------------

  createSubscription(s: Subscription) {
    return this.insert(t.subscriptions, s, `subscription ${s.id}`);
  }
  getSubscription(id: string) {
    return this.one(t.subscriptions, { id });
  }
  listSubscriptions(tenantId?: string) {
    return this.many(t.subscriptions, tenantId ? { tenant_id: tenantId } : {}, 'id');
  }

  createRoleAssignment(a: RoleAssignment) {
    return this.insert(t.roleAssignments, a, `role assignment ${a.id}`);
  }
  getRoleAssignment(id: string) {
    return this.one(t.roleAssignments, { id });
  }

  async listRoleAssignments(filter: { tenantId?: string; scope?: string; principalIds?: string[] } = {}): Promise<RoleAssignment[]> {
    if (filter.principalIds && filter.principalIds.length === 0) return [];
    let q = this.db.selectFrom('role_assignments').selectAll();
    if (filter.tenantId) q = q.where('tenant_id', '=', filter.tenantId);
    if (filter.scope) q = q.where('scope_lower', '=', filter.scope.toLowerCase());
    if (filter.principalIds) q = q.where('principal_id', 'in', filter.principalIds);
    return (await q.orderBy('created_at').orderBy('id').execute()).map((r) => this.fromRow(t.roleAssignments, r));
  }

  async deleteRoleAssignment(id: string) {
    return (await this.remove('role_assignments', { id })) > 0;
  }

  // ---- signing keys ----------------------------------------------------------------------

  addSigningKey(k: SigningKey) {
    return this.insert(t.signingKeys, k, `signing key ${k.kid}`);
  }
  listSigningKeys() {
    return this.many(t.signingKeys, {}, 'activate_at');
  }
  async deleteSigningKey(kid: string) {
    return (await this.remove('signing_keys', { kid })) > 0;
  }

  // ---- device codes, authorization codes, refresh tokens ---------------------------------

  createDeviceCode(d: DeviceCode) {
    return this.insert(t.deviceCodes, d, 'device code');
  }
  getDeviceCode(deviceCodeHash: string) {
    return this.one(t.deviceCodes, { device_code_hash: deviceCodeHash });
  }

  async findDeviceCodeByUserCode(userCode: string, now: number): Promise<DeviceCode | null> {
    const row = await this.db
      .selectFrom('device_codes')
      .selectAll()
      .where('user_code', '=', userCode)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    return row ? this.fromRow(t.deviceCodes, row) : null;
  }

  async transitionDeviceCode(
    deviceCodeHash: string,
    expected: DeviceCodeStatus,
    patch: Partial<Pick<DeviceCode, 'status' | 'tenantId' | 'userId'>>,
  ): Promise<boolean> {
    const set: Record<string, unknown> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.tenantId !== undefined) set.tenant_id = patch.tenantId;
    if (patch.userId !== undefined) set.user_id = patch.userId;
    const res = await this.db
      .updateTable('device_codes')
      .set(set)
      .where('device_code_hash', '=', deviceCodeHash)
      .where('status', '=', expected)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async touchDeviceCode(deviceCodeHash: string, polledAt: number): Promise<void> {
    await this.db.updateTable('device_codes').set({ last_polled_at: polledAt }).where('device_code_hash', '=', deviceCodeHash).execute();
  }

  createAuthorizationCode(c: AuthorizationCode) {
    return this.insert(t.authorizationCodes, c, 'authorization code');
  }

  async redeemAuthorizationCode(codeHash: string, now: number): Promise<AuthorizationCode | null> {
    const res = await this.db
      .updateTable('authorization_codes')
      .set({ redeemed_at: now })
      .where('code_hash', '=', codeHash)
      .where('redeemed_at', 'is', null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return null;
    return this.one(t.authorizationCodes, { code_hash: codeHash });
  }

  createRefreshToken(r: RefreshToken) {
    return this.insert(t.refreshTokens, r, 'refresh token');
  }
  getRefreshToken(tokenHash: string) {
    return this.one(t.refreshTokens, { token_hash: tokenHash });
  }

  async rotateRefreshToken(tokenHash: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('refresh_tokens')
      .set({ rotated_at: now })
      .where('token_hash', '=', tokenHash)
      .where('rotated_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async revokeRefreshTokenFamily(familyId: string, now: number): Promise<number> {
    const res = await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async revokeRefreshTokensOfUser(tenantId: string, userId: string, now: number): Promise<number> {
    const res = await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  // ---- ARM resources, operations, features -----------------------------------------------

  createResource(r: ArmResource) {
    return this.insert(t.armResources, r, `resource ${r.id}`);
  }
  /** Read before most ARM requests (the resource a request names): a hot read, its columns named (see hotRead). */
  async getResource(id: string): Promise<ArmResource | null> {
    const rows = await this.hotRead<Record<string, unknown>>(
      'getResource',
      (db) => db.selectFrom('arm_resources').select(codecColumns(t.armResources)).where('id_lower', '=', ''),
      [id.toLowerCase()],
    );
    return rows[0] ? this.fromRow(t.armResources, rows[0]) : null;
  }

  async listResources(filter: { subscriptionId: string; type?: string; resourceGroup?: string }): Promise<ArmResource[]> {
    let q = this.db.selectFrom('arm_resources').selectAll().where('subscription_id', '=', filter.subscriptionId);
    if (filter.type) q = q.where('type_lower', '=', filter.type.toLowerCase());
    if (filter.resourceGroup) q = q.where('resource_group_lower', '=', filter.resourceGroup.toLowerCase());
    return (await q.orderBy('id_lower').execute()).map((r) => this.fromRow(t.armResources, r));
  }

  updateResource(id: string, fn: Updater<ArmResource>) {
    return this.update(
      t.armResources,
      { id_lower: id.toLowerCase() },
      (cur) => {
        const next = fn(cur);
        if (next.id.toLowerCase() !== cur.id.toLowerCase()) throw new StoreError('invalid', `resource ${id}: the id cannot change`);
        if (typeof cur.secrets.uid === 'string' && next.secrets.uid !== cur.secrets.uid)
          throw new StoreError('invalid', `resource ${id}: the cluster uid cannot change`);
        return next;
      },
      `resource ${id}`,
      undefined,
      { revision: sql`revision + 1` },
    );
  }

  async getClusterByUid(uid: string): Promise<{ resource: ArmResource; revision: number } | null> {
    const row = await this.db.selectFrom('arm_resources').selectAll().where('cluster_uid', '=', uid).executeTakeFirst();
    return row ? { resource: this.fromRow(t.armResources, row), revision: Number(row.revision) } : null;
  }

  async clusterRevision(uid: string): Promise<number | null> {
    const row = await this.db.selectFrom('arm_resources').select('revision').where('cluster_uid', '=', uid).executeTakeFirst();
    return row ? Number(row.revision) : null;
  }

  /** Fills `cluster_uid` of clusters written before migration 0006 (the uid is in the sealed secrets, which SQL cannot read). */
  async backfillClusterUids(): Promise<void> {
    const rows = await this.db
      .selectFrom('arm_resources')
      .selectAll()
      .where('cluster_uid', 'is', null)
      .where('type_lower', 'in', ['microsoft.containerservice/managedclusters', 'microsoft.kubernetes/connectedclusters'])
      .execute();
    for (const row of rows) {
      const uid = this.fromRow(t.armResources, row).secrets.uid;
      if (typeof uid === 'string')
        await this.db.updateTable('arm_resources').set({ cluster_uid: uid }).where('id_lower', '=', row.id_lower).execute();
    }
  }

  async deleteResource(id: string) {
    return (await this.remove('arm_resources', { id_lower: id.toLowerCase() })) > 0;
  }

  createOperation(op: ArmOperation) {
    return this.insert(t.armOperations, op, `operation ${op.id}`);
  }

  putResourceWithOperation(resource: ArmResource, op: ArmOperation, mode: 'create' | 'replace'): Promise<void> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      await s.insert(t.armOperations, op, `operation ${op.id}`);
      if (mode === 'create') await s.insert(t.armResources, resource, `resource ${resource.id}`);
      else if (!(await s.updateResource(resource.id, () => resource)))
        throw new StoreError('not_found', `resource ${resource.id} not found`);
    });
  }
  getOperation(id: string) {
    return this.one(t.armOperations, { id });
  }
  updateOperation(id: string, fn: Updater<ArmOperation>) {
    return this.update(t.armOperations, { id }, fn, `operation ${id}`);
  }

  getFeature(subscriptionId: string, namespace: string, name: string) {
    return this.one(t.featureRegistrations, {
      subscription_id: subscriptionId,
      namespace_lower: namespace.toLowerCase(),
      name_lower: name.toLowerCase(),
    });
  }

  async setFeature(f: FeatureRegistration): Promise<void> {
    const row = this.toRow(t.featureRegistrations, f);
    await this.loose
      .insertInto('feature_registrations')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['subscription_id', 'namespace_lower', 'name_lower'])
          .doUpdateSet({ state: f.state, name: f.name, namespace: f.namespace }),
      )
      .execute();
  }

  listFeatures(subscriptionId: string, namespace?: string) {
    return this.many(
      t.featureRegistrations,
      namespace ? { subscription_id: subscriptionId, namespace_lower: namespace.toLowerCase() } : { subscription_id: subscriptionId },
      'name_lower',
    );
  }

  // ---- Kubernetes objects ----------------------------------------------------------------
  // Every write first locks its cluster's counter row, so one cluster's writes queue in one order: a
  // transaction over several objects cannot deadlock with a single write, and each gets the next version.

  /** Locks the cluster's counter row until the transaction ends; false when the cluster never had an object. */
  private async lockKubeCluster(clusterUid: string): Promise<boolean> {
    // A no-op UPDATE rather than SELECT … FOR UPDATE: it also takes SQLite's write lock up front.
    const res = await this.db
      .updateTable('kube_clusters')
      .set({ resource_version: sql`resource_version` })
      .where('cluster_uid', '=', clusterUid)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Counts one write of the cluster (locking its row) and returns the new resourceVersion. */
  private async nextKubeResourceVersion(clusterUid: string): Promise<number> {
    const row = await this.db
      .insertInto('kube_clusters')
      .values({ cluster_uid: clusterUid, resource_version: 1 })
      .onConflict((oc) => oc.column('cluster_uid').doUpdateSet({ resource_version: sql`kube_clusters.resource_version + 1` }))
      .returning('resource_version')
      .executeTakeFirstOrThrow();
    return Number(row.resource_version);
  }

  createKubeObject(o: Omit<KubeObject, 'resourceVersion'>): Promise<KubeObject> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      const created: KubeObject = {
        clusterUid: o.clusterUid,
        resource: o.resource,
        namespace: o.namespace,
        name: o.name,
        resourceVersion: await s.nextKubeResourceVersion(o.clusterUid),
        body: structuredClone(o.body),
      };
      await s.insert(t.kubeObjects, created, kubeObjectName(o));
      return created;
    });
  }

  getKubeObject(clusterUid: string, resource: string, namespace: string, name: string) {
    return this.one(t.kubeObjects, { cluster_uid: clusterUid, resource, namespace, name });
  }

  async listKubeObjects(clusterUid: string, resource: string, namespace?: string): Promise<KubeObject[]> {
    let q = this.db.selectFrom('kube_objects').selectAll().where('cluster_uid', '=', clusterUid).where('resource', '=', resource);
    if (namespace !== undefined) q = q.where('namespace', '=', namespace);
    // Byte order, as Kubernetes lists (etcd keys); PostgreSQL would otherwise sort by the database's locale.
    const bytewise = (column: string) => (this.kind === 'postgres' ? sql`${sql.ref(column)} collate "C"` : sql.ref(column));
    return (await q.orderBy(bytewise('namespace')).orderBy(bytewise('name')).execute()).map((r) => this.fromRow(t.kubeObjects, r));
  }

  updateKubeObject(
    clusterUid: string,
    resource: string,
    namespace: string,
    name: string,
    fn: Updater<Record<string, unknown>>,
  ): Promise<KubeObject | null> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      if (!(await s.lockKubeCluster(clusterUid))) return null;
      const key = { cluster_uid: clusterUid, resource, namespace, name };
      const current = await s.one(t.kubeObjects, key);
      if (!current) return null;
      const body = fn(structuredClone(current.body));
      const next: KubeObject = { ...current, body, resourceVersion: await s.nextKubeResourceVersion(clusterUid) };
      await s.where(s.loose.updateTable('kube_objects').set(this.toRow(t.kubeObjects, next)), key).execute();
      return next;
    });
  }

  deleteKubeObject(clusterUid: string, resource: string, namespace: string, name: string): Promise<KubeObject | null> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      if (!(await s.lockKubeCluster(clusterUid))) return null;
      const row = await s
        .where(s.loose.deleteFrom('kube_objects'), { cluster_uid: clusterUid, resource, namespace, name })
        .returningAll()
        .executeTakeFirst();
      if (!row) return null;
      await s.nextKubeResourceVersion(clusterUid);
      return this.fromRow(t.kubeObjects, row);
    });
  }

  deleteKubeObjectsOfCluster(clusterUid: string): Promise<number> {
    return this.transaction(async (tx) => {
      const s = tx as KyselyStore;
      if (!(await s.lockKubeCluster(clusterUid))) return 0;
      const n = await s.remove('kube_objects', { cluster_uid: clusterUid });
      // The counter row stays: were the cluster's objects written again, their versions would not repeat.
      if (n) await s.nextKubeResourceVersion(clusterUid);
      return n;
    });
  }

  async kubeResourceVersion(clusterUid: string): Promise<number> {
    const row = await this.db
      .selectFrom('kube_clusters')
      .select('resource_version')
      .where('cluster_uid', '=', clusterUid)
      .executeTakeFirst();
    return row ? Number(row.resource_version) : 0;
  }

  // ---- counters --------------------------------------------------------------------------

  async hitCounter(key: string, windowMs: number, now: number): Promise<CounterHit> {
    // One upsert statement, so concurrent hits never lose a count on either backend.
    const expired = sql`counters.window_start + counters.window_ms <= ${now}`;
    const row = await this.db
      .insertInto('counters')
      .values({ key, window_start: now, window_ms: windowMs, count: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet({
          count: sql`CASE WHEN ${expired} THEN 1 ELSE counters.count + 1 END`,
          window_start: sql`CASE WHEN ${expired} THEN ${now} ELSE counters.window_start END`,
          window_ms: windowMs,
        }),
      )
      .returning(['count', 'window_start'])
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), windowStart: Number(row.window_start) };
  }

  async resetCounter(key: string): Promise<void> {
    await this.remove('counters', { key });
  }

  async addSignIns(events: SignInEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => this.toRow(t.signIns, e));
    const columns = Object.keys(rows[0]!);
    await this.appendRows(
      'sign_ins',
      columns,
      rows.map((r) => columns.map((c) => r[c] ?? null)),
    );
  }

  getSignIn(tenantId: string, id: string) {
    return this.one(t.signIns, { tenant_id: tenantId, id });
  }

  async listSignIns(tenantId: string, query: SignInQuery, opts: ListOptions = {}): Promise<Page<SignInEvent>> {
    const limit = Math.min(Math.max(opts.limit ?? MAX_PAGE, 1), MAX_PAGE);
    let q = this.db.selectFrom('sign_ins').selectAll().where('tenant_id', '=', tenantId);
    if (query.eventTypes) q = q.where('event_type', 'in', query.eventTypes.length ? query.eventTypes : ['']);
    if (query.from !== undefined) q = q.where('created_at', '>=', query.from);
    if (query.to !== undefined) q = q.where('created_at', '<=', query.to);
    if (query.userId !== undefined) q = q.where('user_id', '=', query.userId);
    if (query.userPrincipalName !== undefined) q = q.where('user_principal_name_lower', '=', query.userPrincipalName.toLowerCase());
    if (query.appId !== undefined) q = q.where('app_id', '=', query.appId);
    if (query.errorCode !== undefined) q = q.where('error_code', '=', query.errorCode);
    if (opts.after) {
      // The cursor is the last row's (created_at, id): the next page starts strictly after it, newest first.
      const m = /^(\d{1,16})\.([0-9a-f-]{1,64})$/.exec(Buffer.from(opts.after, 'base64url').toString('utf8'));
      if (!m) throw new StoreError('invalid', 'The skip token is not valid.');
      const at = Number(m[1]);
      const id = m[2]!;
      q = q.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
    }
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const items = rows.slice(0, limit).map((r: Record<string, unknown>) => this.fromRow(t.signIns, r));
    const last = items[items.length - 1];
    return rows.length > limit && last
      ? { items, next: Buffer.from(`${last.createdAt}.${last.id}`, 'utf8').toString('base64url') }
      : { items };
  }

  async pruneSignIns(before: number): Promise<number> {
    const res = await this.db.deleteFrom('sign_ins').where('created_at', '<', before).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  createSignInSession(s: SignInSession) {
    return this.insert(t.signInSessions, s, 'sign-in session');
  }

  async getSignInSession(idHash: string, now: number): Promise<SignInSession | null> {
    const row = await this.db
      .selectFrom('sign_in_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row ? this.fromRow(t.signInSessions, row) : null;
  }

  async deleteSignInSession(idHash: string): Promise<boolean> {
    const res = await this.db.deleteFrom('sign_in_sessions').where('id_hash', '=', idHash).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async purgeExpired(now: number): Promise<void> {
    await this.transaction(async (tx) => {
      const s = (tx as KyselyStore).db;
      await s.deleteFrom('device_codes').where('expires_at', '<=', now).execute();
      await s.deleteFrom('authorization_codes').where('expires_at', '<=', now).execute();
      await s.deleteFrom('refresh_tokens').where('expires_at', '<=', now).execute();
      await s.deleteFrom('sign_in_sessions').where('expires_at', '<=', now).execute();
      await s
        .deleteFrom('counters')
        .where(sql`window_start + window_ms`, '<=', now)
        .execute();
    });
  }

  /** Runs before every client-credentials token and every Graph request through the directory cache. */
  async directoryRevision(): Promise<number> {
    const rows = await this.hotRead<{ revision: number | string }>(
      'directoryRevision',
      (db) => db.selectFrom('directory_revision').select('revision').where('id', '=', 1),
      [1],
    );
    return Number(rows[0]?.revision ?? 0);
  }

  async getResourceAndDirectoryRevision(id: string): Promise<{ resource: ArmResource | null; directoryRevision: number }> {
    const rows = await this.hotRead<Record<string, unknown>>(
      'getResourceAndDirectoryRevision',
      (db) =>
        db
          .selectFrom('directory_revision as d')
          .leftJoin('arm_resources as r', (j) => j.on('r.id_lower', '=', ''))
          .select(['d.revision as directory_revision', ...codecColumns(t.armResources).map((c) => `r.${c}` as 'r.id')])
          .where('d.id', '=', 1),
      [id.toLowerCase(), 1],
    );
    const row = rows[0];
    // Without the revision's row (migration 0010 writes it) the revision is 0, as directoryRevision says.
    if (!row) return { resource: await this.getResource(id), directoryRevision: 0 };
    return {
      resource: row.id === null || row.id === undefined ? null : this.fromRow(t.armResources, row),
      directoryRevision: Number(row.directory_revision),
    };
  }

  // ---- the cluster access log (self-contained: its own row type and mapping) --------------------

  async addAccessDecisions(entries: AccessLogRecord[]): Promise<void> {
    if (entries.length === 0) return;
    await this.appendRows('access_log_segments', SEGMENT_COLUMNS, segmentRows(entries));
  }

  async listAccessDecisions(clusterUid: string, query: AccessLogQuery = {}): Promise<Page<AccessLogEntry>> {
    const limit = Math.min(Math.max(Math.trunc(query.top ?? MAX_PAGE), 1), MAX_PAGE);
    const { from, to, user, allowed } = query;
    // The cursor is the last entry's key (time, segment, place): the next page starts strictly after it.
    const after = query.skipToken === undefined ? null : parseCursor(query.skipToken);
    if (query.skipToken !== undefined && !after) throw new StoreError('invalid', 'The skip token is not valid.');
    const merger = new SegmentMerger(
      (key, e) =>
        (from === undefined || e.time >= from) &&
        (to === undefined || e.time <= to) &&
        (user === undefined || e.user === user) &&
        (allowed === undefined || (e.decision === 'allowed') === allowed) &&
        (after === null || compareNewestFirst(after, key) < 0),
    );
    // Segments that may hold a wanted entry, newest first, read a few at a time (keyset paging).
    let q = this.db.selectFrom('access_log_segments').select(['seq', 'max_time', 'entries']).where('cluster_uid', '=', clusterUid);
    if (from !== undefined) q = q.where('max_time', '>=', from);
    const oldest = Math.min(to ?? Infinity, after?.time ?? Infinity);
    if (oldest !== Infinity) q = q.where('min_time', '<=', oldest);
    let read: StoredSegment[] = [];
    let last: StoredSegment | undefined;
    let done = false;
    const nextSegment = async (): Promise<StoredSegment | undefined> => {
      if (read.length === 0 && !done) {
        let page = q;
        if (last) {
          const { maxTime, seq } = last;
          page = page.where((eb) => eb.or([eb('max_time', '<', maxTime), eb.and([eb('max_time', '=', maxTime), eb('seq', '<', seq)])]));
        }
        const rows = await page.orderBy('max_time', 'desc').orderBy('seq', 'desc').limit(SEGMENTS_READ).execute();
        done = rows.length < SEGMENTS_READ;
        read = rows.map((r) => ({ seq: Number(r.seq), clusterUid, maxTime: Number(r.max_time), entries: r.entries }));
      }
      return read[0];
    };
    const items: AccessLogEntry[] = [];
    let lastKey: EntryKey | undefined;
    for (;;) {
      const segment = await nextSegment();
      if (segment && merger.needs(segment.maxTime)) {
        merger.add(segment);
        last = read.shift();
        continue;
      }
      const item = merger.take();
      if (!item) return { items };
      if (items.length === limit) return { items, next: cursorOf(lastKey!) };
      items.push(item.entry);
      lastKey = item.key;
    }
  }

  async deleteAccessDecisionsBefore(before: number): Promise<number> {
    return this.transaction(async (tx) => {
      const db = (tx as KyselyStore).db;
      // Segments wholly older go; one that straddles `before` keeps its newer entries.
      const whole = await db
        .selectFrom('access_log_segments')
        .select((eb) => eb.fn.sum<number | string | null>('count').as('n'))
        .where('min_time', '<', before)
        .where('max_time', '<', before)
        .executeTakeFirst();
      let deleted = Number(whole?.n ?? 0);
      await db.deleteFrom('access_log_segments').where('min_time', '<', before).where('max_time', '<', before).execute();
      const straddling = await db
        .selectFrom('access_log_segments')
        .select(['seq', 'entries'])
        .where('min_time', '<', before)
        .where('max_time', '>=', before)
        .execute();
      for (const s of straddling) {
        const trimmed = trimSegment(s.entries, before);
        if (!trimmed) continue; // max_time >= before: at least one entry stays
        deleted += trimmed.removed;
        await db
          .updateTable('access_log_segments')
          .set({ entries: trimmed.entries, count: trimmed.count, min_time: trimmed.minTime })
          .where('seq', '=', s.seq)
          .execute();
      }
      return deleted;
    });
  }
}
