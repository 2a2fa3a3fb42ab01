import type { FastifyInstance } from 'fastify';
import type { AccessDecisionRecord, AccessLogPort } from '../access/index.js';
import { BatchWriter } from '../shared/batch-writer.js';
import type { Clock } from '../shared/clock.js';
import { StoreError, type AccessLogEntry, type AccessLogQuery, type AccessLogRecord, type Store } from '../store/index.js';
import { ArmError, armRoute, authorize, type ArmContext, type ArmRequest } from './arm.js';
import { clusterSecretsOf, isClusterResource } from './cluster-record.js';

// The cluster access log (docs/access-log.md): the access component's AccessLogPort over the store
// (entries queued by the cluster-access service, built and written in batches after the response),
// and its ARM-shaped reading, `GET …/managedClusters/{name}/accessLogs`.

export interface StoreAccessLogOptions {
  /** Entries older than this are pruned (`kentra up --access-log-retention-days`, default 30). */
  retentionDays: number;
  batchSize?: number;
  flushMs?: number;
  /** Entries waiting in memory at most (default 50,000); beyond it they are dropped and counted. */
  maxQueue?: number;
  /** Where a failed write or a drop is reported (never with an entry's content). */
  onError?: (message: string) => void;
}

export const DEFAULT_ACCESS_LOG_RETENTION_DAYS = 30;

