import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeloginError } from './options.cjs';

// --pop-enabled: proof-of-possession tokens as upstream kubelogin builds them (pkg/internal/pop): an RSA-2048
// key kept in the cache dir (`pop_rsa_key.cache`, PKCS#1 PEM, 0600), `req_cnf` naming its RFC 7638
// thumbprint on the token request, and the access token wrapped in a SignedHttpRequest signed with it.
// Node built-ins only: this runs on the cache-hit path.

export interface PopKey {
  key: KeyObject;
  /** RFC 7638 thumbprint (base64url SHA-256 of {"e","kty","n"}); also the key id. */
  kid: string;
  e: string;
  n: string;
}

function fromPrivateKey(key: KeyObject): PopKey {
  const jwk = key.export({ format: 'jwk' }) as { e: string; n: string };
  const kid = createHash('sha256').update(`{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`).digest('base64url');
  return { key, kid, e: jwk.e, n: jwk.n };
}

/** The cache dir's PoP key, made on first use. Parallel first uses agree on one file (the first to create it wins). */
export function popKey(cacheDir: string): PopKey {
  const file = join(cacheDir, 'pop_rsa_key.cache');
  try {
    return fromPrivateKey(createPrivateKey(readFileSync(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new KubeloginError(
        `failed to read the PoP key ${file}: ${(err as Error).message}; remove it (kubelogin remove-cache-dir) to make a new one`,
      );
  }
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  try {
    writeFileSync(file, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    return fromPrivateKey(privateKey);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return fromPrivateKey(createPrivateKey(readFileSync(file, 'utf8')));
    throw err;
  }
}

/** `req_cnf`: base64url of {"kid":"<thumbprint>","xms_ksl":"sw"}, as upstream's getReqCnf. */
export function reqCnf(k: PopKey): string {
  return Buffer.from(`{"kid":"${k.kid}","xms_ksl":"sw"}`).toString('base64url');
}

/**
 * The `u` claim from --pop-claims (`u=<ARM ID>[,key=value…]`), with upstream's errors. Upstream uses only
 * `u`; the other claims are checked for their shape and otherwise left out.
 */
export function popHost(popClaims: string): string {
  if (!popClaims.trim()) throw new KubeloginError('failed to parse PoP token claims: no claims provided');
  const claims = new Map<string, string>();
  for (const pair of popClaims.split(',')) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (eq < 1 || !key || !value)
      throw new KubeloginError('failed to parse PoP token claims. Ensure the claims are formatted as `key=value` with no extra whitespace');
    claims.set(key, value);
  }
  const u = claims.get('u');
  if (!u)
    throw new KubeloginError(
      'required u-claim not provided for PoP token flow. Please provide the ARM ID of the cluster in the format `u=<ARM_ID>`',
    );
  return u;
}

/** The key id (`cnf.kid`) an access token is bound to, if any. */
export function boundKeyId(accessToken: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { cnf?: { kid?: unknown } };
    return typeof payload.cnf?.kid === 'string' ? payload.cnf.kid : undefined;
  } catch {
    return undefined;
  }
}

/** The SignedHttpRequest upstream's PoPAuthenticationScheme.FormatAccessToken builds, byte for byte in shape. */
export function signedHttpRequest(accessToken: string, host: string, k: PopKey, now = Date.now()): string {
  const header = Buffer.from(`{"typ":"pop","alg":"RS256","kid":"${k.kid}"}`).toString('base64url');
  const jwk = `{"e":"${k.e}","kty":"RSA","n":"${k.n}","alg":"RS256","kid":"${k.kid}"}`;
  const payload = Buffer.from(
    `{"at":${JSON.stringify(accessToken)},"ts":${Math.floor(now / 1000)},"u":${JSON.stringify(host)},"cnf":{"jwk":${jwk}},"nonce":"${randomUUID().replace(/-/g, '')}"}`,
  ).toString('base64url');
  const signature = sign('RSA-SHA256', Buffer.from(`${header}.${payload}`), k.key).toString('base64url');
  return `${header}.${payload}.${signature}`;
}
