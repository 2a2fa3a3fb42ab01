import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

import type { HttpEdge } from '../identity/index.js';
import { isStoreUnavailable, StoreError } from '../store/index.js';
import { azureHostRole, azurePathServed, ENTRA_AUTHORITY_ORIGIN, ROLE_DESCRIPTION, type AzureHostRole } from '../shared/azure-hosts.js';
import type { DirectReply, DirectRequest, DirectRoutes } from '../shared/direct-routes.js';
import { Metrics } from './metrics.js';

/** What the request log needs of a logger: fastify's per-request one or the server's. */
type RequestLog = Pick<Logger, 'info' | 'warn' | 'error' | 'level'>;
/** The levels at which a request's line is written. */
const REQUEST_LINE_LEVELS = new Set(['trace', 'debug', 'info']);

/** A request with the time it arrived, for its duration in the metrics and the log. */
type Timed = FastifyRequest & { startedAt?: bigint };

export interface ServerOptions {
  tls: { key: string; cert: string };
  logger: Logger;
  /** Host names this server answers to (besides localhost, 127.0.0.1 and ::1). */
  hosts: string[];
  /** Filled once the port is known (port 0 asks the OS for one). */
  port: () => number;
  ready: () => Promise<boolean>;
  /**
   * `kentra up --azure-hostnames`: Microsoft's host names (src/shared/azure-hosts.ts) are served on
   * port 443, each reaching only its own routes. The local port of the listener on 443 is passed
   * when it is a second listener (any other Host there is refused).
   */
  azureHostnames?: { port: number };
  /** A protocol's own URL grammar mapped onto the router's before routing (Graph's keys in parentheses). */
  rewriteUrl?: (url: string) => string;
}

/** Host names that are Microsoft's cloud: refused unless served in --azure-hostnames mode. */
const MICROSOFT_SUFFIX =
  /(^|\.)(microsoftonline\.com|microsoft\.com|windows\.net|azure\.com|azure\.net|microsoftonline\.us|usgovcloudapi\.net|chinacloudapi\.cn|azmk8s\.io|windowsazure\.com)$/;

/** Which protocol's error shape a path answers in: one error mapper per protocol, chosen here. */
export function protocolOf(url: string): 'arm' | 'graph' | 'aad' | 'plain' {
  const path = url.split('?')[0]!.toLowerCase();
  if (path.startsWith('/subscriptions') || path.startsWith('/providers') || path.startsWith('/tenants') || path.includes('/metadata/'))
    return 'arm';
  if (path.startsWith('/v1.0')) return 'graph';
  if (path.includes('/oauth2/') || path.includes('/.well-known/') || path.includes('/discovery/')) return 'aad';
  return 'plain';
}

function errorBody(protocol: ReturnType<typeof protocolOf>, status: number, code: string, message: string, requestId: string): unknown {
  switch (protocol) {
    case 'arm':
      return { error: { code, message } };
    case 'graph':
      return {
        error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': requestId, 'client-request-id': requestId } },
      };
    case 'aad': {
      const error = status === 503 ? 'temporarily_unavailable' : status >= 500 ? 'server_error' : 'invalid_request';
      return {
        error,
        error_description: message,
        error_codes: [],
        timestamp: new Date().toISOString(),
        trace_id: requestId,
        correlation_id: requestId,
      };
    }
    default:
      return { error: code, message };
  }
}

/** Seconds a client is asked to wait (Retry-After) while the store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 5;
/** How long /readyz waits for the store before it answers "not ready". */
const READY_TIMEOUT_MS = 3_000;

/** Each protocol's error code for a status the edge chooses itself. */
function errorCode(protocol: ReturnType<typeof protocolOf>, status: number): string {
  if (status === 503) return protocol === 'graph' ? 'serviceNotAvailable' : 'ServiceUnavailable';
  if (status >= 500) return 'InternalServerError';
  if (status === 409) return protocol === 'graph' ? 'Request_BadRequest' : 'Conflict';
  if (status === 404) return protocol === 'graph' ? 'Request_ResourceNotFound' : 'NotFound';
  return protocol === 'graph' ? 'Request_BadRequest' : protocol === 'arm' ? 'InvalidRequestContent' : 'BadRequest';
}

/** A 400 in the protocol's shape for a request the edge refuses before any route runs. */
function badRequest(message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode: 400 });
}

