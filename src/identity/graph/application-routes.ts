import type { JsonObject } from '../../shared/json.js';
import type { FastifyInstance } from 'fastify';
import { isGuid, newId } from '../../shared/crypto.js';
import {
  StoreError,
  type Application,
  type AppRole,
  type PermissionScope,
  type RequiredResourceAccess,
  type Store,
} from '../../store/index.js';
import { isReservedIdentifierUri } from '../directory/first-party.js';
import { Directory, DirectoryError } from '../directory/directory.js';
import { GRAPH_APP_ID } from '../directory/first-party.js';
import { canConsent, requireRead, requireSomeWrite, requireWrite } from './caller.js';
import {
  tenantPage,
  applicationByKey,
  findApplication,
  uniqueNameKey,
  findServicePrincipal,
  findUser,
  graphRoute,
  objectByIdRoute,
  jsonBody,
  noContent,
  applicationView,
  servicePrincipalView,
  requireGuid,
  requireString,
  checkObjectQuota,
  optionalString,
  stringList,
  stringOrNull,
  optionalStringArray,
  boolField,
  booleanValue,
  type GraphContext,
  type GraphRequest,
} from './context.js';
import { GraphError, graphErrors } from './errors.js';
import { listQuery, page } from './odata.js';
import { appRoleAssignmentJson, federatedCredentialJson, grantJson, passwordCredentialJson, typed } from './shapes.js';
import { decodeComponent } from '../../shared/uri.js';

const APP_FILTERS = ['id', 'appId', 'displayName', 'identifierUris', 'signInAudience', 'publisherDomain', 'uniqueName'];
const SP_FILTERS = [
  'id',
  'appId',
  'displayName',
  'servicePrincipalNames',
  'accountEnabled',
  'servicePrincipalType',
  'appOwnerOrganizationId',
];
const APP_WRITABLE = [
  'displayName',
  'identifierUris',
  'signInAudience',
  'isFallbackPublicClient',
  'groupMembershipClaims',
  'web',
  'publicClient',
  'spa',
  'api',
  'appRoles',
  'requiredResourceAccess',
  'optionalClaims',
  'keyCredentials',
  'tags',
  'notes',
  'description',
  'info',
];
/** Whether a Prefer header (RFC 7240: preferences separated by commas, parameters by semicolons) asks for create-if-missing. */
const createIfMissing = (prefer: string | string[] | undefined): boolean =>
  (Array.isArray(prefer) ? prefer : [prefer ?? ''])
    .flatMap((h) => h.split(','))
    .some((p) => p.split(';')[0]!.trim().toLowerCase() === 'create-if-missing');

const GROUP_CLAIMS = ['None', 'SecurityGroup', 'All', 'DirectoryRole', 'ApplicationGroup'];

/** A federatedIdentityCredential request body as the routes read it (requireString checks the required strings). */
interface FederatedCredentialBody {
  name?: string;
  issuer?: string;
  subject?: string;
  audiences?: string[];
  description?: string | null;
  [key: string]: unknown;
}

function checkUri(uri: string, what: string): void {
  let ok = false;
  try {
    ok = ['https:', 'http:', 'api:', 'urn:', 'ms-appx-web:'].includes(new URL(uri).protocol) || /^[a-z][a-z0-9+.-]*:\/\//i.test(uri);
  } catch {
    /* not a URL */
  }
  if (!ok)
    throw graphErrors.badRequest(
      `Invalid value specified for property '${what}' of resource 'Application': '${uri}' is not an absolute URI.`,
    );
}

const MAX_REDIRECT_URI_LENGTH = 256;
const MAX_REDIRECT_URIS = 256;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Native redirect URIs Microsoft documents for public clients whose scheme has no '.' (reference/security.md §2.2). */
const DOCUMENTED_NATIVE_REDIRECTS = [
  /^urn:ietf:wg:oauth:2\.0:oob$/,
  /^ms-appx-web:\/\/microsoft\.aad\.brokerplugin\/[0-9a-f-]{36}$/i,
  /^msal[0-9a-f-]{36}:\/\/auth$/i,
  /^msauth:\/\/[a-z0-9_.]+\/[a-z0-9+/=%_-]+$/i,
];
type RedirectPlatform = 'web' | 'spa' | 'publicClient';

/**
 * Why a redirect URI cannot be registered on a platform, or null (reference/security.md §2.1-2.3;
 * RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §2.6): absolute, no fragment or userinfo, never a script,
 * data or file URI; web and spa use https (http only on a loopback host); public clients may also
 * use a private-use scheme with a '.' in it, or a native form Microsoft documents.
 */
function redirectUriProblem(uri: string, platform: RedirectPlatform): string | null {
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  if (/[\u0000-\u0020\u007f-\u009f]/.test(uri)) return 'contains spaces or control characters';
  if (platform === 'publicClient' && DOCUMENTED_NATIVE_REDIRECTS.some((re) => re.test(uri))) return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (['javascript', 'data', 'vbscript', 'file', 'blob', 'about', 'filesystem'].includes(scheme))
    return `uses the '${scheme}:' scheme, which is never a redirect URI`;
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return 'has user information';
  if (uri.includes('#')) return 'has a fragment';
  if (scheme === 'https') return url.hostname ? null : 'has no host';
  if (scheme === 'http')
    return LOOPBACK_HOSTS.has(url.hostname) ? null : "uses 'http' on a host other than localhost, 127.0.0.1 or [::1]; use 'https'";
  if (platform === 'publicClient')
    return scheme.includes('.')
      ? null
      : `uses the scheme '${scheme}:'; a public client's private-use scheme must be a reverse domain name (with a '.')`;
  return `uses the scheme '${scheme}:'; ${platform} redirect URIs must use 'https' (or 'http' on a loopback host)`;
}

function parseRedirectUris(body: JsonObject, platform: RedirectPlatform): string[] {
  const uris = optionalStringArray(body, 'redirectUris') ?? [];
  const invalid = (why: string) =>
    graphErrors.badRequest(`Invalid value specified for property '${platform}' of resource 'Application'. ${why}`);
  if (uris.length > MAX_REDIRECT_URIS) throw invalid(`At most ${MAX_REDIRECT_URIS} redirect URIs are allowed.`);
  for (const uri of uris) {
    const problem = redirectUriProblem(uri, platform);
    if (problem) throw invalid(`The redirect URI '${uri}' ${problem}.`);
  }
  return uris;
}

const aliasInvalid = (code: string, uri: string, why = '') =>
  new GraphError(400, code, `Application alias '${uri}' value is invalid.${why}`);

/**
 * Entra's identifier URI rules (reference/security.md §1.2, §1.6, §1.7), checked against the store
 * before an application is written: a first-party resource's URI or appId, or Kentra's own host, is
 * reserved everywhere; a new URI must not end with '/', names in api://<GUID> only the app's own appId
 * or the tenant, and is unique in the tenant compared case-insensitively and ignoring a trailing slash.
 */
