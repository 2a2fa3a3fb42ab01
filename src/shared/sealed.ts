import { hmacBase64Url, safeEqual } from './crypto.js';

// State a sign-in page carries between requests, sealed with an HMAC so the browser cannot change it,
// and with an expiry. Not encrypted: it holds no secret.

export function seal(key: Buffer, value: object, expiresAt: number): string {
  const body = Buffer.from(JSON.stringify({ ...value, exp: expiresAt })).toString('base64url');
  return `${body}.${hmacBase64Url(key, body)}`;
}

export function unseal<T extends object>(key: Buffer, sealed: unknown, now: number): (T & { exp: number }) | null {
  if (typeof sealed !== 'string' || sealed.length > 16 * 1024) return null;
  const dot = sealed.indexOf('.');
  if (dot < 1) return null;
  const body = sealed.slice(0, dot);
  if (!safeEqual(sealed.slice(dot + 1), hmacBase64Url(key, body))) return null;
  try {
    const value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T & { exp: number };
    return typeof value.exp === 'number' && value.exp > now ? value : null;
  } catch {
    return null;
  }
}
