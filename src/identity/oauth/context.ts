import type { Clock } from '../../shared/clock.js';
import type { Store, Tenant } from '../../store/index.js';
import type { Directory } from '../directory/directory.js';
import type { KeyRing } from '../tokens/keys.js';
import type { Params } from './params.js';
import type { SignInLog } from '../sign-in-log.js';
import type { DirectoryReadCache } from './directory-cache.js';

export interface RateLimits {
  /** Password attempts per account before lock-out, per window. */
  passwordPerAccount: number;
  /** Password attempts per client address, per window. */
  passwordPerAddress: number;
  /** User-code entries on /devicelogin per client address, per window. */
  userCodePerAddress: number;
  windowMs: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  passwordPerAccount: 10,
  passwordPerAddress: 60,
  userCodePerAddress: 30,
  windowMs: 15 * 60 * 1000,
};

/** Everything the identity endpoints need, built once at start-up. */
export interface IdentityServices {
  store: Store;
  directory: Directory;
  keys: KeyRing;
  clock: Clock;
  /** HMAC key for state carried in sign-in pages (shared by all instances through the store). */
  formKey: Buffer;
  rateLimits: RateLimits;
  /** Seconds an access token lives (Entra: a random 60–90 minutes). */
  accessTokenLifetime(): number;
  /** True for URLs on this server (any of its host names): Graph lives at the root. */
  isOwnOrigin(url: string): boolean;
  /** Device codes live this long (seconds). */
  deviceCodeLifetime: number;
  devicePollInterval: number;
  /** A CA trusted besides the system's when fetching external issuers' keys (Kentra's own, for its clusters' service-account issuers). */
  outboundCaPem?: string;
  /** Where sign-ins are recorded (Graph auditLogs/signIns); absent in unit tests. */
  signInLog?: SignInLog;
  /** The instance's cache of the directory reads client-credentials tokens make (absent: every read goes to the store). */
  directoryCache?: DirectoryReadCache;
}

/** One token-endpoint request, after the shared steps. */
export interface TokenRequest {
  services: IdentityServices;
  params: Params;
  /** The tenant path segment as sent: a GUID, a domain, `common`, `organizations`, `consumers` or `adfs`. */
  tenantSegment: string;
  /** Null for the multi-tenant segments; the grant works the tenant out. */
  tenant: Tenant | null;
  /** 1 for `/oauth2/token` and ADFS, 2 for `/oauth2/v2.0/token`. */
  version: 1 | 2;
  origin: string;
  /** The URL the client posted to, without the query string (client assertions name it as `aud`). */
  tokenUrl: string;
  ip: string;
  authorization?: string;
  /** The `api-version` query parameter (`1.0` makes v1 app-id resources `spn:<appId>`, as Entra does). */
  apiVersion?: string;
  /** The request's Origin header: a browser's cross-origin (or same-origin fetch) redemption (oauth/cors.ts). */
  browserOrigin?: string;
  /** Set by a grant that redeemed a spa code or refresh token: the response may be read by `browserOrigin`. */
  spaRedemption?: boolean;
}

export const MULTI_TENANT_SEGMENTS = new Set(['common', 'organizations', 'consumers', 'adfs']);
