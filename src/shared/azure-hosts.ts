// Microsoft's own host names that `kentra up --azure-hostnames` answers on (port 443), and which of
// Kentra's routes each one reaches (issue 19). A request to graph.microsoft.com reaches Graph's routes
// only, and so on; anything else on these names is refused by name, never answered by another route.

export type AzureHostRole = 'login' | 'arm' | 'graph';

/** The names served, with the part of Microsoft's cloud each one is. */
export const AZURE_HOSTS: Readonly<Record<string, AzureHostRole>> = {
  'login.microsoftonline.com': 'login',
  // Aliases the instance-discovery metadata lists; sts.windows.net is the v1 issuer whose discovery Guard reads.
  'login.windows.net': 'login',
  'login.microsoft.com': 'login',
  'sts.windows.net': 'login',
  'management.azure.com': 'arm',
  'management.core.windows.net': 'arm',
  'graph.microsoft.com': 'graph',
};

export const AZURE_HOST_NAMES: readonly string[] = Object.keys(AZURE_HOSTS);

/** Entra's authority: every login alias answers as this origin, so issuers stay Entra's (`…/<tid>/v2.0`). */
export const ENTRA_AUTHORITY_ORIGIN = 'https://login.microsoftonline.com';

/** Where Graph is for clients of `origin`: graph.microsoft.com when Kentra answers as Entra, else Kentra's own origin. */
export function graphOriginFor(origin: string): string {
  return origin === ENTRA_AUTHORITY_ORIGIN ? 'https://graph.microsoft.com' : origin;
}

/** The role of a host name (no port), or undefined when it is not one of Microsoft's names Kentra knows. */
export function azureHostRole(host: string): AzureHostRole | undefined {
  return Object.hasOwn(AZURE_HOSTS, host.toLowerCase()) ? AZURE_HOSTS[host.toLowerCase()] : undefined;
}

/** Whether `origin` (`https://host[:port]`) is one of Microsoft's, as clients see Kentra in that mode. */
export function isAzureOrigin(origin: string): boolean {
  const m = /^https:\/\/([^/:]+)(?::443)?\/?$/i.exec(origin);
  return !!m && azureHostRole(m[1]!) !== undefined;
}

const LOGIN_PATHS = [
  // /{tenant}/oauth2/[v2.0/]{token,devicecode,authorize,logout}, discovery documents and keys
  /^\/[^/]+\/oauth2\//,
  /^\/[^/]+\/(v2\.0\/)?\.well-known\/openid-configuration$/,
  /^\/[^/]+\/discovery\/(v2\.0\/)?keys$/,
  // what MSAL asks first, and the pages a person signs in on
  /^\/common\/discovery\/instance$/,
  /^\/common\/userrealm\/[^/]+$/,
  /^\/devicelogin(\/signin|\/consent)?$/,
  /^\/error$/,
  /^\/oidc\/userinfo$/,
];
const ARM_PATHS = [/^\/subscriptions(\/|$)/, /^\/tenants$/, /^\/providers(\/|$)/, /^\/metadata\/endpoints$/];
const GRAPH_PATHS = [/^\/v1\.0(\/|$)/, /^\/oidc\/userinfo$/];
const PATHS: Record<AzureHostRole, RegExp[]> = { login: LOGIN_PATHS, arm: ARM_PATHS, graph: GRAPH_PATHS };

/** What each name serves, for the refusal's message. */
export const ROLE_DESCRIPTION: Record<AzureHostRole, string> = {
  login:
    "Entra ID's sign-in endpoints (/{tenant}/oauth2/…, /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/…, /common/discovery/instance, /common/userrealm/…)",
  arm: "Azure Resource Manager's /subscriptions, /tenants, /providers and /metadata/endpoints",
  graph: "Microsoft Graph's /v1.0 subset",
};

/** Whether a path (no query; any case, trailing slash ignored) is one of Kentra's routes for that role. */
export function azurePathServed(role: AzureHostRole, path: string): boolean {
  const p = path
    .toLowerCase()
    .replace(/\/{2,}/g, '/')
    .replace(/(.)\/+$/, '$1');
  return PATHS[role].some((re) => re.test(p));
}

/** `/etc/hosts` lines that send these names to `address` (Kentra's hostname listener). */
export function hostsFileLines(address: string): string {
  return `${AZURE_HOST_NAMES.map((h) => `${address} ${h}`).join('\n')}\n`;
}
