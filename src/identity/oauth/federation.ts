import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { fetchJson } from '../../shared/https-json.js';
import { publicKeyFromJwk } from '../tokens/jwt.js';

// Signing keys of external issuers named by federated identity credentials (a Kubernetes cluster's
// service-account issuer, GitHub Actions…), found by OIDC discovery and cached per issuer.

interface IssuerKeys {
  keys: Map<string, KeyObject>;
  fetchedAt: number;
}

const cache = new Map<string, IssuerKeys>();
const TTL_MS = 5 * 60_000;
const MIN_REFETCH_MS = 10_000;

function getJson(url: string, extraCaPem?: string): Promise<unknown> {
  // Without an extra CA the default store is used (with NODE_EXTRA_CA_CERTS); with one, it is added to them.
  const extraFile = process.env.NODE_EXTRA_CA_CERTS;
  const ca = extraCaPem ? [...rootCertificates, extraCaPem, ...(extraFile ? [readFileSync(extraFile, 'utf8')] : [])] : undefined;
  return fetchJson(url, { ...(ca ? { ca } : {}), timeoutMs: 10_000, maxBytes: 1024 * 1024 });
}

async function fetchKeys(issuer: string, extraCaPem?: string): Promise<IssuerKeys> {
  const config = (await getJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, extraCaPem)) as {
    jwks_uri?: unknown;
  } | null;
  if (typeof config?.jwks_uri !== 'string') throw new Error(`the OpenID configuration of ${issuer} has no jwks_uri`);
  const jwks = (await getJson(config.jwks_uri, extraCaPem)) as { keys?: unknown } | null;
  const keys = new Map<string, KeyObject>();
  for (const jwk of Array.isArray(jwks?.keys) ? (jwks.keys as Record<string, unknown>[]) : []) {
    if (jwk?.kty === 'RSA' && typeof jwk.n === 'string' && typeof jwk.e === 'string')
      keys.set(String(jwk.kid ?? ''), publicKeyFromJwk({ kty: 'RSA', n: jwk.n, e: jwk.e }));
  }
  return { keys, fetchedAt: Date.now() };
}

/** The issuer's key for `kid`, refetching (at most every 10 s) when the kid is unknown. */
export async function federatedSigningKey(issuer: string, kid: unknown, extraCaPem?: string): Promise<KeyObject> {
  let entry = cache.get(issuer);
  const id = String(kid ?? '');
  const stale = !entry || Date.now() - entry.fetchedAt > TTL_MS;
  const unknown = entry && !entry.keys.has(id) && Date.now() - entry.fetchedAt > MIN_REFETCH_MS;
  if (stale || unknown) {
    try {
      entry = await fetchKeys(issuer, extraCaPem);
      cache.set(issuer, entry);
    } catch (err) {
      if (!entry)
        throw new Error(`the signing keys of the issuer ${issuer} could not be fetched: ${(err as Error).message}`, { cause: err });
    }
  }
  const key = entry!.keys.get(id) ?? (entry!.keys.size === 1 && !kid ? [...entry!.keys.values()][0] : undefined);
  if (!key) throw new Error(`the issuer ${issuer} has no signing key '${id}'`);
  return key;
}
