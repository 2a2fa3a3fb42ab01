import type { FastifyInstance } from 'fastify';
import { newId } from '../../shared/crypto.js';
import type { Application, ServicePrincipal, Tenant } from '../../store/index.js';
import { AadError } from '../errors.js';
import type { IdentityServices, TokenRequest } from './context.js';
import { issueAppToken } from './issue.js';
import { Params } from './params.js';
import type { HttpEdge } from './routes.js';
import { parseScope } from './scopes.js';

// An IMDS-compatible managed identity endpoint (`/metadata/identity/oauth2/token`), for `kubelogin -l msi`
// and the Azure SDKs. It issues app tokens to service principals marked as managed identities (seed:
// `managedIdentity: true`); like IMDS it trusts its network position, so it answers only requests that
// carry the `Metadata: true` header (which a browser cannot be made to send across origins). The App
// Service form of the same endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER, which MSAL Go and azidentity
// use when those are set) sends `X-IDENTITY-HEADER` instead: accepted in its place, its value unchecked
// (App Service compares it with a per-site secret; Kentra, like its IMDS, trusts its network position).

interface Identity {
  tenant: Tenant;
  app: Application;
  sp: ServicePrincipal;
}

async function managedIdentities(services: IdentityServices): Promise<Identity[]> {
  const out: Identity[] = [];
  for (const tenant of await services.store.listTenants()) {
    let after: string | undefined;
    do {
      const page = await services.store.listApplications(tenant.id, { limit: 1000, after });
      for (const app of page.items) {
        if ((app.extra as Record<string, unknown>).managedIdentity !== true) continue;
        const sp = await services.store.findServicePrincipalByAppId(tenant.id, app.appId);
        if (sp) out.push({ tenant, app, sp });
      }
      after = page.next;
    } while (after);
  }
  return out;
}

/** IMDS's `Metadata: true`, or App Service's non-empty `X-IDENTITY-HEADER`: headers a cross-origin page cannot send. */
export function isManagedIdentityRequest(headers: Record<string, string | string[] | undefined>): boolean {
  const appService = headers['x-identity-header'];
  return String(headers.metadata ?? '').toLowerCase() === 'true' || (typeof appService === 'string' && appService.trim() !== '');
}

export function registerManagedIdentityRoute(app: FastifyInstance, services: IdentityServices, edge: HttpEdge): void {
  app.get('/metadata/identity/oauth2/token', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const fail = (status: number, error: string, description: string) => reply.code(status).send({ error, error_description: description });
    if (!isManagedIdentityRequest(req.headers)) return fail(400, 'invalid_request', 'Required metadata header not specified');
    if (!q['api-version']) return fail(400, 'invalid_request', "Required query variable 'api-version' is missing");
    if (!q.resource) return fail(400, 'invalid_request', "Required query variable 'resource' is missing");
    const all = await managedIdentities(services);
    const wanted = q.client_id ?? q.object_id ?? q.msi_res_id ?? q.mi_res_id;
    const matches = wanted
      ? all.filter((i) => [i.app.appId, i.sp.id].includes(wanted.toLowerCase()) || i.app.displayName === wanted.split('/').pop())
      : all;
    if (matches.length === 0) return fail(400, 'invalid_request', 'Identity not found');
    if (matches.length > 1)
      return fail(
        400,
        'invalid_request',
        'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request',
      );
    const { tenant, app: identityApp, sp } = matches[0]!;
    const origin = edge.originOf(req);
    const tokenRequest: TokenRequest = {
      services,
      params: Params.fromSearch(new URLSearchParams()),
      tenantSegment: tenant.id,
      tenant,
      version: 1,
      origin,
      tokenUrl: `${origin}/metadata/identity/oauth2/token`,
      ip: req.ip,
    };
    try {
      const body = await issueAppToken(
        tokenRequest,
        { app: identityApp, sp, tenant, authMethod: 2 },
        parseScope(`${q.resource.replace(/\/\.default$/, '')}/.default`),
      );
      const now = Math.floor(services.clock.now() / 1000);
      return reply.header('cache-control', 'no-store').send({
        access_token: body.access_token,
        client_id: identityApp.appId,
        expires_in: String(body.expires_in),
        expires_on: String(now + Number(body.expires_in)),
        ext_expires_in: String(body.ext_expires_in),
        not_before: String(now),
        resource: q.resource,
        token_type: 'Bearer',
        correlation_id: newId(),
      });
    } catch (err) {
      if (err instanceof AadError) return fail(err.status, err.error, err.message);
      throw err;
    }
  });
}
