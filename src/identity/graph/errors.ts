import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A Microsoft Graph error: `{"error":{"code","message","innerError"}}` with Graph's codes. */
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

export const graphErrors = {
  notFound: (id: string) =>
    new GraphError(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  badRequest: (message: string) => new GraphError(400, 'Request_BadRequest', message),
  denied: () => new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
  unauthenticated: (message: string) => new GraphError(401, 'InvalidAuthenticationToken', message),
  conflict: (message: string) => new GraphError(400, 'Request_BadRequest', message),
  tooMany: () =>
    new GraphError(
      400,
      'Directory_ResultSizeLimitExceeded',
      'Request exceeds the maximum number of results (11000) that can be returned by this operation.',
    ),
  unsupportedQuery: (message: string) => new GraphError(400, 'Request_UnsupportedQuery', message),
  quotaExceeded: () =>
    new GraphError(
      400,
      'Directory_QuotaExceeded',
      'The directory object quota limit for the Principal has been exceeded. Please ask your administrator to increase the quota limit or delete objects to reduce the used quota.',
    ),
};

/** The one place Graph errors take their wire shape. */
export function sendGraphError(req: FastifyRequest, reply: FastifyReply, err: GraphError): FastifyReply {
  const clientRequestId = req.headers['client-request-id'] ?? req.headers['x-ms-client-request-id'];
  if (err.status === 401) reply.header('www-authenticate', 'Bearer error="invalid_token"');
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: err.code,
        message: err.message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ''),
          'request-id': req.id ?? randomUUID(),
          'client-request-id': typeof clientRequestId === 'string' ? clientRequestId : req.id,
        },
      },
    });
}
