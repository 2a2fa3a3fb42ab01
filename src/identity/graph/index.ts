import type { FastifyInstance } from 'fastify';
import type { IdentityServices } from '../oauth/context.js';
import type { HttpEdge } from '../oauth/routes.js';
import type { TokenVerifier } from '../tokens/verify.js';
import { registerApplicationRoutes } from './application-routes.js';
import { registerAuditLogRoutes } from './audit-log-routes.js';
import { registerDirectoryRoutes } from './directory-routes.js';

/** Microsoft Graph v1.0 (the directory subset) at `/v1.0` on the shared listener. */
export function registerGraphRoutes(app: FastifyInstance, services: IdentityServices, verifier: TokenVerifier, edge: HttpEdge): void {
  const ctx = { services, verifier, edge };
  registerDirectoryRoutes(app, ctx);
  registerApplicationRoutes(app, ctx);
  registerAuditLogRoutes(app, ctx);
}

export { GraphError, sendGraphError } from './errors.js';
export { parseFilter } from './odata.js';
export { graphRoutableUrl } from './context.js';