const NUL_MESSAGE = 'The request contains a NUL character (U+0000), which is not allowed in any value.';

/** Whether a parsed JSON value holds U+0000 in any string or property name, however deep. */
function containsNul(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return true;
    } else if (Array.isArray(value)) {
      for (const v of value) stack.push(v);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (k.includes('\u0000')) return true;
        stack.push(v);
      }
    }
  }
  return false;
}

/** Whether a URL (path and query) carries U+0000, raw or percent-encoded. */
function urlContainsNul(url: string): boolean {
  return url.includes('\u0000') || /%00/.test(url);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The largest request body any route takes. */
const BODY_LIMIT = 1024 * 1024;

/**
 * The deepest nesting of arrays and objects a JSON body may have. Kentra's deepest bodies are a few
 * levels (a TokenReview's spec, a Graph application's api.oauth2PermissionScopes, an ARM managed
 * cluster's properties.agentPoolProfiles) and ARM refuses more than 32 itself; recursive code downstream
 * (JSON.stringify of a stored value, validators) overflows the stack at a few thousand. 64 is far from both.
 */
export const MAX_JSON_DEPTH = 64;
const DEPTH_MESSAGE = `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`;

/** How many times `char` occurs in `text`, counting no further than `atMost + 1`. */
function occurrences(text: string, char: string, atMost: number): number {
  let n = 0;
  for (let i = text.indexOf(char); i !== -1 && n <= atMost; i = text.indexOf(char, i + 1)) n++;
  return n;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escapedQuote(text: string, at: number): boolean {
  let backslashes = 0;
  for (let i = at - 1; text.charCodeAt(i) === 0x5c; i--) backslashes++;
  return backslashes % 2 === 1;
}

/**
 * Whether a JSON text nests arrays and objects deeper than MAX_JSON_DEPTH. A scan of the text, before it is
 * parsed and without recursion, so no nesting can overflow the check; brackets inside strings are text.
 */
function nestsTooDeep(text: string): boolean {
  // A text with no more opening brackets than the limit, wherever they are, cannot nest deeper: ordinary bodies stop here.
  const braces = occurrences(text, '{', MAX_JSON_DEPTH);
  if (braces + occurrences(text, '[', MAX_JSON_DEPTH - braces) <= MAX_JSON_DEPTH) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // On to the string's closing quote; a string that never closes is left to JSON.parse to refuse.
      do {
        i = text.indexOf('"', i + 1);
      } while (i !== -1 && escapedQuote(text, i));
      if (i === -1) return false;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * A JSON request body as every route gets it: strict UTF-8, empty means no body, nested at most
 * MAX_JSON_DEPTH levels, no U+0000 anywhere. The value, or the message of the 400 to answer.
 */
function parseJsonBody(body: Buffer): { value: unknown } | { error: string } {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { error: 'The request body is not valid UTF-8.' };
  }
  if (text.trim() === '') return { value: undefined };
  if (nestsTooDeep(text)) return { error: DEPTH_MESSAGE };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'The request body is not valid JSON.' };
  }
  // U+0000 fits no identifier or name, and PostgreSQL cannot store it in text: refused here, once for all routes.
  // JSON.parse refuses a raw U+0000 in a string, so a value can only hold one through the escape `\u0000`:
  // a text without it needs no walk through the value.
  if (text.includes('\\u0000') && containsNul(value)) return { error: NUL_MESSAGE };
  return { value };
}

interface DirectRoute {
  route: string;
  match: (path: string) => string[] | null;
  handle: (req: DirectRequest) => Promise<DirectReply>;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** The longest path segment the router matches (a longer one is answered 414). */
const MAX_PARAM_LENGTH = 500;

export function createServer(opts: ServerOptions): { app: FastifyInstance; edge: HttpEdge; metrics: Metrics; direct: DirectRoutes } {
  const app = Fastify({
    // Client certificates are asked for but not required: the routes that take them (the access
    // webhooks, a cluster's local admin) check them against their own CA.
    https: { key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false },
    loggerInstance: opts.logger,
    // Fastify's own request lines carry the query string; requests are logged below, paths only.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    bodyLimit: BODY_LIMIT,
    genReqId: () => randomUUID(),
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM_LENGTH },
    // Fastify's own refusals before routing (a path that does not decode, an overlong segment) get the protocol's shape.
    frameworkErrors: (err, req, reply) => frameworkError(err, req, reply),
    ...(opts.rewriteUrl ? { rewriteUrl: (req: IncomingMessage) => opts.rewriteUrl!(req.url ?? '/') } : {}),
  }) as unknown as FastifyInstance;
  const metrics = new Metrics();

