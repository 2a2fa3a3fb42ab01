import { compareIds, type Group, type Store, type User } from '../../store/index.js';
import { Directory } from '../directory/directory.js';
import type { IdentityServices } from './context.js';

/**
 * Store reads a client-credentials token is made from, a Graph caller and the objects its member
 * actions name, and an ARM caller's role assignments and subscription. Each reads only tables whose
 * every write increases the store's directory revision (migrations 0010, 0012 and 0013): a cached
 * answer is right for as long as the revision it was read under is the store's.
 */
const CACHED_READS = new Set<string>([
  'getUser',
  'findUserByUpn',
  'getTenant',
  'findTenantByDomain',
  'listTenants',
  'getApplication',
  'findApplicationByAppId',
  'findApplicationByUniqueName',
  'findApplicationByIdentifierUri',
  'listPasswordCredentials',
  'listKeyCredentials',
  'listFederatedCredentials',
  'getServicePrincipal',
  'findServicePrincipalByAppId',
  'listOAuth2PermissionGrants',
  'listAppRoleAssignments',
  'listDirectoryRoleAssignments',
  'listGroupMembers',
  'listDirectGroupIds',
  'listTransitiveGroupIds',
  'getGroup', // and getGroups, through getGroup's answers (see cachedView); getUsers likewise through getUser's
  'getSubscription',
  'listRoleAssignments',
] satisfies (keyof Store)[]);

/** Entries kept per revision before the cache starts over (each is one answer of one read). */
export const DIRECTORY_CACHE_MAX_ENTRIES = 20_000;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/**
 * One instance's cache of the directory reads that make a token (tenant, client application, its
 * service principal and secrets, the resource, app role assignments, groups) or authenticate a Graph
 * caller (user, directory roles, tenant), shared by requests.
 *
 * Right across instances: each request first reads the store's directory revision (one indexed row),
 * a counter every committed write to those tables increases in its own transaction. Answers are kept
 * per revision, so a change committed by any instance (a disabled service principal, a removed secret,
 * an app role assignment) is seen by the next request here, exactly as without the cache. A revision
 * is read before the answers cached under it, so they are never older than it. Answers are frozen:
 * callers share them.
 */
export class DirectoryReadCache {
  private revision = Number.NaN;
  private current: IdentityServices | null = null;

  constructor(
    private readonly services: IdentityServices,
    private readonly maxEntries = DIRECTORY_CACHE_MAX_ENTRIES,
  ) {}

  /** The identity services for one request, whose store answers the directory reads from this cache. */
  async forRequest(): Promise<IdentityServices> {
    return this.at(await this.services.store.directoryRevision());
  }

  /**
   * The identity services for a request that read the directory revision itself, together with a read
   * of its own (Store.getResourceAndDirectoryRevision): the revision must have been read before any
   * directory read the request makes through these services.
   */
  at(revision: number): IdentityServices {
    if (revision !== this.revision || !this.current) {
      this.revision = revision;
      const store = cachedView(this.services.store, this.maxEntries);
      this.current = { ...this.services, store, directory: new Directory(store, this.services.clock) };
    }
    return this.current;
  }
}

/** A read's key: its name and arguments, unambiguous (strings length-prefixed, anything else as JSON, which escapes U+0000 and U+0001). */
function readKey(name: string, args: unknown[]): string {
  let key = name;
  for (const a of args) key += typeof a === 'string' ? `\u0000${a.length}:${a}` : `\u0001${JSON.stringify(a)}`;
  return key;
}

/** The store, with the listed reads remembered (per argument list) in a map of their own; every other call goes through. */
function cachedView(store: Store, maxEntries: number): Store {
  let entries = new Map<string, Promise<unknown>>();
  const readers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const name of CACHED_READS) {
    const read = (store[name as keyof Store] as (...args: unknown[]) => Promise<unknown>).bind(store);
    readers.set(name, (...args: unknown[]) => {
      const key = readKey(name, args);
      let answer = entries.get(key);
      if (!answer) {
        if (entries.size >= maxEntries) entries = new Map();
        const map = entries;
        answer = read(...args).then(deepFreeze, (err: unknown) => {
          map.delete(key); // failures are not remembered
          throw err;
        });
        map.set(key, answer);
      }
      return answer;
    });
  }
  // Many groups or users at once (a page of transitiveMemberOf or of a group's members, the security-enabled
  // of a user's groups): each is kept as getGroup's (getUser's) answer, and only those not kept yet are
  // read, in one getGroups (getUsers).
  const many = <T extends { id: string }>(one: 'getGroup' | 'getUser', readMany: (tenantId: string, ids: string[]) => Promise<T[]>) => {
    const readOne = readers.get(one)!;
    return async (tenantId: string, ids: string[]): Promise<T[]> => {
      const keys = new Map(ids.map((id) => [id, readKey(one, [tenantId, id])])); // each id once
      const missing = [...keys].filter(([, key]) => !entries.has(key)).map(([id]) => id);
      const fresh = new Map<string, T | null>();
      if (missing.length > 0) {
        const read = new Map((await readMany(tenantId, missing)).map((x) => [x.id, deepFreeze(x)]));
        const map = entries;
        for (const id of missing) {
          const found = read.get(id) ?? null;
          fresh.set(id, found);
          const key = keys.get(id)!;
          if (map.size < maxEntries && !map.has(key)) map.set(key, Promise.resolve(found)); // past the bound: answered, not kept
        }
      }
      const all = (await Promise.all(
        [...keys].map(([id, key]) => (fresh.has(id) ? fresh.get(id) : (entries.get(key) ?? readOne(tenantId, id)))),
      )) as (T | null)[];
      return all.filter((x): x is T => x !== null).sort((a, b) => compareIds(a.id, b.id));
    };
  };
  readers.set(
    'getGroups',
    many<Group>('getGroup', (tenantId, ids) => store.getGroups(tenantId, ids)) as (...args: unknown[]) => Promise<unknown>,
  );
  readers.set(
    'getUsers',
    many<User>('getUser', (tenantId, ids) => store.getUsers(tenantId, ids)) as (...args: unknown[]) => Promise<unknown>,
  );
  return new Proxy(store, {
    get(target, prop, receiver) {
      const reader = typeof prop === 'string' ? readers.get(prop) : undefined;
      if (reader) return reader;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
