import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

// The token cache: one file per (authority, tenant, client, scope, login mode, identity), so several
// clusters, tenants and accounts live side by side. Files are 0600, written atomically (temp + rename),
// with no keyring. A lock file makes parallel kubectl processes share one sign-in.

export interface CacheEntry {
  accessToken: string;
  /** Seconds since the epoch. */
  expiresOn: number;
  refreshToken?: string;
  /** The tenant the refresh token was issued in. */
  tenantId?: string;
  username?: string;
}

export interface CacheKey {
  authority: string;
  tenantId: string;
  clientId: string;
  scope: string;
  loginMethod: string;
  identity: string;
}

export function cacheFile(dir: string, key: CacheKey): string {
  const id = createHash('sha256')
    .update(
      JSON.stringify([
        key.authority.toLowerCase(),
        key.tenantId.toLowerCase(),
        key.clientId.toLowerCase(),
        key.scope,
        key.loginMethod,
        key.identity,
      ]),
    )
    .digest('hex')
    .slice(0, 32);
  return join(dir, `${key.loginMethod}-${id}.json`);
}

export function readEntry(file: string): CacheEntry | null {
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as CacheEntry;
    return typeof entry.accessToken === 'string' && typeof entry.expiresOn === 'number' ? entry : null;
  } catch {
    return null;
  }
}

export function writeEntry(dir: string, file: string, entry: CacheEntry): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeEntry(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/** Tokens closer than this to expiry are refreshed rather than handed to kubectl. */
export const RENEW_BEFORE_SECONDS = 300;

export function usable(entry: CacheEntry | null, nowSeconds: number): entry is CacheEntry {
  return !!entry && entry.expiresOn - RENEW_BEFORE_SECONDS > nowSeconds;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Holds `<file>.lock` while `fn` runs. A lock older than `staleMs` (a crashed holder) is broken.
 * Waits up to `timeoutMs` for another process to finish.
 */
export async function withLock<T>(file: string, dir: string, timeoutMs: number, staleMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > staleMs) {
          unlinkSync(lock);
          continue;
        }
      } catch {
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for another kubelogin to finish signing in (lock ${lock})`, { cause: err });
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* removed as stale by someone else */
    }
  }
}
