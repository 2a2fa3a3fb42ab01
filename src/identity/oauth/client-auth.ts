import { X509Certificate } from 'node:crypto';
import { lookupKey, randomToken, verifySecret } from '../../shared/crypto.js';
import type { Application, ServicePrincipal, Tenant } from '../../store/index.js';
import { firstPartyApp, isFirstPartyPublicClient } from '../directory/first-party.js';
import { aad } from '../errors.js';
import { decodeJwt, JwtError, verifySignature, type DecodedJwt } from '../tokens/jwt.js';
import type { IdentityServices, TokenRequest } from './context.js';
import { federatedSigningKey } from './federation.js';
import { registeredSpaRedirectUris } from './redirect-uri.js';
import { decodeComponent } from '../../shared/uri.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const LEEWAY_S = 300;

export interface AuthenticatedClient {
  app: Application;
  /** The client's service principal in the token's tenant, when it has one. */
  sp: ServicePrincipal | null;
  tenant: Tenant;
  /** appidacr: 0 public client, 1 secret, 2 certificate or assertion. */
  authMethod: 0 | 1 | 2;
}

/** Client id and secret from the body or from HTTP Basic (both url-encoded there, per RFC 6749). */
export function clientCredentials(req: TokenRequest): { clientId: string | undefined; secret: string | undefined } {
  const header = req.authorization;
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw aad.malformed('The Basic authorization header is malformed.');
    const id = decodeComponent(decoded.slice(0, colon));
    const bodyId = req.params.get('client_id');
    if (bodyId && bodyId !== id) throw aad.malformed('client_id in the body and in the Authorization header differ.');
    return { clientId: id, secret: decodeComponent(decoded.slice(colon + 1)) };
  }
  return { clientId: req.params.get('client_id'), secret: req.params.get('client_secret') };
}

/** The tenant a client-credentials style request is for: the path's, or (ADFS) the one holding the app. */
export async function clientTenant(req: TokenRequest, clientId: string): Promise<Tenant> {
  if (req.tenant) return req.tenant;
  if (req.tenantSegment.toLowerCase() !== 'adfs') throw aad.tenantRequired();
  for (const tenant of await req.services.store.listTenants()) {
    const app = await req.services.store.findApplicationByAppId(tenant.id, clientId);
    if (app && !app.firstParty) return tenant;
  }
  throw aad.appNotFound(clientId, 'adfs');
}

/** Looks the client up in a tenant (the app registration, or a service principal of a first-party app). */
export async function findClient(
  services: IdentityServices,
  tenant: Tenant,
  clientId: string,
): Promise<{ app: Application; sp: ServicePrincipal | null }> {
  const app = await services.store.findApplicationByAppId(tenant.id, clientId);
  if (!app) throw aad.appNotFound(clientId, tenant.defaultDomain);
  const sp = await services.store.findServicePrincipalByAppId(tenant.id, clientId);
  if (sp && !sp.accountEnabled) throw aad.spDisabled(clientId);
  return { app, sp };
}

function isPublicClient(app: Application): boolean {
  // A spa redirect URI makes the app a public client too (its codes are redeemed by the browser, without a secret).
  return (
    app.isFallbackPublicClient ||
    app.publicClientRedirectUris.length > 0 ||
    registeredSpaRedirectUris(app).length > 0 ||
    isFirstPartyPublicClient(app.appId)
  );
}

// Secrets are scrypt-hashed at rest; a verified (secret, credential) pair is remembered under a keyed
// hash for a minute so the token hot path does not pay scrypt on every request.
const verifiedSecrets = new Map<string, number>();
/** The remembered pairs' keys are keyed with this process's own random prefix, as the table is the process's. */
const secretPrefix = randomToken(32);
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

