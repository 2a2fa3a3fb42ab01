import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { AadError } from '../errors.js';

function timestamp(now: Date): string {
  return now
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** The one place AADSTS errors take Entra's JSON shape. */
export function aadErrorBody(err: AadError, correlationId: string, origin: string, now = new Date()): Record<string, unknown> {
  const traceId = randomUUID();
  const ts = timestamp(now);
  return {
    error: err.error,
    error_description: `${err.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${ts}`,
    error_codes: [err.aadsts],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${origin}/error?code=${err.aadsts}`,
    ...(err.suberror ? { suberror: err.suberror } : {}),
  };
}

export function sendAadError(reply: FastifyReply, err: AadError, correlationId: string, origin: string): FastifyReply {
  return reply
    .code(err.status)
    .header('cache-control', 'no-store, no-cache')
    .header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send(aadErrorBody(err, correlationId, origin));
}