async function checkIdentifierUris(r: GraphRequest, store: Store, before: Application | null, next: Application): Promise<void> {
  const kept = new Set(before?.identifierUris ?? []);
  for (const uri of next.identifierUris) {
    if (isReservedIdentifierUri(uri) || r.services.isOwnOrigin(uri)) throw aliasInvalid('IdentifierUriValueIsReserved', uri);
    if (kept.has(uri)) continue; // Entra checks only new and changed entries
    if (uri.length > 255)
      throw graphErrors.badRequest(`Application alias '${uri}' value is invalid. An identifier URI is at most 255 characters.`);
    if (uri.endsWith('/')) throw aliasInvalid('IdentifierUrisEndsWithSlash', uri);
    const apiGuid = /^api:\/\/([^/?#]+)/i.exec(uri)?.[1];
    if (apiGuid && isGuid(apiGuid) && ![next.appId, r.tenant.id].includes(apiGuid.toLowerCase())) {
      throw aliasInvalid(
        'Request_BadRequest',
        uri,
        " The GUID of an 'api://' identifier URI must be the application's appId or the tenant ID.",
      );
    }
    for (const variant of [uri, `${uri}/`]) {
      const holder = await store.findApplicationByIdentifierUri(r.tenant.id, variant);
      if (holder && holder.id !== next.id)
        throw new GraphError(400, 'ObjectConflict', 'Another object with the same value for property identifierUris already exists.');
    }
  }
}

/** An oauth2PermissionScope of a request body (value is checked; the display texts are stored as given). */
interface ScopeJson {
  id?: unknown;
  value?: unknown;
  type?: unknown;
  isEnabled?: unknown;
  adminConsentDisplayName?: string;
  adminConsentDescription?: string;
  userConsentDisplayName?: string | null;
  userConsentDescription?: string | null;
}
/** An appRole of a request body (value and allowedMemberTypes are checked; the texts are stored as given). */
interface AppRoleJson {
  id?: unknown;
  value?: unknown;
  allowedMemberTypes?: unknown;
  displayName?: string;
  description?: string;
  isEnabled?: unknown;
}
/** A requiredResourceAccess entry of a request body. */
interface RequiredResourceAccessJson {
  resourceAppId?: unknown;
  resourceAccess?: unknown;
}
/** The platform objects of an application body (each checked where it is read). */
interface PlatformJson {
  redirectUris?: unknown;
  homePageUrl?: unknown;
  logoutUrl?: unknown;
  implicitGrantSettings?: unknown;
  [key: string]: unknown;
}
/** An application POST or PATCH body as applyApplicationBody reads it. */
interface ApplicationBody {
  signInAudience?: Application['signInAudience'];
  groupMembershipClaims?: Application['groupMembershipClaims'];
  web?: PlatformJson | null;
  publicClient?: PlatformJson | null;
  spa?: PlatformJson | null;
  api?: {
    requestedAccessTokenVersion?: Application['accessTokenAcceptedVersion'];
    oauth2PermissionScopes?: unknown;
    preAuthorizedApplications?: unknown;
    knownClientApplications?: unknown;
    [key: string]: unknown;
  } | null;
  keyCredentials?: unknown;
  [key: string]: unknown;
}

// Graph's types for the properties Kentra stores as given: a value of another type is a 400, never stored.
/** A JSON object (not an array or null) whose keys are among `keys`. */
function objectOf(value: unknown, name: string, keys: readonly string[], type: string): JsonObject {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw graphErrors.badRequest(`Property '${name}' must be an object.`);
  for (const key of Object.keys(value))
    if (!keys.includes(key)) throw graphErrors.badRequest(`Property '${key}' does not exist on '${type}'.`);
  return value as JsonObject;
}
const INFO_KEYS = ['logoUrl', 'marketingUrl', 'privacyStatementUrl', 'supportUrl', 'termsOfServiceUrl'];
const OPTIONAL_CLAIM_KEYS = ['name', 'source', 'essential', 'additionalProperties'];
/** `optionalClaims`: idToken, accessToken and saml2Token, each a list of { name, source, essential, additionalProperties }. */
function checkOptionalClaims(value: unknown): void {
  if (value === null) return;
  const claims = objectOf(value, 'optionalClaims', ['idToken', 'accessToken', 'saml2Token'], 'microsoft.graph.optionalClaims');
  for (const [kind, list] of Object.entries(claims)) {
    if (list === null) continue;
    if (!Array.isArray(list)) throw graphErrors.badRequest(`Property 'optionalClaims.${kind}' must be an array.`);
    for (const c of list) {
      const claim = objectOf(c, `optionalClaims.${kind}`, OPTIONAL_CLAIM_KEYS, 'microsoft.graph.optionalClaim');
      if (typeof claim.name !== 'string' || !claim.name) throw graphErrors.badRequest('Each optional claim needs a name.');
      stringOrNull(claim.source, 'source');
      booleanValue(claim.essential, 'essential');
      stringList(claim.additionalProperties, 'additionalProperties', { nullIsEmpty: true });
    }
  }
}
/** `api.preAuthorizedApplications`: a list of { appId, delegatedPermissionIds }. */
function checkPreAuthorized(value: unknown): void {
  if (value === null) return;
  if (!Array.isArray(value)) throw graphErrors.badRequest("Property 'api.preAuthorizedApplications' must be an array.");
  for (const x of value) {
    const entry = objectOf(
      x,
      'preAuthorizedApplications',
      ['appId', 'delegatedPermissionIds', 'permissionIds'],
      'microsoft.graph.preAuthorizedApplication',
    );
    if (!isGuid(entry.appId)) throw graphErrors.badRequest('Each preAuthorizedApplication needs an appId GUID.');
    stringList(entry.delegatedPermissionIds, 'delegatedPermissionIds', { guids: true, nullIsEmpty: true });
    stringList(entry.permissionIds, 'permissionIds', { guids: true, nullIsEmpty: true });
  }
}

function parseScopes(value: unknown): PermissionScope[] {
  if (!Array.isArray(value)) throw graphErrors.badRequest("Property 'api.oauth2PermissionScopes' must be an array.");
  return value.map((s: ScopeJson | null) => {
    if (!s || typeof s.value !== 'string' || !/^[^\s]+$/.test(s.value))
      throw graphErrors.badRequest('Each oauth2PermissionScope needs a value without spaces.');
    if (s.type !== undefined && s.type !== null && s.type !== 'Admin' && s.type !== 'User')
      throw graphErrors.badRequest("An oauth2PermissionScope's type is 'Admin' or 'User'.");
    return {
      id: s.id && isGuid(s.id) ? String(s.id).toLowerCase() : newId(),
      value: s.value,
      type: s.type === 'Admin' ? 'Admin' : 'User',
      adminConsentDisplayName: stringOrNull(s.adminConsentDisplayName, 'adminConsentDisplayName') ?? s.value,
      adminConsentDescription: stringOrNull(s.adminConsentDescription, 'adminConsentDescription') ?? s.value,
      userConsentDisplayName: stringOrNull(s.userConsentDisplayName, 'userConsentDisplayName') ?? null,
      userConsentDescription: stringOrNull(s.userConsentDescription, 'userConsentDescription') ?? null,
      isEnabled: booleanValue(s.isEnabled, 'isEnabled') !== false,
    };
  });
}

function parseAppRoles(value: unknown): AppRole[] {
  if (!Array.isArray(value)) throw graphErrors.badRequest("Property 'appRoles' must be an array.");
  return value.map((r: AppRoleJson | null) => {
    if (!r || typeof r.value !== 'string' || !Array.isArray(r.allowedMemberTypes))
      throw graphErrors.badRequest('Each app role needs a value and allowedMemberTypes.');
    if (!r.allowedMemberTypes.length || r.allowedMemberTypes.some((t: unknown) => t !== 'User' && t !== 'Application'))
      throw graphErrors.badRequest("An app role's allowedMemberTypes are 'User', 'Application' or both.");
    return {
      id: r.id && isGuid(r.id) ? String(r.id).toLowerCase() : newId(),
      value: r.value,
      displayName: stringOrNull(r.displayName, 'displayName') ?? r.value,
      description: stringOrNull(r.description, 'description') ?? r.value,
      allowedMemberTypes: r.allowedMemberTypes,
      isEnabled: booleanValue(r.isEnabled, 'isEnabled') !== false,
    };
  });
}

function parseRequiredResourceAccess(value: unknown): RequiredResourceAccess[] {
  if (!Array.isArray(value)) throw graphErrors.badRequest("Property 'requiredResourceAccess' must be an array.");
  return value.map((x: RequiredResourceAccessJson | null) => {
    if (!x || !isGuid(x.resourceAppId) || !Array.isArray(x.resourceAccess))
      throw graphErrors.badRequest('Each requiredResourceAccess needs a resourceAppId GUID and a resourceAccess list.');
    return {
      resourceAppId: String(x.resourceAppId).toLowerCase(),
      resourceAccess: x.resourceAccess.map((a: { id?: unknown; type?: unknown } | null) => {
        if (!isGuid(a?.id) || (a?.type !== 'Scope' && a?.type !== 'Role'))
          throw graphErrors.badRequest("Each resourceAccess needs a GUID id and type 'Scope' or 'Role'.");
        return { id: String(a!.id).toLowerCase(), type: a!.type as 'Scope' | 'Role' };
      }),
    };
  });
}

/** Applies a POST or PATCH body to an application: the one place application properties are validated. */
function applyApplicationBody(app: Application, body: ApplicationBody): { app: Application; keyCredentials?: string[] } {
  const next: Application = structuredClone(app);
  const extra = next.extra as JsonObject;
  if (body.displayName !== undefined) next.displayName = requireString(body, 'displayName', 'application');
  if (body.identifierUris !== undefined) {
    next.identifierUris = optionalStringArray(body, 'identifierUris')!;
    next.identifierUris.forEach((u) => checkUri(u, 'identifierUris'));
  }
  if (body.signInAudience !== undefined) {
    if (
      !['AzureADMyOrg', 'AzureADMultipleOrgs', 'AzureADandPersonalMicrosoftAccount', 'PersonalMicrosoftAccount'].includes(
        body.signInAudience,
      )
    )
      throw graphErrors.badRequest(`Invalid value '${body.signInAudience}' for property 'signInAudience'.`);
    next.signInAudience = body.signInAudience;
  }
  if (body.isFallbackPublicClient !== undefined)
    next.isFallbackPublicClient = body.isFallbackPublicClient === null ? false : boolField(body, 'isFallbackPublicClient')!;
  if (body.groupMembershipClaims !== undefined) {
    if (body.groupMembershipClaims !== null && !GROUP_CLAIMS.includes(body.groupMembershipClaims))
      throw graphErrors.badRequest(
        `Invalid value '${body.groupMembershipClaims}' for property 'groupMembershipClaims' (one of ${GROUP_CLAIMS.join(', ')}).`,
      );
    next.groupMembershipClaims = body.groupMembershipClaims;
  }
  if (body.web !== undefined) {
    const web = body.web ?? {};
    if (web.redirectUris !== undefined) next.webRedirectUris = parseRedirectUris(web, 'web');
    stringOrNull(web.homePageUrl, 'web.homePageUrl');
    stringOrNull(web.logoutUrl, 'web.logoutUrl');
    if (web.implicitGrantSettings) {
      const grants = objectOf(
        web.implicitGrantSettings,
        'web.implicitGrantSettings',
        ['enableIdTokenIssuance', 'enableAccessTokenIssuance'],
        'microsoft.graph.implicitGrantSettings',
      );
      for (const [key, value] of Object.entries(grants)) booleanValue(value, key);
    }
    extra.web = {
      ...((extra.web as JsonObject | undefined) ?? {}),
      ...(web.homePageUrl !== undefined ? { homePageUrl: web.homePageUrl } : {}),
      ...(web.logoutUrl !== undefined ? { logoutUrl: web.logoutUrl } : {}),
      ...(web.implicitGrantSettings ? { implicitGrantSettings: web.implicitGrantSettings } : {}),
    };
  }
  if (body.publicClient !== undefined) {
    next.publicClientRedirectUris = parseRedirectUris(body.publicClient ?? {}, 'publicClient');
  }
  if (body.spa !== undefined) extra.spa = { redirectUris: parseRedirectUris(body.spa ?? {}, 'spa') };
  if (body.api !== undefined) {
    const api = body.api ?? {};
    for (const key of Object.keys(api)) {
      if (
        ![
          'requestedAccessTokenVersion',
          'oauth2PermissionScopes',
          'preAuthorizedApplications',
          'knownClientApplications',
          'acceptMappedClaims',
        ].includes(key)
      )
        throw graphErrors.badRequest(`Property '${key}' does not exist on 'microsoft.graph.apiApplication'.`);
    }
    if (api.requestedAccessTokenVersion !== undefined) {
      if (![null, 1, 2].includes(api.requestedAccessTokenVersion))
        throw graphErrors.badRequest("Property 'api.requestedAccessTokenVersion' must be null, 1 or 2.");
      next.accessTokenAcceptedVersion = api.requestedAccessTokenVersion;
    }
    if (api.oauth2PermissionScopes !== undefined) next.oauth2PermissionScopes = parseScopes(api.oauth2PermissionScopes);
    if (api.preAuthorizedApplications !== undefined) {
      checkPreAuthorized(api.preAuthorizedApplications);
      extra.preAuthorizedApplications = api.preAuthorizedApplications;
    }
    if (api.knownClientApplications !== undefined)
      extra.knownClientApplications = stringList(api.knownClientApplications, 'api.knownClientApplications', {
        guids: true,
        nullIsEmpty: true,
      });
  }
  if (body.appRoles !== undefined) next.appRoles = parseAppRoles(body.appRoles);
  if (body.requiredResourceAccess !== undefined) next.requiredResourceAccess = parseRequiredResourceAccess(body.requiredResourceAccess);
  if (body.optionalClaims !== undefined) checkOptionalClaims(body.optionalClaims);
  if (body.tags !== undefined) body.tags = stringList(body.tags, 'tags', { nullIsEmpty: true });
  for (const key of ['notes', 'description']) stringOrNull(body[key], key);
  if (body.info !== undefined && body.info !== null) {
    const info = objectOf(body.info, 'info', INFO_KEYS, 'microsoft.graph.informationalUrl');
    for (const [key, value] of Object.entries(info)) stringOrNull(value, `info.${key}`);
    if (info.logoUrl !== undefined && info.logoUrl !== null) throw graphErrors.badRequest("Property 'info.logoUrl' is read-only.");
  }
  for (const key of ['optionalClaims', 'tags', 'notes', 'description', 'info']) if (body[key] !== undefined) extra[key] = body[key];
  let keyCredentials: string[] | undefined;
  if (body.keyCredentials !== undefined) {
    if (!Array.isArray(body.keyCredentials)) throw graphErrors.badRequest("Property 'keyCredentials' must be an array.");
    keyCredentials = body.keyCredentials.map((k: { key?: unknown } | null) => {
      if (typeof k?.key !== 'string') throw graphErrors.badRequest('Each keyCredential needs its certificate as base64 in "key".');
      return k!.key as string;
    });
  }
  return { app: next, keyCredentials };
}

export function registerApplicationRoutes(app: FastifyInstance, ctx: GraphContext): void {
  const dir = (r: GraphRequest) => new Directory(r.store, r.services.clock);
  const owns = async (r: GraphRequest, objectId: string) =>
    (await r.store.listOwners(r.tenant.id, objectId)).some((o) => o.ownerId === r.caller.objectId);
  /** A user owns what they create, and so does an app that writes through Application.ReadWrite.OwnedBy (or it could not manage it). */
  const ownsWhatItCreates = (r: GraphRequest) => r.caller.kind === 'user' || !r.caller.permissions.has('Application.ReadWrite.All');
  const writableApp = async (r: GraphRequest, a: Application) => {
    if (a.firstParty) throw graphErrors.denied();
    requireWrite(r.caller, 'application', { owner: await owns(r, a.id) });
  };

  // ---- applications ---------------------------------------------------------------------------
  graphRoute(app, ctx, 'GET', '/applications', async (r) => {
    requireRead(r.caller, 'application');
    const q = listQuery(r.query, r.req.headers, 'Application', APP_FILTERS);
    const body = await tenantPage(r, q, {
      list: (options) => r.store.listApplications(r.tenant.id, options),
      keep: (a) => !a.firstParty,
      json: (apps) => Promise.all(apps.map((a) => applicationView(r, a))),
      context: `${r.base}/$metadata#applications`,
    });
    return r.reply.send(body);
  });

  /**
   * An application's JSON body (POST, PATCH, upsert). `uniqueName` is read-only: a body may only repeat
   * the one the application has, or the one an upsert's address gives it.
   */
  const applicationBody = (r: GraphRequest, uniqueName: string | null): JsonObject => {
    const body = jsonBody(r, [...APP_WRITABLE, 'uniqueName'], 'microsoft.graph.application');
    if (
      body.uniqueName !== undefined &&
      (typeof body.uniqueName !== 'string' || uniqueName === null || body.uniqueName.toLowerCase() !== uniqueName.toLowerCase())
    )
      throw graphErrors.badRequest(
        "Property 'uniqueName' is read-only: an application gets it once, from the address of an upsert (PATCH /applications(uniqueName='…') with Prefer: create-if-missing).",
      );
    return body;
  };

  /** POST /applications, and an upsert that finds no application: the caller must be allowed to create one. */
  const createApplication = async (r: GraphRequest, uniqueName: string | null) => {
    requireWrite(r.caller, 'application', { create: true });
    await checkObjectQuota(r);
    const body = applicationBody(r, uniqueName);
    requireString(body, 'displayName', 'application');
    const created = await r.store.transaction(async (tx) => {
      const d = new Directory(tx, r.services.clock);
      const base = await d.createApplication(r.tenant.id, { displayName: body.displayName as string, uniqueName });
      const { app: next, keyCredentials } = applyApplicationBody(base, body);
      await checkIdentifierUris(r, tx, null, next);
      // As AAD Graph did (and the legacy walkthrough expects): an API with an identifier URI gets a
      // user_impersonation scope unless the request defines its own.
      if (
        next.identifierUris.length &&
        (body.api as { oauth2PermissionScopes?: unknown } | undefined)?.oauth2PermissionScopes === undefined
      ) {
        next.oauth2PermissionScopes = [
          {
            id: newId(),
            value: 'user_impersonation',
            type: 'User',
            isEnabled: true,
            adminConsentDisplayName: `Access ${next.displayName}`,
            adminConsentDescription: `Allow the application to access ${next.displayName} on behalf of the signed-in user.`,
            userConsentDisplayName: `Access ${next.displayName}`,
            userConsentDescription: `Allow the application to access ${next.displayName} on your behalf.`,
          },
        ];
      }
      await tx.updateApplication(r.tenant.id, base.id, () => next);
      for (const key of keyCredentials ?? []) await d.addCertificate(r.tenant.id, base.id, key);
      if (ownsWhatItCreates(r))
        await tx.addOwner({ tenantId: r.tenant.id, objectId: base.id, objectType: 'application', ownerId: r.caller.objectId });
      return next;
    });
    return r.reply.code(201).send({ '@odata.context': `${r.base}/$metadata#applications/$entity`, ...(await applicationView(r, created)) });
  };

  graphRoute(app, ctx, 'POST', '/applications', (r) => createApplication(r, null));

  objectByIdRoute(app, ctx, 'applications', {
    area: 'application',
    resource: 'Application',
    filters: APP_FILTERS,
    view: async (r) => applicationView(r, await findApplication(r, r.params.id!)),
  });

  // PATCH by id, appId or uniqueName. By uniqueName with `Prefer: create-if-missing` it is Graph's upsert: an
  // application that does not exist yet is created with that uniqueName (201 and the application), as
  // POST /applications would create it; one that exists is updated (204).
  const updateApplication = async (r: GraphRequest, a: Application) => {
    await writableApp(r, a);
    const body = applicationBody(r, a.uniqueName);
    const { app: next, keyCredentials } = applyApplicationBody(a, body);
    await r.store.transaction(async (tx) => {
      await checkIdentifierUris(r, tx, a, next);
      await tx.updateApplication(r.tenant.id, a.id, () => next);
      if (keyCredentials) {
        for (const k of await tx.listKeyCredentials(r.tenant.id, a.id)) await tx.removeKeyCredential(r.tenant.id, a.id, k.keyId);
        for (const key of keyCredentials) await new Directory(tx, r.services.clock).addCertificate(r.tenant.id, a.id, key);
      }
    });
    return noContent(r.reply);
  };

  graphRoute(app, ctx, 'PATCH', '/applications/:id', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const a = await applicationByKey(r, r.params.id!);
    if (a) return updateApplication(r, a);
    const uniqueName = uniqueNameKey(r.params.id!); // already checked by applicationByKey
    if (uniqueName === null || !createIfMissing(r.req.headers.prefer)) throw graphErrors.notFound(r.params.id!);
    try {
      return await createApplication(r, uniqueName);
    } catch (err) {
      // Another upsert of the same name created it first (the store's unique key refused this one, and the
      // create rolled back): this one updates what that one made.
      if (!((err instanceof StoreError || err instanceof DirectoryError) && err.code === 'conflict')) throw err;
      const made = await r.store.findApplicationByUniqueName(r.tenant.id, uniqueName);
      if (!made) throw err;
      return updateApplication(r, made);
    }
  });

  graphRoute(app, ctx, 'DELETE', '/applications/:id', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const a = await findApplication(r, r.params.id!);
    await writableApp(r, a);
    await r.store.deleteApplication(r.tenant.id, a.id);
    return noContent(r.reply);
  });

  const passwordBody = (r: GraphRequest) => {
    const body =
      r.req.body === undefined || r.req.body === null || r.req.body === '' ? {} : jsonBody(r, ['passwordCredential'], 'addPassword');
    const pc = (body.passwordCredential ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(pc)) {
      if (!['displayName', 'endDateTime', 'startDateTime', 'customKeyIdentifier', 'keyId', 'hint', 'secretText'].includes(key))
        throw graphErrors.badRequest(`Property '${key}' does not exist on 'microsoft.graph.passwordCredential'.`);
    }
    const end = pc.endDateTime === undefined || pc.endDateTime === null ? undefined : Date.parse(String(pc.endDateTime));
    if (end !== undefined && Number.isNaN(end)) throw graphErrors.badRequest("Property 'endDateTime' is not a valid date.");
    return { displayName: optionalString(pc, 'displayName') ?? null, endDateTime: end };
  };

  graphRoute(app, ctx, 'POST', '/applications/:id/addPassword', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const a = await findApplication(r, r.params.id!);
    await writableApp(r, a);
    const added = await dir(r).addPassword(r.tenant.id, a.id, passwordBody(r));
    return r.reply.send({
      '@odata.context': `${r.base}/$metadata#microsoft.graph.passwordCredential`,
      ...passwordCredentialJson({ ...added, tenantId: r.tenant.id, appObjectId: a.id, secretHash: '' }, added.secretText),
    });
  });

  const removePassword =
    (resolve: (r: GraphRequest) => Promise<{ ownerId: string; check: () => Promise<void> }>) => async (r: GraphRequest) => {
      requireSomeWrite(r.caller, 'application');
      const { ownerId, check } = await resolve(r);
      await check();
      const body = jsonBody(r, ['keyId'], 'removePassword');
      const keyId = requireGuid(body.keyId as string | undefined, 'keyId');
      if (!(await r.store.removePasswordCredential(r.tenant.id, ownerId, keyId)))
        throw graphErrors.badRequest(`No password credential with keyId '${keyId}' was found.`);
      return noContent(r.reply);
    };
  graphRoute(
    app,
    ctx,
    'POST',
    '/applications/:id/removePassword',
    removePassword(async (r) => {
      const a = await findApplication(r, r.params.id!);
      return { ownerId: a.id, check: () => writableApp(r, a) };
    }),
  );

  // federated identity credentials
  const fedFields = ['name', 'issuer', 'subject', 'audiences', 'description'];
  /** A federated credential's body (POST, PATCH): its strings strings, `audiences` one string. */
  const federatedBody = (r: GraphRequest): FederatedCredentialBody => {
    const type = 'microsoft.graph.federatedIdentityCredential';
    const body = jsonBody(r, fedFields, type);
    for (const key of ['name', 'issuer', 'subject', 'description']) optionalString(body, key);
    const audiences = optionalStringArray(body, 'audiences');
    if (audiences !== undefined && audiences.length !== 1)
      throw graphErrors.badRequest("Property 'audiences' must hold exactly one value.");
    return body as FederatedCredentialBody;
  };
  graphRoute(app, ctx, 'GET', '/applications/:id/federatedIdentityCredentials', async (r) => {
    requireRead(r.caller, 'application');
    const a = await findApplication(r, r.params.id!);
    return r.reply.send({
      '@odata.context': `${r.base}/$metadata#applications('${a.id}')/federatedIdentityCredentials`,
      value: (await r.store.listFederatedCredentials(r.tenant.id, a.id)).map(federatedCredentialJson),
    });
  });
  graphRoute(app, ctx, 'POST', '/applications/:id/federatedIdentityCredentials', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const a = await findApplication(r, r.params.id!);
    await writableApp(r, a);
    const body = federatedBody(r);
    const cred = await dir(r).addFederatedCredential(r.tenant.id, a.id, {
      name: requireString(body, 'name', 'federatedIdentityCredential'),
      issuer: requireString(body, 'issuer', 'federatedIdentityCredential'),
      subject: requireString(body, 'subject', 'federatedIdentityCredential'),
      audiences: body.audiences,
      description: body.description ?? null,
    });
    return r.reply.code(201).send({
      '@odata.context': `${r.base}/$metadata#applications('${a.id}')/federatedIdentityCredentials/$entity`,
      ...federatedCredentialJson(cred),
    });
  });
  const findFed = async (r: GraphRequest) => {
    const a = await findApplication(r, r.params.id!);
    const key = decodeComponent(r.params.fid!);
    const fed = (await r.store.listFederatedCredentials(r.tenant.id, a.id)).find((f) => f.id === key || f.name === key);
    if (!fed) throw graphErrors.notFound(key);
    return { a, fed };
  };
  graphRoute(app, ctx, 'GET', '/applications/:id/federatedIdentityCredentials/:fid', async (r) => {
    requireRead(r.caller, 'application');
    return r.reply.send(federatedCredentialJson((await findFed(r)).fed));
  });
  graphRoute(app, ctx, 'PATCH', '/applications/:id/federatedIdentityCredentials/:fid', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const { a, fed } = await findFed(r);
    await writableApp(r, a);
    const body = federatedBody(r);
    if (body.name !== undefined && body.name !== fed.name) throw graphErrors.badRequest("Property 'name' cannot be changed.");
    await r.store.transaction(async (tx) => {
      await tx.removeFederatedCredential(r.tenant.id, a.id, fed.id);
      await new Directory(tx, r.services.clock).addFederatedCredential(r.tenant.id, a.id, {
        id: fed.id,
        name: fed.name,
        issuer: body.issuer ?? fed.issuer,
        subject: body.subject ?? fed.subject,
        audiences: body.audiences ?? fed.audiences,
        description: body.description !== undefined ? body.description : fed.description,
      });
    });
    return noContent(r.reply);
  });
  graphRoute(app, ctx, 'DELETE', '/applications/:id/federatedIdentityCredentials/:fid', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const { a, fed } = await findFed(r);
    await writableApp(r, a);
    await r.store.removeFederatedCredential(r.tenant.id, a.id, fed.id);
    return noContent(r.reply);
  });

  // owners (applications and groups)
  for (const [collection, type] of [
    ['applications', 'application'],
    ['groups', 'group'],
    ['servicePrincipals', 'servicePrincipal'],
  ] as const) {
    const target = async (r: GraphRequest) => {
      if (type === 'application') return (await findApplication(r, r.params.id!)).id;
      if (type === 'servicePrincipal') return (await findServicePrincipal(r, r.params.id!)).id;
      const id = requireGuid(r.params.id, 'the group');
      if (!(await r.store.getGroup(r.tenant.id, id))) throw graphErrors.notFound(id);
      return id;
    };
    const area = type === 'group' ? 'group' : 'application';
    /** Owners change as the object itself does: Microsoft's own service principals have none to add (or remove). */
    const writableOwners = async (r: GraphRequest, id: string) => {
      if (type === 'servicePrincipal') {
        const sp = await r.store.getServicePrincipal(r.tenant.id, id);
        if (sp && (await r.store.findApplicationByAppId(r.tenant.id, sp.appId))?.firstParty) throw graphErrors.denied();
      }
      requireWrite(r.caller, area, { owner: await owns(r, id) });
    };
    graphRoute(app, ctx, 'GET', `/${collection}/:id/owners`, async (r) => {
      requireRead(r.caller, area);
      const owners = await r.store.listOwners(r.tenant.id, await target(r));
      const users = (await Promise.all(owners.map((o) => r.store.getUser(r.tenant.id, o.ownerId)))).filter((u) => !!u);
      const { userJson } = await import('./shapes.js');
      return r.reply.send({
        '@odata.context': `${r.base}/$metadata#directoryObjects`,
        value: users.map((u) => typed('user', userJson(u!))),
      });
    });
    graphRoute(app, ctx, 'POST', `/${collection}/:id/owners/$ref`, async (r) => {
      requireSomeWrite(r.caller, area);
      const id = await target(r);
      await writableOwners(r, id);
      const { referenceId } = await import('./context.js');
      const ownerId = referenceId(r);
      if (!(await r.store.getUser(r.tenant.id, ownerId)) && !(await r.store.getServicePrincipal(r.tenant.id, ownerId)))
        throw graphErrors.notFound(ownerId);
      if ((await r.store.listOwners(r.tenant.id, id)).some((o) => o.ownerId === ownerId))
        throw graphErrors.badRequest("One or more added object references already exist for the following modified properties: 'owners'.");
      await r.store.addOwner({ tenantId: r.tenant.id, objectId: id, objectType: type, ownerId });
      return noContent(r.reply);
    });
    graphRoute(app, ctx, 'DELETE', `/${collection}/:id/owners/:ownerId/$ref`, async (r) => {
      requireSomeWrite(r.caller, area);
      const id = await target(r);
      await writableOwners(r, id);
      if (!(await r.store.removeOwner(r.tenant.id, id, requireGuid(r.params.ownerId, 'the owner'))))
        throw graphErrors.notFound(r.params.ownerId!);
      return noContent(r.reply);
    });
  }

  // ---- service principals ---------------------------------------------------------------------
  graphRoute(app, ctx, 'GET', '/servicePrincipals', async (r) => {
    requireRead(r.caller, 'application');
    const q = listQuery(r.query, r.req.headers, 'ServicePrincipal', SP_FILTERS);
    const body = await tenantPage(r, q, {
      list: (options) => r.store.listServicePrincipals(r.tenant.id, options),
      json: (sps) => Promise.all(sps.map((sp) => servicePrincipalView(r, sp))),
      context: `${r.base}/$metadata#servicePrincipals`,
    });
    return r.reply.send(body);
  });

  graphRoute(app, ctx, 'POST', '/servicePrincipals', async (r) => {
    requireSomeWrite(r.caller, 'application');
    const body = jsonBody(
      r,
      ['appId', 'accountEnabled', 'appRoleAssignmentRequired', 'tags', 'notes', 'description'],
      'microsoft.graph.servicePrincipal',
    );
    const appId = requireGuid(body.appId as string | undefined, 'appId');
    const application = await r.store.findApplicationByAppId(r.tenant.id, appId);
    if (!application)
      throw graphErrors.badRequest(`The appId '${appId}' of the service principal does not reference a valid application object.`);
    requireWrite(r.caller, 'application', { owner: await owns(r, application.id) });
    if (await r.store.findServicePrincipalByAppId(r.tenant.id, appId)) {
      throw graphErrors.conflict(
        `The service principal for appId '${appId}' already exists: another object with the same value for property servicePrincipalNames already exists.`,
      );
    }
    const sp = await r.store.transaction(async (tx) => {
      const created = await new Directory(tx, r.services.clock).createServicePrincipal(r.tenant.id, appId);
      if (r.caller.kind === 'app' && ownsWhatItCreates(r))
        await tx.addOwner({ tenantId: r.tenant.id, objectId: created.id, objectType: 'servicePrincipal', ownerId: r.caller.objectId });
      const enabled = boolField(body, 'accountEnabled');
      const required = boolField(body, 'appRoleAssignmentRequired');
      return (await tx.updateServicePrincipal(r.tenant.id, created.id, (s) => ({
        ...s,
        accountEnabled: enabled ?? true,
        appRoleAssignmentRequired: required ?? false,
      })))!;
    });
    return r.reply
      .code(201)
      .send({ '@odata.context': `${r.base}/$metadata#servicePrincipals/$entity`, ...(await servicePrincipalView(r, sp)) });
  });

  objectByIdRoute(app, ctx, 'servicePrincipals', {
    area: 'application',
    resource: 'ServicePrincipal',
    filters: SP_FILTERS,
    view: async (r) => servicePrincipalView(r, await findServicePrincipal(r, r.params.id!)),
  });

  const writableSp = async (r: GraphRequest) => {
    requireSomeWrite(r.caller, 'application');
    const sp = await findServicePrincipal(r, r.params.id!);
    const application = await r.store.findApplicationByAppId(r.tenant.id, sp.appId);
    if (application?.firstParty) throw graphErrors.denied();
    requireWrite(r.caller, 'application', { owner: (await owns(r, sp.id)) || (application ? await owns(r, application.id) : false) });
    return sp;
  };

  graphRoute(app, ctx, 'PATCH', '/servicePrincipals/:id', async (r) => {
    const sp = await writableSp(r);
    const body = jsonBody(
      r,
      ['accountEnabled', 'appRoleAssignmentRequired', 'tags', 'notes', 'description', 'displayName'],
      'microsoft.graph.servicePrincipal',
    );
    await r.store.updateServicePrincipal(r.tenant.id, sp.id, (s) => ({
      ...s,
      accountEnabled: boolField(body, 'accountEnabled') ?? s.accountEnabled,
      appRoleAssignmentRequired: boolField(body, 'appRoleAssignmentRequired') ?? s.appRoleAssignmentRequired,
      displayName: body.displayName !== undefined ? requireString(body, 'displayName', 'servicePrincipal') : s.displayName,
    }));
    return noContent(r.reply);
  });

  graphRoute(app, ctx, 'DELETE', '/servicePrincipals/:id', async (r) => {
    const sp = await writableSp(r);
    await r.store.deleteServicePrincipal(r.tenant.id, sp.id);
    return noContent(r.reply);
  });

  graphRoute(app, ctx, 'POST', '/servicePrincipals/:id/addPassword', async (r) => {
    const sp = await writableSp(r);
    // A service principal's own secret: the password credential is kept under the principal's id.
    const added = await r.store.transaction(async (tx) => {
      const d = new Directory(tx, r.services.clock);
      return d.addServicePrincipalPassword(r.tenant.id, sp.id, passwordBody(r));
    });
    return r.reply.send({
      '@odata.context': `${r.base}/$metadata#microsoft.graph.passwordCredential`,
      ...passwordCredentialJson({ ...added, tenantId: r.tenant.id, appObjectId: sp.id, secretHash: '' }, added.secretText),
    });
  });
  graphRoute(
    app,
    ctx,
    'POST',
    '/servicePrincipals/:id/removePassword',
    removePassword(async (r) => {
      const sp = await writableSp(r);
      return { ownerId: sp.id, check: async () => {} };
    }),
  );

  // app role assignments (admin consent for application permissions, and assignments to users)
  const assignmentNames = async (r: GraphRequest, principalId: string, resourceId: string) => {
    const principal =
      (await r.store.getServicePrincipal(r.tenant.id, principalId))?.displayName ??
      (await r.store.getUser(r.tenant.id, principalId))?.displayName ??
      (await r.store.getGroup(r.tenant.id, principalId))?.displayName ??
      '';
    const resource = (await r.store.getServicePrincipal(r.tenant.id, resourceId))?.displayName ?? '';
    return { principal, resource };
  };
  /**
   * POST …/appRoleAssignments or …/appRoleAssignedTo: the object its path names must be the
   * assignment's principal or its resource, as Graph has it ("Not a valid reference update." otherwise).
   */
  const createAssignment = (pathKind: 'servicePrincipal' | 'user' | 'group') => async (r: GraphRequest) => {
    if (!canConsent(r.caller, 'appRole')) throw graphErrors.denied();
    const body = jsonBody(r, ['principalId', 'resourceId', 'appRoleId'], 'microsoft.graph.appRoleAssignment');
    const principalId = requireGuid(body.principalId as string | undefined, 'principalId');
    const resourceId = requireGuid(body.resourceId as string | undefined, 'resourceId');
    const appRoleId = requireGuid(body.appRoleId as string | undefined, 'appRoleId');
    const pathId =
      pathKind === 'servicePrincipal'
        ? (await findServicePrincipal(r, r.params.id!)).id
        : pathKind === 'user'
          ? (await findUser(r, r.params.id!)).id
          : requireGuid(r.params.id, 'the group');
    if (pathId !== principalId && pathId !== resourceId) throw graphErrors.badRequest('Not a valid reference update.');
    const resource = await r.store.getServicePrincipal(r.tenant.id, resourceId);
    if (!resource) throw graphErrors.notFound(resourceId);
    // Microsoft Graph's app roles: Privileged Role Administrator or Global Administrator only (security.md §4.6).
    if (resource.appId === GRAPH_APP_ID && !canConsent(r.caller, 'graphAppRole')) throw graphErrors.denied();
    const resourceApp = await r.store.findApplicationByAppId(r.tenant.id, resource.appId);
    if (appRoleId !== '00000000-0000-0000-0000-000000000000' && !resourceApp?.appRoles.some((x) => x.id === appRoleId)) {
      throw graphErrors.badRequest(`Permission being assigned was not found on application '${resource.appId}'.`);
    }
    const type = await new Directory(r.store, r.services.clock).objectType(r.tenant.id, principalId);
    if (!type) throw graphErrors.notFound(principalId);
    const assignment = {
      tenantId: r.tenant.id,
      id: newId(),
      principalId,
      principalType: type === 'user' ? ('User' as const) : type === 'group' ? ('Group' as const) : ('ServicePrincipal' as const),
      resourceId,
      appRoleId,
    };
    if ((await r.store.listAppRoleAssignments(r.tenant.id, { principalId, resourceId })).some((x) => x.appRoleId === appRoleId)) {
      throw graphErrors.badRequest('Permission being assigned already exists on the object.');
    }
    await r.store.createAppRoleAssignment(assignment);
    return r.reply.code(201).send({
      '@odata.context': `${r.base}/$metadata#appRoleAssignments/$entity`,
      ...appRoleAssignmentJson(assignment, await assignmentNames(r, principalId, resourceId)),
    });
  };
  graphRoute(app, ctx, 'POST', '/servicePrincipals/:id/appRoleAssignments', createAssignment('servicePrincipal'));
  graphRoute(app, ctx, 'POST', '/servicePrincipals/:id/appRoleAssignedTo', createAssignment('servicePrincipal'));
  graphRoute(app, ctx, 'POST', '/users/:id/appRoleAssignments', createAssignment('user'));
  graphRoute(app, ctx, 'POST', '/groups/:id/appRoleAssignments', createAssignment('group'));
  const listAssignments = (by: 'principalId' | 'resourceId') => async (r: GraphRequest) => {
    requireRead(r.caller, 'application');
    const sp = await findServicePrincipal(r, r.params.id!);
    const list = await r.store.listAppRoleAssignments(r.tenant.id, { [by]: sp.id });
    const value = await Promise.all(list.map(async (a) => appRoleAssignmentJson(a, await assignmentNames(r, a.principalId, a.resourceId))));
    return r.reply.send({ '@odata.context': `${r.base}/$metadata#appRoleAssignments`, value });
  };
  graphRoute(app, ctx, 'GET', '/servicePrincipals/:id/appRoleAssignments', listAssignments('principalId'));
  graphRoute(app, ctx, 'GET', '/servicePrincipals/:id/appRoleAssignedTo', listAssignments('resourceId'));
  graphRoute(app, ctx, 'DELETE', '/servicePrincipals/:id/appRoleAssignments/:aid', async (r) => {
    // As granting: AppRoleAssignment.ReadWrite.All for an app; a consenting role for a user (Graph's delete tables).
    if (!canConsent(r.caller, 'appRole')) throw graphErrors.denied();
    // Only an assignment of this service principal (as its principal or its resource) is found here.
    const sp = await findServicePrincipal(r, r.params.id!);
    const aid = requireGuid(r.params.aid, 'the assignment');
    const own = [
      ...(await r.store.listAppRoleAssignments(r.tenant.id, { principalId: sp.id })),
      ...(await r.store.listAppRoleAssignments(r.tenant.id, { resourceId: sp.id })),
    ].some((a) => a.id === aid);
    if (!own || !(await r.store.deleteAppRoleAssignment(r.tenant.id, aid))) throw graphErrors.notFound(aid);
    return noContent(r.reply);
  });

  // ---- delegated permission grants (consent) ---------------------------------------------------
  const canGrant = (r: GraphRequest) => canConsent(r.caller, 'delegated');
  graphRoute(app, ctx, 'GET', '/oauth2PermissionGrants', async (r) => {
    requireRead(r.caller, 'application');
    const q = listQuery(r.query, r.req.headers, 'OAuth2PermissionGrant', ['id', 'clientId', 'resourceId', 'consentType', 'principalId']);
    return r.reply.send(
      page(
        (await r.store.listOAuth2PermissionGrants(r.tenant.id)).map(grantJson),
        q,
        new URL(r.req.url, r.base),
        `${r.base}/$metadata#oauth2PermissionGrants`,
      ),
    );
  });
  /** A grant body's `scope`: its text trimmed, undefined when absent; anything but a string is a 400. */
  const grantScope = (body: JsonObject): string | undefined => {
    if (body.scope === undefined) return undefined;
    if (typeof body.scope !== 'string')
      throw graphErrors.badRequest(
        "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': a string is expected.",
      );
    return body.scope.trim();
  };
  /** Each value of a grant's scope must be a delegated permission the resource defines (on create and on update alike). */
  const checkGrantScope = async (r: GraphRequest, resourceId: string, scope: string) => {
    const resource = await r.store.getServicePrincipal(r.tenant.id, resourceId);
    if (!resource) throw graphErrors.notFound(resourceId);
    const resourceApp = await r.store.findApplicationByAppId(r.tenant.id, resource.appId);
    for (const s of scope.split(/\s+/).filter(Boolean)) {
      if (!resourceApp?.oauth2PermissionScopes.some((x) => x.value.toLowerCase() === s.toLowerCase())) {
        throw graphErrors.badRequest(
          `Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': '${s.slice(0, 120)}' is not a delegated permission of '${resource.displayName}'.`,
        );
      }
    }
  };
  graphRoute(app, ctx, 'POST', '/oauth2PermissionGrants', async (r) => {
    if (!canGrant(r)) throw graphErrors.denied();
    const body = jsonBody(
      r,
      ['clientId', 'consentType', 'principalId', 'resourceId', 'scope', 'startTime', 'expiryTime'],
      'microsoft.graph.oAuth2PermissionGrant',
    );
    const clientId = requireGuid(body.clientId as string | undefined, 'clientId');
    const resourceId = requireGuid(body.resourceId as string | undefined, 'resourceId');
    const consentType = body.consentType ?? 'AllPrincipals';
    if (consentType !== 'AllPrincipals' && consentType !== 'Principal')
      throw graphErrors.badRequest("Property 'consentType' must be 'AllPrincipals' or 'Principal'.");
    const principalId = consentType === 'Principal' ? requireGuid(body.principalId as string | undefined, 'principalId') : null;
    if (consentType === 'AllPrincipals' && body.principalId)
      throw graphErrors.badRequest("Property 'principalId' must be null for consentType 'AllPrincipals'.");
    const scope = grantScope(body) ?? '';
    if (!(await r.store.getServicePrincipal(r.tenant.id, clientId))) throw graphErrors.notFound(clientId);
    await checkGrantScope(r, resourceId, scope);
    if (
      (await r.store.listOAuth2PermissionGrants(r.tenant.id, { clientId, resourceId })).some(
        (g) => g.consentType === consentType && g.principalId === principalId,
      )
    ) {
      throw graphErrors.conflict('Permission entry already exists.');
    }
    const grant = { tenantId: r.tenant.id, id: newId(), clientId, resourceId, consentType, principalId, scope } as const;
    await r.store.createOAuth2PermissionGrant(grant);
    return r.reply.code(201).send({ '@odata.context': `${r.base}/$metadata#oauth2PermissionGrants/$entity`, ...grantJson(grant) });
  });
  graphRoute(app, ctx, 'GET', '/oauth2PermissionGrants/:id', async (r) => {
    requireRead(r.caller, 'application');
    const grant = (await r.store.listOAuth2PermissionGrants(r.tenant.id)).find((g) => g.id === r.params.id);
    if (!grant) throw graphErrors.notFound(r.params.id!);
    return r.reply.send(grantJson(grant));
  });
  graphRoute(app, ctx, 'PATCH', '/oauth2PermissionGrants/:id', async (r) => {
    if (!canGrant(r)) throw graphErrors.denied();
    const body = jsonBody(r, ['scope', 'startTime', 'expiryTime'], 'microsoft.graph.oAuth2PermissionGrant');
    const scope = grantScope(body);
    const grant = (await r.store.listOAuth2PermissionGrants(r.tenant.id)).find((g) => g.id === r.params.id);
    if (!grant) throw graphErrors.notFound(r.params.id!);
    if (scope !== undefined) await checkGrantScope(r, grant.resourceId, scope);
    const updated = await r.store.updateOAuth2PermissionGrant(r.tenant.id, grant.id, (g) => ({ ...g, scope: scope ?? g.scope }));
    if (!updated) throw graphErrors.notFound(r.params.id!);
    return noContent(r.reply);
  });
  graphRoute(app, ctx, 'DELETE', '/oauth2PermissionGrants/:id', async (r) => {
    if (!canGrant(r)) throw graphErrors.denied();
    if (!(await r.store.deleteOAuth2PermissionGrant(r.tenant.id, String(r.params.id)))) throw graphErrors.notFound(r.params.id!);
    return noContent(r.reply);
  });
}
