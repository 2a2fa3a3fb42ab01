import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newId, randomToken, sha256Hex } from '../../shared/crypto.js';
import type { Tenant } from '../../store/index.js';
import { AadError, aad } from '../errors.js';
import { pairwiseSubject, v1Issuer } from '../tokens/claims.js';
import type { TokenVerifier } from '../tokens/verify.js';
import { clientCredentials, findHomeTenantForClient } from './client-auth.js';
import { MULTI_TENANT_SEGMENTS, type IdentityServices, type TokenRequest } from './context.js';
import { grantHandlers } from './grants/index.js';
import { Params } from './params.js';
import { sendAadError } from './respond.js';
import { browserOriginOf, checkRedemptionOrigin, tokenCorsHeaders, tokenPreflight } from './cors.js';
import { parseScope, v1Resource } from './scopes.js';
import { searchParamsOf } from '../../shared/uri.js';
import { graphOriginFor } from '../../shared/azure-hosts.js';

export interface HttpEdge {
  /** `https://host:port` of this request, from a Host header that names this server. */
  originOf(req: { headers: { host?: string } }): string;
}

const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ';

function userCode(): string {
  const bytes = Buffer.from(randomToken(16), 'base64url');
  let code = '';
  for (let i = 0; i < 9; i++) code += USER_CODE_ALPHABET[bytes[i]! % USER_CODE_ALPHABET.length];
  return code;
}

function correlationIdOf(req: FastifyRequest, params?: Params): string {
  const q = (req.query as Record<string, unknown>)?.['client-request-id'];
  const h = req.headers['client-request-id'] ?? req.headers['x-ms-client-request-id'];
  const candidate = params?.get('client-request-id') ?? (typeof q === 'string' ? q : undefined) ?? (typeof h === 'string' ? h : undefined);
  return candidate && /^[0-9a-zA-Z-]{1,64}$/.test(candidate) ? candidate : newId();
}

/** The `api-version` query parameter of a request, when it is one plain value. */
function apiVersionOf(req: FastifyRequest): string | undefined {
  const v = (req.query as Record<string, unknown> | undefined)?.['api-version'];
  return typeof v === 'string' ? v : undefined;
}

/** The tenant a path segment names; null for the multi-tenant segments. Unknown tenants are an error. */
export async function tenantOfSegment(services: IdentityServices, segment: string): Promise<Tenant | null> {
  if (MULTI_TENANT_SEGMENTS.has(segment.toLowerCase())) return null;
  const tenant = await services.directory.resolveTenant(segment);
  if (!tenant) throw aad.tenantNotFound(segment);
  return tenant;
}