  const allowed = new Set(['localhost', '127.0.0.1', '[::1]', ...opts.hosts.map((h) => h.toLowerCase())]);
  const hostOf = (req: { headers: { host?: string } }) =>
    /^(\[[0-9a-f:]+\]|[a-z0-9.-]+)(?::(\d+))?$/.exec((req.headers.host ?? '').toLowerCase());
  /** The Microsoft role of a request's Host in --azure-hostnames mode (name known, port 443), else undefined. */
  const servedRole = (m: RegExpExecArray | null): AzureHostRole | undefined => {
    if (!m || !opts.azureHostnames || (m[2] !== undefined && m[2] !== '443')) return undefined;
    return azureHostRole(m[1]!);
  };
  const edge: HttpEdge = {
    originOf(req: { headers: { host?: string } }): string {
      const port = opts.port();
      const suffix = port === 443 ? '' : `:${port}`;
      const m = hostOf(req);
      const role = servedRole(m);
      // Every login alias answers as login.microsoftonline.com, so issuers and endpoints are Entra's.
      if (role) return role === 'login' ? ENTRA_AUTHORITY_ORIGIN : `https://${m![1]}`;
      if (m && allowed.has(m[1]!) && (m[2] ? Number(m[2]) === port : port === 443)) return `https://${m[1]}${suffix}`;
      return `https://localhost${suffix}`;
    },
  };

  /**
   * Host routing (issue 19): a Microsoft name reaches only its own routes, and only in --azure-hostnames
   * mode on port 443; on the second listener (443) only Microsoft's and Kentra's own names are served.
   * A refusal names the host and path, in the protocol's shape: never another route's answer.
   */
  const hostRefusal = (req: {
    headers: { host?: string };
    url: string;
    method: string;
    localPort: number | undefined;
    /** The matched route's pattern. */
    route: string | undefined;
  }): { status: number; protocol: ReturnType<typeof protocolOf>; code: string; message: string } | null => {
    const m = hostOf(req);
    const path = req.url.split('?')[0]!;
    const onHostnameListener =
      !!opts.azureHostnames && opts.azureHostnames.port !== opts.port() && req.localPort === opts.azureHostnames.port;
    if (!m)
      return onHostnameListener
        ? {
            status: 421,
            protocol: protocolOf(req.url),
            code: 'MisdirectedRequest',
            message: 'The request has no valid Host header: Kentra cannot tell which service it is for.',
          }
        : null;
    const name = m[1]!;
    const role = azureHostRole(name);
    if (role) {
      const protocol = role === 'login' ? 'aad' : role;
      if (!opts.azureHostnames)
        return {
          status: 421,
          protocol,
          code: 'MisdirectedRequest',
          message: `Kentra is not serving Microsoft's host names: ${name} is only answered by \`kentra up --azure-hostnames\`.`,
        };
      if (!servedRole(m))
        return {
          status: 421,
          protocol,
          code: 'MisdirectedRequest',
          message: `Kentra serves ${name} on port 443 only, not on port ${m[2]}.`,
        };
      // The matched route's pattern, not the raw path: encoded or dotted paths cannot pass as another route.
      const route = req.route;
      if (!route || !azurePathServed(role, route)) {
        return {
          status: 404,
          protocol,
          code: 'NotImplementedByKentra',
          message: `Kentra does not implement ${req.method} https://${name}${path}: on ${name} it serves ${ROLE_DESCRIPTION[role]} only.`,
        };
      }
      return null;
    }
    if (MICROSOFT_SUFFIX.test(name) || (onHostnameListener && !allowed.has(name))) {
      return {
        status: 421,
        protocol: protocolOf(req.url),
        code: 'MisdirectedRequest',
        message: `Kentra does not serve the host ${name} (${req.method} https://${name}${path}).`,
      };
    }
    return null;
  };

