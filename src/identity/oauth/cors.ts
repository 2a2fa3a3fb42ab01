import type { FastifyReply, FastifyRequest } from 'fastify';
import { aad } from '../errors.js';
import type { TokenRequest } from './context.js';

// The token endpoint's cross-origin rules, as Entra has them (reference/current-clients.md §7,
// reference/security.md §2.2). A browser may redeem a code (or a refresh token) only when it was issued
// to a redirect URI registered as `spa`; such a code must be redeemed cross-origin (with an Origin
// header), anything else must not be (AADSTS9002326 / AADSTS9002327). The response of a spa redemption
// carries `Access-Control-Allow-Origin: <origin>`; preflights are answered for POST and the headers
// msal-browser sends, never for `Authorization` (a browser holds no client secret). The authorization
// endpoint has no CORS at all (RFC 9700 §2.6).

/** SPA refresh tokens live 24 hours from the sign-in, and tokens refreshed from them keep that expiry (Entra). */
export const SPA_REFRESH_LIFETIME_MS = 24 * 3600 * 1000;

/** Request headers a browser may send to the token endpoint (msal-browser's, lower case). */
const ALLOWED_HEADERS = [
  'content-type',
  'x-anchormailbox',
  'client-request-id',
  'return-client-request-id',
  'x-client-sku',
  'x-client-ver',
  'x-client-os',
  'x-client-cpu',
  'x-client-current-telemetry',
  'x-client-last-telemetry',
  'x-app-name',
  'x-app-ver',
  'x-ms-lib-capability',
];
const PREFLIGHT_MAX_AGE_S = 3600;

/** A browser's serialized origin: scheme, host and optional port, nothing else (`null` and paths are not one). */
const ORIGIN = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** The Origin header of a request, when there is exactly one (a malformed one counts as present). */
export function browserOriginOf(req: FastifyRequest): string | undefined {
  const o = req.headers.origin;
  return typeof o === 'string' ? o : undefined;
}

/** The Origin when it is a well-formed origin a CORS header may name. */
function corsOrigin(origin: string | undefined): string | undefined {
  return origin && ORIGIN.test(origin) ? origin : undefined;
}

/**
 * The cross-origin rule for redeeming a grant: spa grants only with an Origin (AADSTS9002327), all others
 * only without one (AADSTS9002326). A spa redemption's response may then be read by that origin.
 */
export function checkRedemptionOrigin(req: TokenRequest, spa: boolean): void {
  if (spa) {
    if (!req.browserOrigin) throw aad.spaRequiresCrossOrigin();
    req.spaRedemption = true;
  } else if (req.browserOrigin) {
    throw aad.crossOriginNotSpa(req.browserOrigin);
  }
}

/** CORS headers of a token response: the origin of a spa redemption, and of every error (so the app can show it). */
export function tokenCorsHeaders(reply: FastifyReply, origin: string | undefined, readable: boolean): void {
  const o = corsOrigin(origin);
  if (!o || !readable) return;
  reply.header('access-control-allow-origin', o).header('vary', 'Origin');
}

/** `OPTIONS` on the token endpoint: a CORS preflight, answered for POST with msal-browser's headers only. */
export async function tokenPreflight(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const origin = corsOrigin(browserOriginOf(req));
  const method = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
  const requested = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const refused = requested.find((h) => !ALLOWED_HEADERS.includes(h));
  reply.header('vary', 'Origin').header('cache-control', 'no-store');
  if (!origin || method !== 'POST' || refused !== undefined) {
    const why = !origin
      ? 'the request has no valid Origin header'
      : method !== 'POST'
        ? `the method '${method || '(none)'}' is not allowed (only POST)`
        : `the request header '${refused}' is not allowed`;
    return reply.code(403).type('text/plain; charset=utf-8').send(`CORS preflight refused: ${why}.`);
  }
  return reply
    .code(204)
    .header('access-control-allow-origin', origin)
    .header('access-control-allow-methods', 'POST, OPTIONS')
    .header('access-control-allow-headers', ALLOWED_HEADERS.join(', '))
    .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S))
    .send();
}
