import type { Clock } from '../shared/clock.js';
import { BatchWriter } from '../shared/batch-writer.js';
import { isGuid, timeOrderedId } from '../shared/crypto.js';
import type { SignInEvent, SignInEventType, Store, Tenant } from '../store/index.js';
import { GRAPH_APP_ID, GRAPH_RESOURCE_URIS } from './directory/first-party.js';
import { AadError } from './errors.js';
import type { Params } from './oauth/params.js';

// The sign-in log (Entra's `signIn`, read through Graph `auditLogs/signIns`). The token endpoint and
// the sign-in pages hand each outcome to `record…`, which only queues it: names, display names and
// the tenant are looked up and rows written in batches after the response, so issuing a token never
// waits on the log. Nothing secret is queued: no token, code, password, secret or assertion.

export interface SignInLogOptions {
  /** Rows older than this are pruned (`kentra up --sign-in-log-retention-days`, default 30). */
  retentionDays: number;
  /** Rows written per statement, and the queue length that flushes at once. */
  batchSize?: number;
  /** How long a queued sign-in may wait for its batch. */
  flushMs?: number;
  /** Where a failed write is reported (never with the row's content). */
  onError?: (message: string) => void;
}

export const DEFAULT_SIGN_IN_LOG_RETENTION_DAYS = 30;
const MAX_QUEUE = 50_000;
const MAX_TEXT = 256;
const CACHE_TTL_MS = 60_000;

/** Request parameters that hold a credential: their values never reach a row, even inside an error message. */
const SECRET_PARAMS = [
  'password',
  'client_secret',
  'code',
  'refresh_token',
  'assertion',
  'client_assertion',
  'device_code',
  'code_verifier',
];

/** Device-code polling answers are not sign-ins. */
const NOT_SIGN_INS = new Set(['authorization_pending', 'slow_down']);

/** Entra's `additionalDetails` for the outcomes people look for. */
const DETAILS: Record<number, string> = {
  50126:
    "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes.",
  50053: 'The account is locked because of too many sign-in attempts with a wrong password (smart lockout).',
  50034: 'The user account does not exist in the directory.',
  7000215: 'The client secret is not valid for the application.',
};

interface Pending {
  event: SignInEvent;
  /** Tenant not yet known (a `common`/`organizations` request): resolved from the user name's domain. */
  tenantHint: string | null;
  /** The resource as the token's `aud` or the request's scope/resource named it. */
  resourceHint: string | null;
  /** The user is known only by the name typed. */
  lookUpUser: boolean;
}

/** What the token endpoint knows about a request; TokenRequest has this shape. */
export interface TokenAttempt {
  tenant: Tenant | null;
  params: Params;
  ip: string;
}

const clip = (s: string | undefined | null): string | null => (s ? s.slice(0, MAX_TEXT) : null);

/**
 * The claims of the access token in each token response this process issued, by the response's body:
 * the log takes them from here instead of decoding the token it was handed (a base64url decode and a
 * JSON parse of about 1 KB per token).
 */
const issuedClaims = new WeakMap<object, Record<string, unknown>>();

/** Called by the issuer with the body it answers and the claims its access token was signed with. */
export function rememberIssuedClaims(body: object, accessTokenClaims: Record<string, unknown>): void {
  issuedClaims.set(body, accessTokenClaims);
}

function claimsOf(token: unknown): Record<string, unknown> | null {
  if (typeof token !== 'string') return null;
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The error text without the AADSTS prefix (errorCode holds the number) and without any credential the request carried. */
function failureReason(err: AadError, secrets: string[]): string {
  let text = err.message.replace(/^AADSTS\d+:\s*/, '');
  for (const s of secrets) if (s.length >= 4) text = text.split(s).join('***');
  return text.slice(0, 1024);
}

function eventTypeOfGrant(grantType: string, params: Params): SignInEventType {
  if (grantType === 'client_credentials') return 'servicePrincipal';
  if (grantType === 'password') return 'interactiveUser';
  if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && params.get('requested_token_use') !== 'on_behalf_of')
    return 'servicePrincipal';
  return 'nonInteractiveUser';
}

export class SignInLog {
  /** Queues entries, or successes whose issued token is decoded only when the batch is written (off the token endpoint's path). */
  private readonly writer: BatchWriter<Pending | (() => Pending | null), SignInEvent>;
  private readonly cache = new Map<string, { value: unknown; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly opts: SignInLogOptions,
  ) {
    this.writer = new BatchWriter({
      name: 'sign-in log',
      batchSize: opts.batchSize,
      flushMs: opts.flushMs,
      maxQueue: MAX_QUEUE,
      onError: opts.onError,
      prepare: (queued) => {
        const p = typeof queued === 'function' ? queued() : queued;
        return p ? this.complete(p) : null;
      },
      write: (rows) => this.store.addSignIns(rows),
    });
  }

