import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { HttpEdge } from '../identity/index.js';
import { Metrics } from './metrics.js';

export interface ServerOptions {
  tls: { key: string; cert: string };
  logger: Logger;
  /** Host names this server answers to (besides localhost, 127.0.0.1 and ::1). */
  hosts: string[];
  /** Filled once the port is known (port 0 asks the OS for one). */
  port: () => number;
  ready: () => Promise<boolean>;
}

/** Which protocol's error shape a path answers in: one error mapper per protocol, chosen here. */
export function protocolOf(url: string): 'arm' | 'graph' | 'aad' | 'plain' {
  const path = url.split('?')[0]!.toLowerCase();
  if (path.startsWith('/subscriptions') || path.startsWith('/providers') || path.startsWith('/tenants') || path.includes('/metadata/')) return 'arm';
  if (path.startsWith('/v1.0')) return 'graph';
  if (path.includes('/oauth2/') || path.includes('/.well-known/') || path.includes('/discovery/')) return 'aad';
  return 'plain';
}

function errorBody(protocol: ReturnType<typeof protocolOf>, status: number, code: string, message: string, requestId: string): unknown {
  switch (protocol) {
    case 'arm': return { error: { code, message } };
    case 'graph': return { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': requestId, 'client-request-id': requestId } } };
    case 'aad': return { error: status >= 500 ? 'server_error' : 'invalid_request', error_description: message, error_codes: [], timestamp: new Date().toISOString(), trace_id: requestId, correlation_id: requestId };
    default: return { error: code, message };
  }
}

export function createServer(opts: ServerOptions): { app: FastifyInstance; edge: HttpEdge; metrics: Metrics } {
  const app = Fastify({
    // Client certificates are asked for but not required: the routes that take them (the access
    // webhooks, a cluster's local admin) check them against their own CA.
    https: { key: opts.tls.key, cert: opts.tls.cert, requestCert: true, rejectUnauthorized: false },
    loggerInstance: opts.logger,
    // Fastify's own request lines carry the query string; requests are logged below, paths only.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    bodyLimit: 1024 * 1024,
    genReqId: () => randomUUID(),
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 },
  }) as unknown as FastifyInstance;
  const metrics = new Metrics();

  const allowed = new Set(['localhost', '127.0.0.1', '[::1]', ...opts.hosts.map((h) => h.toLowerCase())]);
  const edge: HttpEdge = {
    originOf(req: FastifyRequest): string {
      const port = opts.port();
      const suffix = port === 443 ? '' : `:${port}`;
      const host = (req.headers.host ?? '').toLowerCase();
      const m = /^(\[[0-9a-f:]+\]|[a-z0-9.-]+)(?::(\d+))?$/.exec(host);
      if (m && allowed.has(m[1]!) && (m[2] ? Number(m[2]) === port : port === 443)) return `https://${m[1]}${suffix}`;
      return `https://localhost${suffix}`;
    },
  };

  // ARM clients post actions with an empty JSON body (`az provider register`): empty means no body.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      const err = new Error('The request body is not valid JSON.') as Error & { statusCode: number };
      err.statusCode = 400;
      done(err, undefined);
    }
  });
  // Forms are parsed by each protocol edge (duplicate parameters are refused there), so keep the text.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-ms-request-id', req.id);
    (req as any).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (req, reply) => {
    const started = (req as any).startedAt as bigint | undefined;
    const seconds = started ? Number(process.hrtime.bigint() - started) / 1e9 : 0;
    const route = req.routeOptions?.url ?? 'unmatched';
    metrics.observeRequest(req.method, route, reply.statusCode, seconds);
    // Paths only: query strings may carry codes and hints; bodies and headers are never logged.
    req.log.info({ method: req.method, route, status: reply.statusCode, ms: Math.round(seconds * 1000) }, 'request');
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req: FastifyRequest, reply: FastifyReply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    const protocol = protocolOf(req.url);
    if (status >= 500) req.log.error({ err: { message: err.message, stack: err.stack } }, 'request failed');
    const message = status >= 500 ? 'The server had an internal error. The request was logged with its id.' : err.message;
    const code = status >= 500 ? 'InternalServerError' : protocol === 'graph' ? 'Request_BadRequest' : protocol === 'arm' ? 'InvalidRequestContent' : 'BadRequest';
    return reply.code(status).send(errorBody(protocol, status, code, message, req.id));
  });

  app.setNotFoundHandler((req, reply) => {
    const protocol = protocolOf(req.url);
    const code = protocol === 'graph' ? 'Request_ResourceNotFound' : protocol === 'arm' ? 'NotFound' : 'NotFound';
    return reply.code(404).send(errorBody(protocol, 404, code, `No route for ${req.method} ${req.url.split('?')[0]}.`, req.id));
  });

  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => {
    const ok = await opts.ready().catch(() => false);
    return reply.code(ok ? 200 : 503).type('text/plain').send(ok ? 'ready' : 'not ready');
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  return { app, edge, metrics };
}