export class StoreAccessLog implements AccessLogPort {
  private readonly writer: BatchWriter<() => AccessDecisionRecord | null, AccessLogRecord>;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly opts: StoreAccessLogOptions,
  ) {
    this.writer = new BatchWriter({
      name: 'access log',
      batchSize: opts.batchSize,
      flushMs: opts.flushMs,
      maxQueue: opts.maxQueue,
      onError: opts.onError,
      prepare: (entry) => entry(),
      write: (rows) => this.store.addAccessDecisions(rows),
    });
  }

  record(entry: () => AccessDecisionRecord | null): void {
    this.writer.push(entry);
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Deletes entries older than the retention; returns how many. */
  prune(): Promise<number> {
    return this.store.deleteAccessDecisionsBefore(this.clock.now() - this.opts.retentionDays * 86_400_000);
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

// ---- ARM: GET …/managedClusters/{name}/accessLogs ------------------------------------------------------

const MC_TYPE = 'Microsoft.ContainerService/managedClusters';
/**
 * Reading a cluster's access log is reading its diagnostic data: Azure Monitor's resource-context
 * access to a cluster's Kubernetes audit log (the AKSAudit table) requires this action on the cluster.
 * Owner, Contributor and Reader of the cluster (or above) hold it; the AKS credential and data-plane
 * roles do not (docs/access-log.md).
 */
export const ACCESS_LOG_ACTION = 'Microsoft.Insights/logs/AKSAudit/read';
/** The managedClusters api-versions this route accepts (inclusive), as the provider lists them. */
const API_VERSION_RANGE = ['2022-11-01', '2026-04-01'] as const;
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;
const MAX_FILTER = 1000;

function checkApiVersion(v: string): void {
  const m = /^(\d{4}-\d{2}-\d{2})(-preview)?$/.exec(v);
  const shown = v.slice(0, 100).replace(/[^\w.-]/g, '?');
  const supported = `The supported api-versions are '${API_VERSION_RANGE[0]}' to '${API_VERSION_RANGE[1]}'.`;
  if (!m || Number.isNaN(Date.parse(m[1]!)))
    throw new ArmError(400, 'InvalidApiVersionParameter', `The api-version '${shown}' is invalid. ${supported}`);
  if (m[1]! < API_VERSION_RANGE[0] || m[1]! > API_VERSION_RANGE[1])
    throw new ArmError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for API version '${shown}' and type 'managedClusters/accessLogs'. ${supported}`,
    );
}

function parseTop(v: string | undefined): number {
  if (v === undefined) return DEFAULT_TOP;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_TOP)
    throw new ArmError(400, 'InvalidParameter', `The value of $top must be an integer from 1 to ${MAX_TOP}.`);
  return Number(v);
}

const CLAUSE =
  /^\s*(?:(time)\s+(ge|gt|le|lt)\s+('?)(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))\3|(user)\s+eq\s+'((?:[^']|'')*)'|(allowed)\s+eq\s+(true|false))\s*/i;

/** `$filter`: `time ge|gt|le|lt <ISO 8601>`, `user eq '<name>'`, `allowed eq true|false`, joined with `and`. */
export function parseAccessLogFilter(filter: string): Pick<AccessLogQuery, 'from' | 'to' | 'user' | 'allowed'> {
  const invalid = (why: string) =>
    new ArmError(
      400,
      'InvalidFilter',
      `The $filter is not valid: ${why}. Use clauses joined with 'and': time ge|gt|le|lt <ISO 8601 time>, user eq '<user name>', allowed eq true|false.`,
    );
  if (filter.length > MAX_FILTER) throw invalid(`it is longer than ${MAX_FILTER} characters`);
  const q: Pick<AccessLogQuery, 'from' | 'to' | 'user' | 'allowed'> = {};
  let rest = filter;
  for (;;) {
    const m = CLAUSE.exec(rest);
    if (!m) throw invalid(rest.trim() ? `cannot read '${rest.trim().slice(0, 60)}'` : 'a clause is missing');
    if (m[1]) {
      const at = Date.parse(m[4]!);
      if (Number.isNaN(at)) throw invalid(`'${m[4]}' is not a time`);
      const op = m[2]!.toLowerCase();
      if (op === 'ge' || op === 'gt') q.from = Math.max(q.from ?? -Infinity, op === 'gt' ? at + 1 : at);
      else q.to = Math.min(q.to ?? Infinity, op === 'lt' ? at - 1 : at);
    } else if (m[5]) {
      if (q.user !== undefined) throw invalid('user is given twice');
      q.user = m[6]!.replace(/''/g, "'");
    } else {
      if (q.allowed !== undefined) throw invalid('allowed is given twice');
      q.allowed = m[8]!.toLowerCase() === 'true';
    }
    rest = rest.slice(m[0].length);
    if (rest === '') return q;
    const and = /^and\s+/i.exec(rest);
    if (!and) throw invalid(`expected 'and' before '${rest.slice(0, 60)}'`);
    rest = rest.slice(and[0].length);
  }
}

/** The entry as the API shows it (docs/access-log.md). */
export function accessLogJson(e: AccessLogEntry) {
  return {
    time: new Date(e.time).toISOString(),
    user: e.user,
    userObjectId: e.userObjectId,
    groups: e.groups,
    groupsSource: e.groupsSource,
    verb: e.verb,
    resource: e.resource,
    subresource: e.subresource,
    apiGroup: e.apiGroup,
    namespace: e.namespace,
    name: e.name,
    path: e.path,
    allowed: e.decision === 'allowed',
    decision: e.decision,
    reason: e.reason,
    kind: e.kind,
    source: e.source,
  };
}

export function registerAccessLogRoutes(app: FastifyInstance, ctx: ArmContext): void {
  const { store } = ctx;
  const path = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/${MC_TYPE}/:name/accessLogs`;
  armRoute(app, ctx, 'GET', path, async (r: ArmRequest) => {
    const apiVersion = r.query['api-version']!;
    checkApiVersion(apiVersion);
    const top = parseTop(r.query.$top);
    const filterText = r.query.$filter;
    const filter = filterText === undefined ? {} : parseAccessLogFilter(filterText);
    const skipToken = r.query.$skipToken ?? r.query.$skiptoken;
    if (skipToken !== undefined && !/^[\w-]{1,200}$/.test(skipToken))
      throw new ArmError(400, 'InvalidParameter', 'The value of $skipToken is not valid: use the nextLink of the previous page.');

    const sub = r.subscription!.id;
    const rg = r.params.resourceGroup!;
    const name = r.params.name!;
    const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/${MC_TYPE}/${name}`;
    const res = await store.getResource(id);
    await authorize(store, r, res?.id ?? id, ACCESS_LOG_ACTION);
    if (!res || !isClusterResource(res)) {
      if (!(await store.getResource(`/subscriptions/${sub}/resourceGroups/${rg}`)))
        throw new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
      throw new ArmError(
        404,
        'ResourceNotFound',
        `The Resource '${MC_TYPE}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    let page;
    try {
      page = await store.listAccessDecisions(clusterSecretsOf(res).uid, { ...filter, top, skipToken });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid')
        throw new ArmError(400, 'InvalidParameter', 'The value of $skipToken is not valid: use the nextLink of the previous page.');
      throw err;
    }
    let nextLink: string | undefined;
    if (page.next) {
      const q = new URLSearchParams({ 'api-version': apiVersion, $top: String(top) });
      if (filterText !== undefined) q.set('$filter', filterText);
      q.set('$skipToken', page.next);
      nextLink = `${r.origin}${res.id}/accessLogs?${q.toString()}`;
    }
    return r.reply.header('cache-control', 'no-store').send({ value: page.items.map(accessLogJson), ...(nextLink ? { nextLink } : {}) });
  });
}
