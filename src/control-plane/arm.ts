import type { FastifyReply, FastifyRequest } from 'fastify';
import { ARM_RESOURCE_URIS, InvalidTokenError, type TokenVerifier } from '../identity/index.js';
import type { Store } from '../store/index.js';

/** An ARM error, answered as `{"error":{"code","message"}}` by the one ARM mapper below. */
export class ArmError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ArmError';
  }
}

export function sendArmError(reply: FastifyReply, err: ArmError, authority?: string): FastifyReply {
  if (err.status === 401 && authority) {
    reply.header('www-authenticate', `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${err.message}"`);
  }
  return reply.code(err.status).type('application/json; charset=utf-8').send({ error: { code: err.code, message: err.message } });
}

/** Who is calling ARM: the token's tenant, object id and every group the object is in. */
export interface ArmCaller {
  tenantId: string;
  objectId: string;
  principalIds: string[];
  claims: Record<string, unknown>;
}

export async function armCaller(req: FastifyRequest, verifier: TokenVerifier, store: Store): Promise<ArmCaller> {
  const header = req.headers.authorization;
  if (!header || !/^bearer /i.test(header)) {
    throw new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  }
  let claims: Record<string, unknown>;
  try {
    claims = verifier.verify(header.slice(7).trim(), { audiences: ARM_RESOURCE_URIS });
  } catch (err) {
    const expired = err instanceof InvalidTokenError && err.reason === 'expired';
    throw new ArmError(401, expired ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken',
      expired ? 'The access token expiry UTC time is earlier than current UTC time.' : `The access token is invalid. ${(err as Error).message}`);
  }
  const tenantId = String(claims.tid);
  const objectId = String(claims.oid);
  const groups = await store.listTransitiveGroupIds(tenantId, objectId);
  return { tenantId, objectId, principalIds: [objectId, ...groups], claims };
}
