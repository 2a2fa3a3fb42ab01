import { createHash, createHmac, hash, randomBytes, randomFillSync, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

// scrypt parameters for secrets and passwords at rest (about 30 ms per hash on these machines).
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** The default outcome of a thread-pool call: its value, or its error. */
const valueOrError = <T>(err: Error | null, value: T): T => {
  if (err) throw err;
  return value;
};

/**
 * A node:crypto call on libuv's thread pool (its callback form) as a promise. The callback given to
 * node closes over the promise's settle functions and `outcome` only, never over the caller's scope.
 * Measured under TokenReview load: whatever a finished job's callback closed over lived until a full
 * garbage collection, and a callback that closed over the decoded token kept about 2 KB of every token
 * verified that long. `outcome` turns the callback's arguments into the value, or throws to reject.
 */
export function onThreadPool<T, R = T>(
  start: (callback: (err: Error | null, value: T) => void) => void,
  outcome: (err: Error | null, value: T) => R = valueOrError as (err: Error | null, value: T) => R,
): Promise<R> {
  let resolve!: (value: R) => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<R>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  start((err, value) => {
    try {
      resolve(outcome(err, value));
    } catch (thrown) {
      reject(thrown);
    }
  });
  return done;
}

function scrypt(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return onThreadPool<Buffer>((callback) => scryptCb(secret, salt, KEYLEN, { N: n, r, p, maxmem: 128 * n * r * 2 }, callback));
}

/** `scrypt$N$r$p$salt$hash`, salt and hash base64url. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Constant-time check of a secret against a `hashSecret` value. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const expected = Buffer.from(parts[5]!, 'base64url');
  const actual = await scrypt(secret, Buffer.from(parts[4]!, 'base64url'), n!, r!, p!);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function hmacBase64Url(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value).digest('base64url');
}

/**
 * A key for a lookup table kept in this process's memory only (remembered secrets, cached token
 * results): SHA-256 of a secret prefix and the value, in one call, a fifth of an HMAC object's cost.
 * Without the prefix no one can compute a key from a value. Not a MAC: nothing that leaves the process
 * is checked with it (sealed values use `hmacBase64Url`).
 */
export function lookupKey(prefix: string, value: string): string {
  return hash('sha256', prefix + value, 'base64url');
}

/** Constant-time string comparison. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// Random bytes are drawn from the CSPRNG 4 KiB at a time, as node's randomUUID does: one call per few
// hundred tokens instead of one each (token issuance takes three). No byte is handed out twice, and the
// bytes handed out are zeroed in the pool at once, so a secret made from them is not kept there.
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `bytes` random bytes (1 to 256) as base64url: codes, secrets, opaque claim values. */
export function randomToken(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError(`randomToken takes 1 to 256 bytes, got ${bytes}`);
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const text = pool.toString('base64url', poolOffset, poolOffset + bytes);
  pool.fill(0, poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return text;
}

export const newId = (): string => randomUUID();

/**
 * A UUID version 7 (RFC 9562 §5.7): the first 48 bits are the time in milliseconds, the rest random.
 * Log rows use it as their key so that each insert lands at the end of the key's B-tree instead of a
 * random page of it (a random key made the access log's inserts 2.5 times as costly at 200,000 rows).
 */
export function timeOrderedId(ms: number): string {
  const r = randomUUID();
  const t = Math.max(0, Math.min(Math.trunc(ms), 0xffff_ffff_ffff))
    .toString(16)
    .padStart(12, '0');
  // randomUUID's variant bits (position 19) are already RFC 9562's; only the version nibble changes.
  return `${t.slice(0, 8)}-${t.slice(8)}-7${r.slice(15)}`;
}

/** A GUID in its 8-4-4-4-12 hex form, any case: the one pattern for object, tenant and app ids. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isGuid(value: unknown): boolean {
  return typeof value === 'string' && GUID.test(value);
}
