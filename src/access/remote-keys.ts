import type { KeyObject } from 'node:crypto';
import { publicKeyFromJwk } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { fetchJson, HttpsJsonError } from '../shared/https-json.js';
import type { KeySource } from './entra.js';

// Signing keys from a tenant's published JWKS, for the access layer running beside a remote Kentra
// (or in front of a real API server far from it). Keys are kept in memory; a token signed with a
// kid not seen yet triggers one refetch (rollover: Kentra publishes the next key days before it
// signs with it), at most once per `minRefetchIntervalMs`, so a stream of forged kids cannot turn
// into a stream of requests. Concurrent refetches share one request.

export interface RemoteKeySourceOptions {
  /** e.g. `https://kentra.example:8443/<tenant>/discovery/v2.0/keys` */
  jwksUri: string;
  clock: Clock;
  /** Extra CA (PEM) to trust for the JWKS endpoint; the system store otherwise. */
  caPem?: string;
  minRefetchIntervalMs?: number;
  timeoutMs?: number;
}

/** The most signing keys kept from one JWKS document (Entra publishes a few; Kentra two or three). */
export const MAX_REMOTE_KEYS = 64;

export interface RemoteKeySource extends KeySource {
  /** How many times the JWKS has been fetched (for tests and metrics). */
  fetches(): number;
}

async function getJson(url: string, caPem: string | undefined, timeoutMs: number): Promise<unknown> {
  try {
    return await fetchJson(url, { ...(caPem ? { ca: caPem } : {}), timeoutMs, maxBytes: 1024 * 1024 });
  } catch (err) {
    if (!(err instanceof HttpsJsonError)) throw err;
    if (err.code === 'status') throw new Error(`the JWKS endpoint answered ${err.status}`, { cause: err });
    if (err.code === 'parse') throw new Error('the JWKS endpoint did not answer JSON', { cause: err });
    if (err.code === 'timeout') throw new Error('the JWKS endpoint did not answer in time', { cause: err });
    throw err;
  }
}

export function remoteKeySource(opts: RemoteKeySourceOptions): RemoteKeySource {
  const minInterval = opts.minRefetchIntervalMs ?? 10_000;
  let keys = new Map<string, KeyObject>();
  let lastFetch = -Infinity;
  let count = 0;
  let inflight: Promise<void> | null = null;

  const refresh = () => {
    inflight ??= (async () => {
      lastFetch = opts.clock.now();
      count++;
      try {
        const doc = (await getJson(opts.jwksUri, opts.caPem, opts.timeoutMs ?? 5_000)) as {
          keys?: { kid?: string; kty?: string; n?: string; e?: string; use?: string }[];
        };
        const next = new Map<string, KeyObject>();
        // A tenant publishes a handful of keys; a document with more is cut at MAX_REMOTE_KEYS.
        for (const k of (Array.isArray(doc.keys) ? doc.keys : []).slice(0, MAX_REMOTE_KEYS)) {
          if (k.kty !== 'RSA' || typeof k.kid !== 'string' || !k.n || !k.e || (k.use && k.use !== 'sig')) continue;
          try {
            next.set(k.kid, publicKeyFromJwk({ kty: 'RSA', n: k.n, e: k.e }));
          } catch {
            /* a malformed key is skipped */
          }
        }
        keys = next;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  };

  return {
    fetches: () => count,
    async publicKey(kid) {
      const known = keys.get(kid);
      if (known) return known;
      if (opts.clock.now() - lastFetch < minInterval && !inflight) return undefined;
      try {
        await refresh();
      } catch {
        return undefined;
      } // unreachable JWKS: the token fails verification
      return keys.get(kid);
    },
  };
}