  /** One token-endpoint outcome: the issued body (success) or the error (failure). */
  recordToken(req: TokenAttempt, grantType: string, outcome: { body?: unknown; error?: unknown }): void {
    try {
      if (outcome.error !== undefined) this.tokenFailure(req, grantType, outcome.error);
      else this.tokenSuccess(req, grantType, outcome.body);
    } catch {
      // The log never breaks the token endpoint.
    }
  }

  /** One password check on a sign-in page (authorize, device login). */
  recordInteractive(input: {
    ip: string;
    clientId?: string;
    username: string;
    target: Tenant | null;
    signedIn?: { tenant: Tenant; user: { id: string; userPrincipalName: string; displayName: string } };
    error?: unknown;
  }): void {
    const { signedIn, error } = input;
    if (error !== undefined && !(error instanceof AadError)) return;
    const err = error as AadError | undefined;
    this.push({
      event: this.event({
        tenantId: signedIn?.tenant.id ?? input.target?.id ?? '',
        eventType: 'interactiveUser',
        ipAddress: input.ip,
        clientAppUsed: 'Browser',
        userId: signedIn?.user.id ?? null,
        userPrincipalName: clip(signedIn?.user.userPrincipalName ?? input.username.trim()),
        userDisplayName: signedIn?.user.displayName ?? null,
        appId: clip(input.clientId?.toLowerCase()),
        errorCode: err?.aadsts ?? 0,
        failureReason: err ? failureReason(err, []) : null,
        additionalDetails: err ? (DETAILS[err.aadsts] ?? null) : null,
      }),
      tenantHint: signedIn || input.target ? null : (input.username.split('@')[1] ?? null),
      resourceHint: null,
      lookUpUser: !signedIn,
    });
  }

  private tokenSuccess(req: TokenAttempt, grantType: string, body: unknown): void {
    // The response holds the token just issued: its claims are read when the batch is written, not
    // here, so that issuing a token pays only for queueing.
    const createdAt = this.clock.now();
    this.push(() => this.tokenSuccessEntry(req, grantType, body, createdAt));
  }

  private tokenSuccessEntry(req: TokenAttempt, grantType: string, body: unknown, createdAt: number): Pending | null {
    const b = body as Record<string, unknown> | null;
    const claims = (b && issuedClaims.get(b)) ?? claimsOf(b?.access_token) ?? claimsOf(b?.id_token);
    if (!claims) return null;
    const app = claims.idtyp === 'app';
    const tid = String(claims.tid ?? req.tenant?.id ?? '');
    return {
      event: this.event({
        createdAt,
        tenantId: tid,
        eventType: app ? 'servicePrincipal' : eventTypeOfGrant(grantType, req.params),
        ipAddress: req.ip,
        clientAppUsed: app ? null : 'Mobile Apps and Desktop clients',
        userId: app ? null : String(claims.oid ?? '') || null,
        userPrincipalName: app ? null : clip(String(claims.upn ?? claims.preferred_username ?? claims.unique_name ?? '')),
        userDisplayName: app ? null : clip(typeof claims.name === 'string' ? claims.name : null),
        servicePrincipalId: app ? String(claims.oid ?? '') || null : null,
        appId: clip(String(claims.appid ?? claims.azp ?? req.params.get('client_id') ?? '').toLowerCase()),
        correlationId: clip(req.params.get('client-request-id')),
      }),
      tenantHint: null,
      resourceHint: claims.aud === claims.appid || !b?.access_token ? null : String(claims.aud ?? ''),
      lookUpUser: false,
    };
  }

  private tokenFailure(req: TokenAttempt, grantType: string, error: unknown): void {
    if (!(error instanceof AadError) || NOT_SIGN_INS.has(error.error)) return;
    const p = req.params;
    const eventType = eventTypeOfGrant(grantType, p);
    const username = grantType === 'password' ? (p.get('username')?.trim() ?? null) : null;
    const secrets = SECRET_PARAMS.map((n) => p.get(n)).filter((v): v is string => !!v);
    this.push({
      event: this.event({
        tenantId: req.tenant?.id ?? '',
        eventType,
        ipAddress: req.ip,
        clientAppUsed: eventType === 'servicePrincipal' ? null : 'Mobile Apps and Desktop clients',
        userPrincipalName: clip(username),
        appId: clip(p.get('client_id')?.toLowerCase()),
        correlationId: clip(p.get('client-request-id')),
        errorCode: error.aadsts,
        failureReason: failureReason(error, secrets),
        additionalDetails: DETAILS[error.aadsts] ?? null,
      }),
      tenantHint: req.tenant ? null : (username?.split('@')[1] ?? null),
      resourceHint: clip(p.get('resource') ?? p.get('scope')),
      lookUpUser: !!username,
    });
  }