  // ARM clients post actions with an empty JSON body (`az provider register`): empty means no body.
  // Bodies are decoded strictly: invalid UTF-8 is refused, never stored as replacement characters.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    const parsed = parseJsonBody(body as Buffer);
    if ('error' in parsed) return done(badRequest(parsed.error), undefined);
    done(null, parsed.value);
  });
  // Forms are parsed by each protocol edge (duplicate parameters are refused there), so keep the text.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_req, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      return done(badRequest('The request body is not valid UTF-8.'), undefined);
    }
    if (urlContainsNul(text)) return done(badRequest(NUL_MESSAGE), undefined);
    done(null, text);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', req.id);
    (req as Timed).startedAt = process.hrtime.bigint();
    if (urlContainsNul(req.url)) throw badRequest(NUL_MESSAGE);
    const refusal = hostRefusal({
      headers: req.headers,
      url: req.url,
      method: req.method,
      localPort: req.socket.localPort,
      route: req.routeOptions?.url,
    });
    if (refusal) {
      if (refusal.protocol === 'aad') reply.header('cache-control', 'no-store, no-cache').header('pragma', 'no-cache');
      return reply.code(refusal.status).send(errorBody(refusal.protocol, refusal.status, refusal.code, refusal.message, req.id));
    }
  });
  /** Every answered request, either way: its metrics and its log line (paths only: query strings may carry codes and hints; bodies and headers are never logged). */
  const answered = (log: RequestLog, method: string, route: string, status: number, started: bigint | undefined, reqId?: string) => {
    const seconds = started ? Number(process.hrtime.bigint() - started) / 1e9 : 0;
    metrics.observeRequest(method, route, status, seconds);
    // The line's object is only built when it is written (at --log-level warn it is not).
    if (REQUEST_LINE_LEVELS.has(log.level))
      log.info(
        reqId
          ? { reqId, method, route, status, ms: Math.round(seconds * 1000) }
          : { method, route, status, ms: Math.round(seconds * 1000) },
        'request',
      );
  };
  // fastify's request logger carries the request id already.
  app.addHook('onResponse', async (req, reply) => {
    answered(req.log, req.method, req.routeOptions?.url ?? 'unmatched', reply.statusCode, (req as Timed).startedAt);
  });

  /**
   * The one place each protocol's 4xx/5xx shape is chosen for errors no route answered itself: a store
   * that cannot be reached is 503 with Retry-After (the request may succeed later), a store conflict 409.
   */
  const errorAnswer = (
    err: Error & { statusCode?: number; code?: string },
    url: string,
    reqId: string,
    log: RequestLog,
  ): { status: number; headers: Record<string, string>; body: unknown } => {
    const unavailable = isStoreUnavailable(err);
    const storeStatus = err instanceof StoreError ? (err.code === 'conflict' ? 409 : err.code === 'not_found' ? 404 : 400) : null;
    const status = unavailable
      ? 503
      : (storeStatus ?? (err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500));
    const protocol = protocolOf(url);
    if (unavailable) log.warn({ err: { message: err.message, code: err.code } }, 'store unavailable');
    else if (status >= 500) log.error({ err: { message: err.message, stack: err.stack } }, 'request failed');
    const message = unavailable
      ? 'The service is temporarily unavailable: its database cannot be reached. Retry after the time in Retry-After.'
      : status >= 500
        ? 'The server had an internal error. The request was logged with its id.'
        : err.message;
    const headers: Record<string, string> = {};
    if (unavailable) headers['retry-after'] = String(STORE_RETRY_AFTER_SECONDS);
    if (protocol === 'aad') Object.assign(headers, { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' });
    return { status, headers, body: errorBody(protocol, status, errorCode(protocol, status), message, reqId) };
  };
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req: FastifyRequest, reply: FastifyReply) => {
    const a = errorAnswer(err, req.url, req.id, req.log);
    return reply.code(a.status).headers(a.headers).send(a.body);
  });
  /**
   * What the router refuses before any hook runs: a path whose percent-escapes do not decode to UTF-8 (or that
   * is not a path), a segment over MAX_PARAM_LENGTH. Answered as the error handler answers, with the request id
   * header, metrics and log line the hooks would have added.
   */
  const frameworkError = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    // The path as the client sent it (before Graph's keys in parentheses are rewritten).
    const path = req.originalUrl.split('?')[0]!;
    const message =
      err.code === 'FST_ERR_BAD_URL'
        ? `The request path ${path} is not a valid URL path: its percent-escapes must decode to UTF-8 text.`
        : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `A segment of the request path ${path} is longer than ${MAX_PARAM_LENGTH} characters.`
          : err.message;
    const a = errorAnswer(Object.assign(new Error(message), { statusCode: err.statusCode }), req.url, req.id, req.log);
    reply.code(a.status).header('x-ms-request-id', req.id).headers(a.headers).send(a.body);
    answered(req.log, req.method, 'unmatched', a.status, started);
  };

  // The direct way (DirectRoutes above): node's request listener, which fastify installed, is wrapped.
  const directRoutes: DirectRoute[] = [];
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  const takeDirect = (req: IncomingMessage): { route: DirectRoute; params: string[] } | null => {
    if (closing || req.method !== 'POST' || !directRoutes.length) return null;
    const url = req.url ?? '';
    // A percent-escape goes to fastify, which decodes it (or refuses it) the one way for both.
    if (
      url.includes('?') ||
      url.includes('%') ||
      !JSON_TYPE.test(req.headers['content-type'] ?? '') ||
      req.headers['transfer-encoding'] !== undefined
    )
      return null;
    const length = req.headers['content-length'];
    if (length === undefined || !/^\d{1,7}$/.test(length) || Number(length) > BODY_LIMIT) return null;
    for (const route of directRoutes) {
      const params = route.match(url);
      if (!params) continue;
      return directHostServed(req.headers.host, req.socket.localPort, route.route, url) ? { route, params } : null;
    }
    return null;
  };
  // Whether a direct route's request has a Host the server answers: the refusal depends only on the Host
  // header, the listener and the route, so each combination is checked once (a bounded memo: a client
  // sending ever new Host values only empties it).
  const hostServed = new Map<string, boolean>();
  const directHostServed = (host: string | undefined, localPort: number | undefined, route: string, url: string): boolean => {
    const key = `${localPort}\n${route}\n${host ?? ''}`;
    let served = hostServed.get(key);
    if (served === undefined) {
      served = !hostRefusal({ headers: { host }, url, method: 'POST', localPort, route });
      if (hostServed.size >= 256) hostServed.clear();
      hostServed.set(key, served);
    }
    return served;
  };
  const serveDirect = (req: IncomingMessage, res: ServerResponse, { route, params }: { route: DirectRoute; params: string[] }) => {
    const started = process.hrtime.bigint();
    const reqId = randomUUID();
    const url = req.url!;
    const send = (status: number, headers: Record<string, string>, text: string) => {
      res.writeHead(status, {
        'x-ms-request-id': reqId,
        ...headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
      });
      res.end(text);
      answered(opts.logger, 'POST', route.route, status, started, reqId);
    };
    const fail = (err: Error, headers: Record<string, string> = {}) => {
      const a = errorAnswer(err, url, reqId, opts.logger.child({ reqId }));
      send(a.status, { ...headers, ...a.headers }, JSON.stringify(a.body));
    };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const parsed = parseJsonBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      // As fastify does after a body it could not parse: the connection is closed after the answer.
      if ('error' in parsed) return fail(badRequest(parsed.error), { connection: 'close' });
      route.handle({ socket: req.socket, headers: req.headers, params, body: parsed.value }).then(
        (r) => send(r.statusCode, r.headers ?? {}, r.body),
        (err: Error) => fail(err),
      );
    });
  };
  const fastifyListener = app.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  app.server.removeListener('request', fastifyListener);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const direct = takeDirect(req);
    if (direct) serveDirect(req, res, direct);
    else fastifyListener(req, res);
  });
  const direct: DirectRoutes = {
    post(route, match, handle) {
      directRoutes.push({ route, match, handle });
    },
  };

  app.setNotFoundHandler((req, reply) => {
    const protocol = protocolOf(req.url);
    const code = protocol === 'graph' ? 'Request_ResourceNotFound' : protocol === 'arm' ? 'NotFound' : 'NotFound';
    return reply.code(404).send(errorBody(protocol, 404, code, `No route for ${req.method} ${req.url.split('?')[0]}.`, req.id));
  });

  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => {
    // Bounded: a frozen store makes the instance unready within seconds instead of hanging the probe.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    });
    const ok = await Promise.race([opts.ready().catch(() => false), timeout]).finally(() => clearTimeout(timer));
    return reply
      .code(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ready' : 'not ready');
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  return { app, edge, metrics, direct };
}