async function checkSecret(
  services: IdentityServices,
  tenant: Tenant,
  app: Application,
  sp: ServicePrincipal | null,
  secret: string,
): Promise<void> {
  const now = services.clock.now();
  // Secrets live on the application, or on its service principal (`az ad sp credential reset`).
  const owned = [
    ...(await services.store.listPasswordCredentials(tenant.id, app.id)),
    ...(sp ? await services.store.listPasswordCredentials(tenant.id, sp.id) : []),
  ];
  const creds = owned.filter((c) => c.startDateTime <= now + 60_000 && c.endDateTime > now);
  for (const c of creds) {
    const key = lookupKey(secretPrefix, `${tenant.id}|${app.id}|${c.keyId}|${secret}`);
    const until = verifiedSecrets.get(key);
    if (until && until > now) return;
  }
  for (const c of creds) {
    if (secret.slice(0, 3) !== c.hint) continue;
    const key = lookupKey(secretPrefix, `${tenant.id}|${app.id}|${c.keyId}|${secret}`);
    // Requests that arrive together with the same secret share one scrypt: when the remembered pair
    // expires under load, a burst must not run one 16 MiB, 30 ms hash per request.
    let check = verifying.get(key);
    if (!check) {
      check = verifySecret(secret, c.secretHash).finally(() => verifying.delete(key));
      verifying.set(key, check);
    }
    if (await check) {
      if (verifiedSecrets.size >= VERIFIED_MAX) verifiedSecrets.clear();
      verifiedSecrets.set(key, now + VERIFIED_TTL_MS);
      return;
    }
  }
  throw aad.invalidSecret(app.appId);
}
const verifying = new Map<string, Promise<boolean>>();

function checkTimes(payload: Record<string, unknown>, nowS: number): void {
  const exp = Number(payload.exp);
  const nbf = payload.nbf === undefined ? undefined : Number(payload.nbf);
  if (!Number.isFinite(exp) || exp + LEEWAY_S < nowS || (nbf !== undefined && nbf - LEEWAY_S > nowS)) {
    const iso = (s: number | undefined) => (s === undefined || !Number.isFinite(s) ? 'none' : new Date(s * 1000).toISOString());
    throw aad.assertionTime(`Current time: ${iso(nowS)}, assertion valid from ${iso(nbf)}, expiry time of assertion ${iso(exp)}.`);
  }
}

/** Token URLs of the tenant a client assertion may name as its audience. */
function acceptedAudiences(req: TokenRequest, tenant: Tenant): Set<string> {
  const urls = new Set<string>();
  for (const segment of [req.tenantSegment, tenant.id, ...tenant.domains]) {
    for (const path of ['oauth2/v2.0/token', 'oauth2/token']) urls.add(`${req.origin}/${segment}/${path}`);
  }
  urls.add(req.tokenUrl);
  return new Set([...urls].flatMap((u) => [u.toLowerCase(), `${u.toLowerCase()}/`]));
}

/** A certificate thumbprint as base64url: MSAL Go sends it in standard base64 with padding, which Entra accepts too. */
function base64UrlThumbprint(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') : '';
}

async function checkCertificateAssertion(req: TokenRequest, tenant: Tenant, app: Application, jwt: DecodedJwt): Promise<void> {
  const thumbprint = base64UrlThumbprint(jwt.header['x5t#S256'] ?? jwt.header.x5t);
  const creds = await req.services.store.listKeyCredentials(tenant.id, app.id);
  const cred = creds.find((c) => c.thumbprintSha256 === thumbprint || c.thumbprintSha1 === thumbprint);
  if (!cred) throw aad.assertionCertUnknown(thumbprint);
  const nowMs = req.services.clock.now();
  if (cred.endDateTime < nowMs) throw aad.assertionInvalid('The certificate used to sign the assertion has expired.');
  const publicKey = new X509Certificate(Buffer.from(cred.certificateDer, 'base64')).publicKey;
  try {
    verifySignature(jwt, publicKey);
  } catch (err) {
    throw aad.assertionInvalid(err instanceof JwtError ? err.message : 'The signature could not be checked.');
  }
  const p = jwt.payload;
  if (p.iss !== app.appId || p.sub !== app.appId)
    throw aad.assertionInvalid("The assertion's 'iss' and 'sub' claims must both be the client id.");
  const auds = (Array.isArray(p.aud) ? p.aud : [p.aud]).map((a) => String(a).toLowerCase());
  const accepted = acceptedAudiences(req, tenant);
  if (!auds.some((a) => accepted.has(a))) throw aad.assertionAudience(auds.join(', '));
  checkTimes(p, Math.floor(nowMs / 1000));
}

