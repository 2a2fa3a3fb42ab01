import type { Application } from '../../store/index.js';
import { ownSpaRedirectUris } from '../directory/first-party.js';

// Redirect URIs at the authorization, token and logout endpoints (reference/security.md §2, §3):
// exact string matching, except that a loopback URI may name any port (RFC 8252 §7.3, Entra ignores
// the port for localhost). The platform a URI is registered under decides who may redeem its code.

export type RedirectPlatform = 'public' | 'web' | 'spa';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Schemes Kentra never sends a browser to, whatever is registered (RFC 9700 §4.1; reference §2.2). */
const NEVER = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

function parse(uri: string): URL | null {
  try {
    return new URL(uri);
  } catch {
    return null;
  }
}

/** True when `uri` is the registered loopback URI `registered` with only the port changed. */
function sameLoopbackUri(registered: string, uri: string): boolean {
  const r = parse(registered);
  const u = parse(uri);
  if (!r || !u) return false;
  // WHATWG parsing drops tabs and newlines, so the raw text must be clean too before ignoring the port.
  if (/[\s\\]/.test(uri) || u.username || u.password || r.username || r.password) return false;
  return (
    (r.protocol === 'http:' || r.protocol === 'https:') &&
    u.protocol === r.protocol &&
    LOOPBACK.has(r.hostname) &&
    u.hostname === r.hostname &&
    u.pathname === r.pathname &&
    u.search === r.search &&
    !u.hash &&
    !r.hash
  );
}

function matches(registered: string, uri: string): boolean {
  return registered === uri || sameLoopbackUri(registered, uri);
}

/** The spa redirect URIs registered for an app: Graph's `spa.redirectUris` (kept in `extra`). */
export function registeredSpaRedirectUris(app: Partial<Pick<Application, 'extra'>>): string[] {
  const spa = (app.extra?.spa as { redirectUris?: unknown } | undefined)?.redirectUris;
  return Array.isArray(spa) ? spa.filter((u): u is string => typeof u === 'string') : [];
}

/**
 * The platform `uri` is registered under for the app, or null when it is not registered. `origin` is
 * Kentra's own origin as the request reached it (the portal's spa redirect URIs live there).
 */
export function matchRedirectUri(
  app: Pick<Application, 'publicClientRedirectUris' | 'webRedirectUris'> & Partial<Pick<Application, 'appId' | 'extra'>>,
  uri: string,
  origin?: string,
): RedirectPlatform | null {
  if (app.publicClientRedirectUris.some((r) => matches(r, uri))) return 'public';
  if (app.webRedirectUris.some((r) => matches(r, uri))) return 'web';
  if (registeredSpaRedirectUris(app).some((r) => matches(r, uri))) return 'spa';
  // The portal's URIs on Kentra's own origin: exactly that origin, port included.
  if (app.appId && ownSpaRedirectUris(app.appId, origin).includes(uri)) return 'spa';
  return null;
}

/**
 * May Kentra send a browser to `uri` (as a redirect, or as the target of a form_post page)?
 * http(s) always; a private-use scheme (RFC 8252 §7.1) only as a redirect for a public client;
 * never a script, data or file URI, a URI with credentials, or one with control characters.
 */
export function browserMayGoTo(uri: string, platform: RedirectPlatform, responseMode: string): boolean {
  if (/[\u0000-\u001f\u007f\s\\]/.test(uri)) return false;
  const u = parse(uri);
  if (!u || u.username || u.password || NEVER.has(u.protocol)) return false;
  if (u.protocol === 'https:' || u.protocol === 'http:') return true;
  return platform === 'public' && responseMode !== 'form_post' && /^[a-z][a-z0-9+.-]*:$/.test(u.protocol);
}

/** The CSP source that lets a form (or a redirect after one) reach `uri`: its origin, or its scheme; null if none is safe. */
export function cspSourceFor(uri: string): string | null {
  const u = parse(uri);
  if (!u) return null;
  if (u.protocol === 'https:' || u.protocol === 'http:') {
    return /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(u.origin) ? u.origin : null;
  }
  return /^[a-z][a-z0-9+.-]*:$/.test(u.protocol) && !NEVER.has(u.protocol) ? u.protocol : null;
}
