import type { FastifyInstance } from 'fastify';
import { isGuid } from '../../shared/crypto.js';
import type { SignInEvent, SignInEventType, SignInQuery } from '../../store/index.js';
import type { GraphCaller } from './caller.js';
import { graphRoute, type GraphContext, type GraphRequest } from './context.js';
import { GraphError, graphErrors } from './errors.js';

// Graph v1.0 `GET /auditLogs/signIns` and `/auditLogs/signIns/{id}` (reference/security.md §8): Entra's
// `signIn` shape, newest first, `$top` 1–1000 (default 1000), `@odata.nextLink` with `$skiptoken`, and the
// `$filter` clauses below joined by `and`. Readers: the AuditLog.Read.All application permission, or the
// delegated scope held by a user in one of the reader directory roles.

const READ_PERMISSION = 'AuditLog.Read.All';
/** Directory roles that read sign-in logs (security.md §8.2, PERMREF), by template id. */
const READER_ROLES = new Set([
  '62e90394-69f5-4237-9190-012177145e10', // Global Administrator
  'f2ef992c-3afb-46b9-b7cf-a126ee74c451', // Global Reader
  '4a5d8f65-41da-4de4-8968-e035b65339cf', // Reports Reader
  '194ae4cb-b126-40b2-bd5b-6091b380977d', // Security Administrator
  '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f', // Security Operator
  '5d6b6bb7-de71-4623-b4af-96380a352509', // Security Reader
]);
const MAX_TOP = 1000;
const EVENT_TYPES: SignInEventType[] = ['interactiveUser', 'nonInteractiveUser', 'servicePrincipal'];

function requireReader(caller: GraphCaller): void {
  if (!caller.permissions.has(READ_PERMISSION)) throw graphErrors.denied();
  if (caller.kind === 'user' && (caller.isGuest || ![...caller.directoryRoleIds].some((id) => READER_ROLES.has(id))))
    throw graphErrors.denied();
}

const invalidFilter = (detail: string) => new GraphError(400, 'Request_UnsupportedQuery', `Invalid filter clause: ${detail}`);

/** Splits on `and` outside string literals; `or` and anything not listed is refused. */
function clausesOf(filter: string): string[] {
  const clauses: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i]!;
    if (c === "'") quoted = !quoted;
    if (!quoted && /\s/.test(c) && /^\s+and\s+/i.test(filter.slice(i))) {
      clauses.push(current.trim());
      current = '';
      i += /^\s+and\s+/i.exec(filter.slice(i))![0].length - 1;
      continue;
    }
    current += c;
  }
  if (quoted) throw invalidFilter('unterminated string literal.');
  clauses.push(current.trim());
  return clauses;
}

const literal = (raw: string): string => raw.slice(1, -1).replace(/''/g, "'");

function dateTime(raw: string): number {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw))
    throw invalidFilter(`'${raw.slice(0, 64)}' is not a DateTimeOffset literal (for example 2026-01-31T00:00:00Z).`);
  const ms = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  if (Number.isNaN(ms)) throw invalidFilter(`'${raw}' is not a valid date and time.`);
  return ms;
}