async function checkFederatedAssertion(req: TokenRequest, tenant: Tenant, app: Application, jwt: DecodedJwt): Promise<void> {
  const { iss, sub } = jwt.payload;
  const auds = (Array.isArray(jwt.payload.aud) ? jwt.payload.aud : [jwt.payload.aud]).map(String);
  const creds = await req.services.store.listFederatedCredentials(tenant.id, app.id);
  const match = creds.find((c) => c.issuer === iss && c.subject === sub && c.audiences.some((a) => auds.includes(a)));
  if (!match) throw aad.federatedNoMatch(String(iss), String(sub), auds.join(','));
  try {
    verifySignature(jwt, await federatedSigningKey(match.issuer, jwt.header.kid, req.services.outboundCaPem));
  } catch (err) {
    throw aad.federatedInvalid(err instanceof Error ? err.message : 'The signature could not be checked.');
  }
  checkTimes(jwt.payload, Math.floor(req.services.clock.now() / 1000));
}

/**
 * Authenticates the client of a token request in `tenant`. Confidential grants pass
 * `requireConfidential`; user grants accept a public client with no credential.
 */
export async function authenticateClient(
  req: TokenRequest,
  tenant: Tenant,
  opts: { requireConfidential: boolean },
): Promise<AuthenticatedClient> {
  const { clientId, secret } = clientCredentials(req);
  if (!clientId) throw aad.missingParameter('client_id');
  const { app, sp } = await findClient(req.services, tenant, clientId.toLowerCase());
  const assertion = req.params.get('client_assertion');
  if (secret !== undefined) {
    if (app.firstParty) throw aad.invalidSecret(app.appId);
    await checkSecret(req.services, tenant, app, sp, secret);
    return { app, sp, tenant, authMethod: 1 };
  }
  if (assertion !== undefined) {
    if (req.params.get('client_assertion_type') !== JWT_BEARER_ASSERTION)
      throw aad.malformed(`client_assertion_type must be '${JWT_BEARER_ASSERTION}'.`);
    let jwt: DecodedJwt;
    try {
      jwt = decodeJwt(assertion);
    } catch {
      throw aad.assertionInvalid('The client assertion is not a JWT.');
    }
    if (jwt.header.x5t || jwt.header['x5t#S256']) await checkCertificateAssertion(req, tenant, app, jwt);
    else await checkFederatedAssertion(req, tenant, app, jwt);
    return { app, sp, tenant, authMethod: 2 };
  }
  if (opts.requireConfidential || !isPublicClient(app)) {
    if (firstPartyApp(app.appId) && !isFirstPartyPublicClient(app.appId)) throw aad.credentialRequired();
    throw opts.requireConfidential ? aad.credentialRequired() : aad.publicClientNotAllowed(app.appId);
  }
  return { app, sp, tenant, authMethod: 0 };
}

/** For a tenant-less authority: the tenant a non-first-party app is registered in (null for first-party apps). */
export async function findHomeTenantForClient(
  services: IdentityServices,
  clientId: string,
): Promise<{ tenant: Tenant | null; client: Application | null }> {
  if (firstPartyApp(clientId)) return { tenant: null, client: null };
  for (const tenant of await services.store.listTenants()) {
    const app = await services.store.findApplicationByAppId(tenant.id, clientId);
    if (app) return { tenant, client: app };
  }
  throw aad.appNotFound(clientId, 'organizations');
}
