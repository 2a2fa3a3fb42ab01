import { sign, type KeyObject } from 'node:crypto';
import { onThreadPool } from '../../shared/crypto.js';
import type { KeyRing } from './keys.js';

// Signing for token issuance off the event loop: node:crypto's callback form of `sign` runs the RSA
// private-key operation on the libuv thread pool, so one process signs on every core while its main
// thread serves the next requests. The header is the same for every token of a key and version:
// encoded once.

const headers = new Map<string, string>();

/** The base64url JOSE header of an RS256 token signed with `kid`; v1 tokens carry `x5t` beside `kid`, as Entra's do. */
export function encodedHeader(kid: string, v1: boolean): string {
  const key = `${v1 ? 1 : 2}${kid}`;
  let h = headers.get(key);
  if (!h) {
    const header = v1 ? { typ: 'JWT', alg: 'RS256', x5t: kid, kid } : { typ: 'JWT', alg: 'RS256', kid };
    h = Buffer.from(JSON.stringify(header)).toString('base64url');
    if (headers.size > 64) headers.clear(); // a handful of keys are live at once
    headers.set(key, h);
  }
  return h;
}

/** The signature on the thread pool (its callback holds nothing of the caller's: see onThreadPool). */
function rs256(input: Buffer, privateKey: KeyObject): Promise<Buffer> {
  return onThreadPool<Buffer>((callback) => sign('sha256', input, privateKey, callback));
}

/** Signs claims with the current key (RS256) on the thread pool: the same token `signToken` makes. */
export async function signTokenAsync(keys: KeyRing, claims: Record<string, unknown>): Promise<string> {
  const { kid, privateKey } = keys.current();
  const input = `${encodedHeader(kid, claims.ver === '1.0')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = await rs256(Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}