/** The sign-in log's `$filter` (security.md §8.1): time bounds, user, app, error code, event type. */
export function parseSignInFilter(filter: string | undefined): SignInQuery {
  const q: SignInQuery = { eventTypes: ['interactiveUser'] };
  if (filter === undefined) return q;
  if (!filter.trim()) throw invalidFilter('the expression is empty.');
  if (filter.length > 2048) throw invalidFilter('the expression is too long.');
  let eventTypes: SignInEventType[] | null = null;
  const narrow = <K extends keyof SignInQuery>(key: K, value: SignInQuery[K]) => {
    if (q[key] !== undefined && q[key] !== value) throw invalidFilter(`'${key}' is compared to two different values.`);
    q[key] = value;
  };
  for (const clause of clausesOf(filter)) {
    let m: RegExpExecArray | null;
    if ((m = /^createdDateTime\s+(ge|gt|le|lt|eq)\s+(\S+)$/i.exec(clause))) {
      const at = dateTime(m[2]!);
      const op = m[1]!.toLowerCase();
      if (op === 'ge' || op === 'gt' || op === 'eq') q.from = Math.max(q.from ?? -Infinity, op === 'gt' ? at + 1 : at);
      if (op === 'le' || op === 'lt' || op === 'eq') q.to = Math.min(q.to ?? Infinity, op === 'lt' ? at - 1 : at);
    } else if ((m = /^(userId|appId)\s+eq\s+('(?:[^']|'')*')$/i.exec(clause))) {
      const value = literal(m[2]!);
      if (!isGuid(value)) throw invalidFilter(`'${m[1]}' must be compared to a GUID.`);
      narrow(m[1]!.toLowerCase() === 'userid' ? 'userId' : 'appId', value.toLowerCase());
    } else if ((m = /^userPrincipalName\s+eq\s+('(?:[^']|'')*')$/i.exec(clause))) {
      narrow('userPrincipalName', literal(m[1]!).toLowerCase());
    } else if ((m = /^status\/errorCode\s+eq\s+(\d{1,9})$/i.exec(clause))) {
      narrow('errorCode', Number(m[1]));
    } else if ((m = /^signInEventTypes\/any\(\s*(\w+)\s*:\s*(.+)\)$/i.exec(clause))) {
      const variable = m[1]!;
      const types = m[2]!.split(/\s+or\s+/i).map((part) => {
        const t = new RegExp(`^${variable}\\s+eq\\s+'(\\w+)'$`, 'i').exec(part.trim())?.[1];
        const known = EVENT_TYPES.find((e) => e.toLowerCase() === t?.toLowerCase());
        if (!known) throw invalidFilter(`signInEventTypes takes ${EVENT_TYPES.map((e) => `'${e}'`).join(', ')}.`);
        return known;
      });
      eventTypes = [...(eventTypes ?? []), ...types];
    } else {
      throw invalidFilter(
        `'${clause.slice(0, 100)}' is not supported. The sign-in log filters on createdDateTime (eq, ge, gt, le, lt), userId, userPrincipalName, appId and status/errorCode (eq), signInEventTypes/any(), joined by 'and'.`,
      );
    }
  }
  if (eventTypes) q.eventTypes = [...new Set(eventTypes)];
  if (q.from !== undefined && q.to !== undefined && q.from > q.to) q.to = q.from - 1;
  return q;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Entra's `signIn` resource. Kentra has no Conditional Access, risk detection, device or location data: those carry their "none" values. */
export function signInJson(e: SignInEvent): Record<string, unknown> {
  return {
    id: e.id,
    createdDateTime: iso(e.createdAt),
    userDisplayName: e.userDisplayName,
    userPrincipalName: e.userPrincipalName,
    userId: e.userId ?? '',
    appId: e.appId,
    appDisplayName: e.appDisplayName,
    ipAddress: e.ipAddress,
    clientAppUsed: e.clientAppUsed,
    correlationId: e.correlationId,
    conditionalAccessStatus: 'notApplied',
    isInteractive: e.eventType === 'interactiveUser',
    riskDetail: 'none',
    riskLevelAggregated: 'none',
    riskLevelDuringSignIn: 'none',
    riskState: 'none',
    riskEventTypes: [],
    riskEventTypes_v2: [],
    resourceDisplayName: e.resourceDisplayName,
    resourceId: e.resourceId,
    status: { errorCode: e.errorCode, failureReason: e.errorCode === 0 ? null : e.failureReason, additionalDetails: e.additionalDetails },
    deviceDetail: { deviceId: '', displayName: '', operatingSystem: '', browser: '', isCompliant: false, isManaged: false, trustType: '' },
    location: { city: null, state: null, countryOrRegion: null, geoCoordinates: null },
    appliedConditionalAccessPolicies: [],
    // As Graph beta names them: the kind of sign-in, and for an application its service principal.
    signInEventTypes: [e.eventType],
    ...(e.eventType === 'servicePrincipal' ? { servicePrincipalId: e.servicePrincipalId, servicePrincipalName: e.appDisplayName } : {}),
  };
}

function top(r: GraphRequest): number {
  const raw = r.query.$top;
  if (raw === undefined) return MAX_TOP;
  if (typeof raw !== 'string' || !/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_TOP) {
    throw graphErrors.badRequest(`Invalid page size specified: '${String(raw).slice(0, 32)}'. Must be between 1 and ${MAX_TOP} inclusive.`);
  }
  return Number(raw);
}

function singleQueryValue(r: GraphRequest, name: string): string | undefined {
  const v = r.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw graphErrors.badRequest(`Query option '${name}' is specified more than once.`);
  return v;
}

export function registerAuditLogRoutes(app: FastifyInstance, ctx: GraphContext): void {
  graphRoute(app, ctx, 'GET', '/auditLogs/signIns', async (r) => {
    requireReader(r.caller);
    for (const key of Object.keys(r.query)) {
      if (key.startsWith('$') && !['$filter', '$top', '$skiptoken'].includes(key))
        throw graphErrors.badRequest(`Query option '${key}' is not supported on auditLogs/signIns.`);
    }
    const filter = singleQueryValue(r, '$filter');
    const query = parseSignInFilter(filter);
    const limit = top(r);
    const after = singleQueryValue(r, '$skiptoken');
    if (after !== undefined && !/^[A-Za-z0-9_-]{1,200}$/.test(after)) throw graphErrors.badRequest('The skip token is not valid.');
    const page = await r.store.listSignIns(r.tenant.id, query, { limit, after });
    const next: string[] = [];
    if (filter !== undefined) next.push(`$filter=${encodeURIComponent(filter)}`);
    if (r.query.$top !== undefined) next.push(`$top=${limit}`);
    if (page.next) next.push(`$skiptoken=${page.next}`);
    return r.reply.send({
      '@odata.context': `${r.base}/$metadata#auditLogs/signIns`,
      value: page.items.map(signInJson),
      ...(page.next ? { '@odata.nextLink': `${r.base}/auditLogs/signIns?${next.join('&')}` } : {}),
    });
  });

  graphRoute(app, ctx, 'GET', '/auditLogs/signIns/:id', async (r) => {
    requireReader(r.caller);
    const id = r.params.id ?? '';
    const event = isGuid(id) ? await r.store.getSignIn(r.tenant.id, id.toLowerCase()) : null;
    if (!event) throw graphErrors.notFound(id.slice(0, 64));
    return r.reply.send({ '@odata.context': `${r.base}/$metadata#auditLogs/signIns/$entity`, ...signInJson(event) });
  });
}