function openIdConfiguration(origin: string, segment: string, tenant: Tenant | null, version: 1 | 2): Record<string, unknown> {
  const t = tenant?.id ?? segment;
  const adfs = segment.toLowerCase() === 'adfs';
  const base = `${origin}/${adfs ? 'adfs' : t}`;
  const oauth = adfs ? `${base}/oauth2` : version === 2 ? `${base}/oauth2/v2.0` : `${base}/oauth2`;
  const issuer = adfs
    ? `${origin}/adfs`
    : version === 2
      ? `${origin}/${tenant?.id ?? '{tenantid}'}/v2.0`
      : tenant
        ? v1Issuer(tenant.id)
        : 'https://sts.windows.net/{tenantid}/';
  return {
    token_endpoint: adfs ? `${oauth}/token/` : `${oauth}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: adfs ? `${base}/discovery/keys` : version === 2 ? `${base}/discovery/v2.0/keys` : `${base}/discovery/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/oidc/userinfo`,
    authorization_endpoint: adfs ? `${oauth}/authorize/` : `${oauth}/authorize`,
    device_authorization_endpoint: `${oauth}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${oauth}/logout`,
    code_challenge_methods_supported: ['S256'],
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ],
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    tenant_region_scope: 'WW',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: new URL(graphOriginFor(origin)).host,
    rbac_url: 'https://pas.windows.net',
  };
}

/** Registers the protocol endpoints of the identity service. */
export function registerOAuthRoutes(app: FastifyInstance, services: IdentityServices, verifier: TokenVerifier, edge: HttpEdge): void {
  const grants = grantHandlers(verifier);
  const shared = services;

  /** Runs a handler and answers AADSTS errors in Entra's shape. */
  const aadEndpoint =
    (handler: (req: FastifyRequest, reply: FastifyReply, params: Params) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      let params: Params | undefined;
      try {
        params = req.method === 'POST' ? Params.fromBody(req.body) : Params.fromSearch(searchParamsOf(req.url));
        return await handler(req, reply, params);
      } catch (err) {
        if (err instanceof AadError) return sendAadError(reply, err, correlationIdOf(req, params), edge.originOf(req));
        throw err;
      }
    };

  const token = (version: 1 | 2) =>
    aadEndpoint(async (req, reply, params) => {
      const { tenant: segment } = req.params as { tenant: string };
      // Client credentials read only the directory: from this instance's cache, checked against the store's revision.
      const services =
        params.get('grant_type') === 'client_credentials' && shared.directoryCache ? await shared.directoryCache.forRequest() : shared;
      const tenant = await tenantOfSegment(services, segment);
      const grantType = params.require('grant_type');
      const handler = grants.get(grantType);
      if (!handler) throw aad.unsupportedGrant(grantType);
      const origin = edge.originOf(req);
      const tokenRequest: TokenRequest = {
        services,
        params,
        tenantSegment: segment,
        tenant,
        version: segment.toLowerCase() === 'adfs' ? 1 : version,
        origin,
        tokenUrl: `${origin}${req.url.split('?')[0]!.replace(/\/$/, '')}`,
        ip: req.ip,
        authorization: req.headers.authorization,
        apiVersion: version === 1 ? apiVersionOf(req) : undefined,
        browserOrigin: browserOriginOf(req),
      };
      let body: unknown;
      try {
        // Only codes and refresh tokens can be spa grants; every other grant is refused to a browser.
        if (grantType !== 'authorization_code' && grantType !== 'refresh_token') checkRedemptionOrigin(tokenRequest, false);
        body = await handler(tokenRequest);
      } catch (error) {
        services.signInLog?.recordToken(tokenRequest, grantType, { error });
        // The browser may read the error (Entra's AADSTS text reaches msal-browser), never a token it may not have.
        tokenCorsHeaders(reply, tokenRequest.browserOrigin, true);
        throw error;
      }
      services.signInLog?.recordToken(tokenRequest, grantType, { body });
      tokenCorsHeaders(reply, tokenRequest.browserOrigin, tokenRequest.spaRedemption === true);
      return reply
        .header('cache-control', 'no-store, no-cache')
        .header('pragma', 'no-cache')
        .type('application/json; charset=utf-8')
        .send(body);
    });

  const deviceCode = (version: 1 | 2) =>
    aadEndpoint(async (req, reply, params) => {
      const { tenant: segment } = req.params as { tenant: string };
      const tenant = await tenantOfSegment(services, segment);
      const origin = edge.originOf(req);
      const fakeRequest = { params, authorization: undefined } as unknown as TokenRequest;
      const clientId = clientCredentials(fakeRequest).clientId?.toLowerCase();
      if (!clientId) throw aad.missingParameter('client_id');
      if (tenant) {
        if (!(await services.store.findApplicationByAppId(tenant.id, clientId))) throw aad.appNotFound(clientId, tenant.defaultDomain);
      } else {
        await findHomeTenantForClient(services, clientId);
      }
      const resource = params.get('resource');
      const scopeText =
        params.get('scope') ??
        (resource
          ? `${version === 1 ? v1Resource(resource, apiVersionOf(req)) : resource}/.default openid profile offline_access`
          : undefined);
      if (!scopeText) throw aad.missingParameter('scope');
      parseScope(scopeText);
      const code = randomToken(48);
      const user = userCode();
      const now = services.clock.now();
      await services.store.createDeviceCode({
        deviceCodeHash: sha256Hex(code),
        userCode: user,
        requestTenant: segment,
        clientId,
        scope: scopeText,
        status: 'pending',
        tenantId: null,
        userId: null,
        createdAt: now,
        expiresAt: now + services.deviceCodeLifetime * 1000,
        interval: services.devicePollInterval,
        lastPolledAt: null,
      });
      const verificationUri = `${origin}/devicelogin`;
      return reply.header('cache-control', 'no-store, no-cache').send({
        user_code: user,
        device_code: code,
        verification_uri: verificationUri,
        ...(version === 1 ? { verification_url: verificationUri } : {}),
        expires_in: services.deviceCodeLifetime,
        interval: services.devicePollInterval,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${user} to authenticate.`,
      });
    });

  for (const prefix of ['/:tenant/oauth2/v2.0', '/:tenant/oauth2']) {
    const version = prefix.includes('v2.0') ? 2 : 1;
    app.post(`${prefix}/token`, token(version));
    app.options(`${prefix}/token`, tokenPreflight);
    app.post(`${prefix}/devicecode`, deviceCode(version));
  }

  const discovery = (version: 1 | 2) =>
    aadEndpoint(async (req, reply) => {
      const { tenant: segment } = req.params as { tenant: string };
      const tenant = await tenantOfSegment(services, segment);
      return reply
        .header('cache-control', 'max-age=86400, private')
        .header('access-control-allow-origin', '*')
        .send(openIdConfiguration(edge.originOf(req), segment, tenant, version));
    });
  app.get('/:tenant/v2.0/.well-known/openid-configuration', discovery(2));
  app.get('/:tenant/.well-known/openid-configuration', discovery(1));

  const keys = (version: 1 | 2) =>
    aadEndpoint(async (req, reply) => {
      const { tenant: segment } = req.params as { tenant: string };
      await tenantOfSegment(services, segment);
      const issuer = version === 2 ? `${edge.originOf(req)}/{tenantid}/v2.0` : undefined;
      // Short cache: new keys are published two days before they sign, so an hour is always safe.
      return reply
        .header('cache-control', 'max-age=3600, public')
        .header('access-control-allow-origin', '*')
        .send(services.keys.jwks(issuer));
    });
  app.get('/:tenant/discovery/v2.0/keys', keys(2));
  app.get('/:tenant/discovery/keys', keys(1));

  // Instance discovery, for clients that still ask this host (MSAL Python in AAD mode through a proxy, tests).
  app.get('/common/discovery/instance', async (req, reply) => {
    const origin = edge.originOf(req);
    const host = new URL(origin).host;
    const endpoint = (req.query as Record<string, string>).authorization_endpoint;
    let tenant = 'common';
    if (endpoint) {
      try {
        tenant = new URL(endpoint).pathname.split('/').filter(Boolean)[0] ?? 'common';
      } catch {
        return reply.code(400).send({ error: 'invalid_instance', error_description: 'AADSTS50049: Unknown or invalid instance.' });
      }
    }
    return reply.send({
      tenant_discovery_endpoint: `${origin}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  });

  // OIDC userinfo: the signed-in user's profile claims, for any access token this server issued to a user.
  app.get('/oidc/userinfo', async (req, reply) => {
    const header = req.headers.authorization ?? '';
    let claims: Record<string, unknown>;
    try {
      if (!/^bearer /i.test(header)) throw new Error('missing bearer token');
      claims = await verifier.verifyAsync(header.slice(7).trim());
      if (claims.idtyp === 'app') throw new Error('an application token has no user');
    } catch (err) {
      return reply
        .code(401)
        .header('www-authenticate', `Bearer error="invalid_token", error_description="${(err as Error).message}"`)
        .send({ error: 'invalid_token' });
    }
    const user = await services.store.getUser(String(claims.tid), String(claims.oid));
    if (!user) return reply.code(401).send({ error: 'invalid_token' });
    // `sub` is pairwise per client, as in the client's id_token.
    return reply.send({
      sub: pairwiseSubject(user.id, String(claims.appid ?? claims.azp)),
      name: user.displayName,
      preferred_username: user.userPrincipalName,
      email: user.mail ?? undefined,
      oid: user.id,
      tid: user.tenantId,
    });
  });

  // The page an error's `error_uri` names.
  app.get('/error', async (req, reply) => {
    const code = String((req.query as Record<string, unknown>).code ?? '')
      .replace(/\D/g, '')
      .slice(0, 10);
    return reply
      .header('content-security-policy', "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'")
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><title>AADSTS${code}</title><h1>AADSTS${code}</h1><p>Kentra answered this request with error AADSTS${code}. The error_description of the response says what went wrong and what to do.</p>`,
      );
  });

  app.get('/common/userrealm/:user', async (req, reply) => {
    const { user } = req.params as { user: string };
    const domain = user.includes('@') ? user.split('@')[1]! : user;
    const tenant = await services.store.findTenantByDomain(domain);
    return reply.send(
      tenant
        ? {
            ver: '1.0',
            account_type: 'Managed',
            domain_name: tenant.defaultDomain,
            cloud_instance_name: 'microsoftonline.com',
            cloud_audience_urn: 'urn:federation:MicrosoftOnline',
          }
        : { ver: '1.0', account_type: 'Unknown', cloud_instance_name: 'microsoftonline.com' },
    );
  });
}