  private event(over: Partial<SignInEvent> & Pick<SignInEvent, 'tenantId' | 'eventType' | 'ipAddress'>): SignInEvent {
    const createdAt = over.createdAt ?? this.clock.now();
    return {
      id: timeOrderedId(createdAt),
      createdAt,
      userId: null,
      userPrincipalName: null,
      userDisplayName: null,
      appId: null,
      appDisplayName: null,
      servicePrincipalId: null,
      clientAppUsed: null,
      resourceId: null,
      resourceDisplayName: null,
      errorCode: 0,
      failureReason: null,
      additionalDetails: null,
      correlationId: null,
      ...over,
    };
  }

  private push(p: Pending | (() => Pending | null)): void {
    this.writer.push(p);
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Deletes rows older than the retention. */
  prune(): Promise<number> {
    return this.store.pruneSignIns(this.clock.now() - this.opts.retentionDays * 86_400_000);
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  /** A looked-up name, from the cache when it is there (no await on a hit: this runs for every sign-in). */
  private cached<T>(key: string, load: () => Promise<T>): T | Promise<T> {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && hit.until > now) return hit.value as T;
    return load().then((value) => {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { value, until: now + CACHE_TTL_MS });
      return value;
    });
  }

  /** Fills in the tenant, the user and the display names; null when the tenant cannot be known. */
  private async complete(p: Pending): Promise<SignInEvent | null> {
    const e = p.event;
    if (!e.tenantId && p.tenantHint) {
      e.tenantId = await this.cached(
        `domain|${p.tenantHint.toLowerCase()}`,
        async () => (await this.store.findTenantByDomain(p.tenantHint!))?.id ?? '',
      );
    }
    if (!e.tenantId) return null;
    const t = e.tenantId;
    if (p.lookUpUser && e.userPrincipalName) {
      const user = await this.store.findUserByUpn(t, e.userPrincipalName);
      if (user) Object.assign(e, { userId: user.id, userDisplayName: user.displayName, userPrincipalName: user.userPrincipalName });
    }
    if (e.appId) {
      const appId = e.appId;
      const name = this.cached(
        `app|${t}|${appId}`,
        async () =>
          (await this.store.findServicePrincipalByAppId(t, appId))?.displayName ??
          (await this.store.findApplicationByAppId(t, appId))?.displayName ??
          null,
      );
      e.appDisplayName = name instanceof Promise ? await name : name;
    }
    if (p.resourceHint) {
      const hint = p.resourceHint;
      const found = this.cached(`res|${t}|${hint}`, () => this.resourceOf(t, hint));
      const resource = found instanceof Promise ? await found : found;
      if (resource) Object.assign(e, { resourceId: resource.appId, resourceDisplayName: resource.displayName });
    }
    return e;
  }

  /** The resource application an `aud`, `resource` or scope names. */
  private async resourceOf(tenantId: string, hint: string): Promise<{ appId: string; displayName: string } | null> {
    const first = hint.split(' ').find((s) => s.includes('/') || isGuid(s)) ?? hint.split(' ')[0] ?? '';
    const scoped = /^(.*)\/[^/]*$/.exec(first);
    const candidates = [first, scoped?.[1] ?? '', `${scoped?.[1] ?? first}/`].filter(Boolean);
    const bareScope = !first.includes('/') && !isGuid(first);
    for (const c of candidates) {
      if (GRAPH_RESOURCE_URIS.some((u) => u === c.replace(/\/$/, '')) || bareScope) return this.appById(tenantId, GRAPH_APP_ID);
      const byId = isGuid(c) ? await this.appById(tenantId, c.toLowerCase()) : null;
      if (byId) return byId;
      const app = await this.store.findApplicationByIdentifierUri(tenantId, c);
      if (app) return { appId: app.appId, displayName: app.displayName };
    }
    return null;
  }

  private async appById(tenantId: string, appId: string): Promise<{ appId: string; displayName: string } | null> {
    const app = await this.store.findApplicationByAppId(tenantId, appId);
    return app ? { appId: app.appId, displayName: app.displayName } : null;
  }
}
