import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

// The server's direct way, as the components that register routes on it see it (the server implements
// it in src/server/app.ts; the access webhooks use it without depending on the server).

/** What a direct route's handler is given: the request's TLS socket, headers, path parameters and JSON body. */
export interface DirectRequest {
  socket: Socket;
  headers: IncomingHttpHeaders;
  params: string[];
  body: unknown;
}

/** A direct route's answer: the status, the JSON text of the body and any headers besides content type and length. */
export interface DirectReply {
  statusCode: number;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Routes answered straight from node's request event, before fastify's router, hooks and reply: the
 * hot webhooks the kube-apiserver calls for every request it serves. Each is registered with fastify
 * too, under `route`, and only a request in its plain form takes the direct way (POST, the path exactly
 * as `match` takes it with no query, `Content-Type: application/json`, a Content-Length within the body
 * limit, a Host the server answers without a refusal, the server not closing). Everything else, and
 * every refusal, goes through fastify, so both ways answer alike: the same request id header, body
 * parsing and errors, metrics and request log.
 */
export interface DirectRoutes {
  post(route: string, match: (path: string) => string[] | null, handle: (req: DirectRequest) => Promise<DirectReply>): void;
}
