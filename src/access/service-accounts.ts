import { createHash, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { decodeJwt, signJwt, timeProblem, verifySignature, type DecodedJwt } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { NO_ANSWER, type AuthnResult, type TokenAuthenticator, type UserInfo } from './authn.js';

// Kubernetes service account tokens as the kube-apiserver issues them (TokenRequest, `kubectl create
// token`) and checks them (k8s.io/kubernetes pkg/serviceaccount: jwt.go, claims.go, openidmetadata.go).

/** A TokenRequest the kube-apiserver would refuse; the message reads as its field validation does. */
export class TokenRequestInvalidError extends Error {
  readonly code = 'TokenRequestInvalid';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'TokenRequestInvalidError';
  }
}

export interface BoundObjectRef {
  kind: 'Pod' | 'Secret';
  name: string;
  uid: string;
}

export interface IssueServiceAccountTokenOptions {
  /** The cluster's `--service-account-issuer`. */
  issuer: string;
  key: { privateKey: KeyObject; kid: string };
  namespace: string;
  name: string;
  /** The service account's `metadata.uid`. */
  uid: string;
  audiences: string[];
  expirationSeconds: number;
  /** Milliseconds since the epoch. */
  now: number;
  boundObject?: BoundObjectRef;
}

export interface ServiceAccountToken {
  token: string;
  /** RFC 3339 at seconds precision, as `TokenRequest.status.expirationTimestamp`. */
  expirationTimestamp: string;
}

const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;
const PREFIX = 'system:serviceaccount:';

export const serviceAccountUsername = (namespace: string, name: string): string => `${PREFIX}${namespace}:${name}`;

const rfc3339 = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function issueServiceAccountToken(opts: IssueServiceAccountTokenOptions): ServiceAccountToken {
  const required = (field: string, value: unknown) => {
    if (typeof value !== 'string' || value === '') throw new TokenRequestInvalidError(field, 'Required value');
  };
  required('issuer', opts.issuer);
  required('key.kid', opts.key?.kid);
  required('metadata.namespace', opts.namespace);
  required('metadata.name', opts.name);
  required('metadata.uid', opts.uid);
  if (!Array.isArray(opts.audiences) || opts.audiences.length === 0)
    throw new TokenRequestInvalidError('spec.audiences', 'Required value: at least one audience');
  opts.audiences.forEach((a, i) => required(`spec.audiences[${i}]`, a));
  const seconds = opts.expirationSeconds;
  if (!Number.isInteger(seconds))
    throw new TokenRequestInvalidError('spec.expirationSeconds', `Invalid value: ${String(seconds)}: must be a whole number of seconds`);
  if (seconds < MIN_EXPIRATION_SECONDS)
    throw new TokenRequestInvalidError(
      'spec.expirationSeconds',
      `Invalid value: ${seconds}: may not specify a duration less than 10 minutes`,
    );
  if (seconds > MAX_EXPIRATION_SECONDS)
    throw new TokenRequestInvalidError(
      'spec.expirationSeconds',
      `Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds`,
    );
  const bound = opts.boundObject;
  if (bound) {
    if (bound.kind !== 'Pod' && bound.kind !== 'Secret')
      throw new TokenRequestInvalidError(
        'spec.boundObjectRef.kind',
        `Unsupported value: "${String(bound.kind)}": supported values: "Pod", "Secret"`,
      );
    required('spec.boundObjectRef.name', bound.name);
    required('spec.boundObjectRef.uid', bound.uid);
  }

  const iat = Math.floor(opts.now / 1000);
  const exp = iat + seconds;
  const kubernetes: Record<string, unknown> = { namespace: opts.namespace, serviceaccount: { name: opts.name, uid: opts.uid } };
  if (bound) kubernetes[bound.kind === 'Pod' ? 'pod' : 'secret'] = { name: bound.name, uid: bound.uid };
  const claims = {
    aud: [...opts.audiences],
    exp,
    iat,
    iss: opts.issuer,
    jti: randomUUID(),
    'kubernetes.io': kubernetes,
    nbf: iat,
    sub: serviceAccountUsername(opts.namespace, opts.name),
  };
  return { token: signJwt({ alg: 'RS256', kid: opts.key.kid }, claims, opts.key.privateKey), expirationTimestamp: rfc3339(exp) };
}

/** The kube-apiserver's key ID: base64url (unpadded) of the SHA-256 of the DER SubjectPublicKeyInfo. */
export function serviceAccountKeyId(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('base64url');
}

export interface ServiceAccountSigningKey {
  privateKeyPem: string;
  publicKeyPem: string;
  kid: string;
}

const generateRsa = promisify(generateKeyPair);

/** A fresh RSA-2048 signing key (asynchronous: generation takes long enough to stall a server). */
export async function serviceAccountSigningKey(): Promise<ServiceAccountSigningKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    kid: serviceAccountKeyId(publicKey),
  };
}

export interface ServiceAccountJwk {
  kty: 'RSA';
  alg: 'RS256';
  use: 'sig';
  kid: string;
  n: string;
  e: string;
}

/** The document `/openid/v1/jwks` serves. */
export function serviceAccountJwks(publicKeys: { publicKeyPem: string; kid: string }[]): { keys: ServiceAccountJwk[] } {
  return {
    keys: publicKeys.map(({ publicKeyPem, kid }) => {
      const key = createPublicKey(publicKeyPem);
      if (key.asymmetricKeyType !== 'rsa') throw new Error(`service account key "${kid}" is not an RSA key`);
      const { n, e } = key.export({ format: 'jwk' });
      return { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: n!, e: e! };
    }),
  };
}

export interface ServiceAccountOidcDiscovery {
  issuer: string;
  jwks_uri: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
}

/** The document `/.well-known/openid-configuration` serves. */
export function serviceAccountOidcDiscovery(issuer: string, jwksUri: string): ServiceAccountOidcDiscovery {
  return {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

export interface ServiceAccountAuthenticatorOptions {
  issuer: string;
  publicKey(kid: string): KeyObject | undefined | Promise<KeyObject | undefined>;
  /** The kube-apiserver's `--api-audiences`: what a token must be for when the request names none. */
  apiAudiences: string[];
  clock: Clock;
  serviceAccount(namespace: string, name: string): Promise<{ uid: string } | null>;
  /** The live pod or secret a bound token names; when absent, bound objects are not checked. */
  boundObject?(kind: 'Pod' | 'Secret', namespace: string, name: string): Promise<{ uid: string } | null>;
}

/** Leeway on `exp` and `nbf`: go-jose's default, which the kube-apiserver uses. */
const LEEWAY_SECONDS = 60;

const fail = (message: string): AuthnResult => ({ kind: 'error', message });

interface Ref {
  name: string;
  uid: string;
}
const isRef = (v: unknown): v is Ref =>
  !!v &&
  typeof v === 'object' &&
  typeof (v as Ref).name === 'string' &&
  (v as Ref).name !== '' &&
  typeof (v as Ref).uid === 'string' &&
  (v as Ref).uid !== '';

export function serviceAccountAuthenticator(opts: ServiceAccountAuthenticatorOptions): TokenAuthenticator {
  return async ({ token, audiences: requested }) => {
    let jwt: DecodedJwt;
    try {
      jwt = decodeJwt(token);
    } catch {
      return NO_ANSWER;
    } // not a JWT: the static admin token, perhaps
    const claims = jwt.payload;
    if (claims.iss !== opts.issuer) return NO_ANSWER; // an Entra token, or another cluster's

    if (jwt.header.alg !== 'RS256') return fail(`service account token: the signing algorithm "${String(jwt.header.alg)}" is not accepted`);
    const kid = jwt.header.kid;
    const key = typeof kid === 'string' ? await opts.publicKey(kid) : undefined;
    if (!key) return fail(`service account token: no signing key with kid "${String(kid)}"`);
    try {
      verifySignature(jwt, key);
    } catch {
      return fail('service account token: the signature is invalid');
    }

    const time = timeProblem(claims, Math.floor(opts.clock.now() / 1000), LEEWAY_SECONDS);
    if (time === 'expired')
      return fail(typeof claims.exp === 'number' ? 'service account token has expired' : 'service account token has no exp claim');
    if (time === 'not_yet_valid') return fail('service account token is not valid yet');

    const tokenAudiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter((a): a is string => typeof a === 'string');
    const targets = requested && requested.length > 0 ? requested : opts.apiAudiences;
    if (!tokenAudiences.some((a) => targets.includes(a))) {
      return fail(`token audiences ${JSON.stringify(tokenAudiences)} is invalid for the target audiences ${JSON.stringify(targets)}`);
    }

    const k8s = claims['kubernetes.io'] as Record<string, unknown> | undefined;
    const namespace = k8s?.namespace;
    const sa = k8s?.serviceaccount;
    if (typeof namespace !== 'string' || namespace === '' || !isRef(sa) || claims.sub !== serviceAccountUsername(namespace, sa.name)) {
      return fail('service account token: the kubernetes.io and sub claims are missing or do not agree');
    }
    const pod = k8s!.pod;
    const secret = k8s!.secret;
    if ((pod !== undefined && !isRef(pod)) || (secret !== undefined && !isRef(secret)))
      return fail('service account token: the bound object claim is malformed');

    try {
      // Bound objects first, as upstream does: a token outlives neither its pod nor its secret.
      for (const [kind, ref] of [
        ['Secret', secret],
        ['Pod', pod],
      ] as const) {
        if (!ref || !opts.boundObject) continue;
        const live = await opts.boundObject(kind, namespace, ref.name);
        const noun = kind.toLowerCase();
        if (!live) return fail(`${noun} ${namespace}/${ref.name} has been deleted`);
        if (live.uid !== ref.uid) return fail(`${noun} UID (${live.uid}) does not match claim (${ref.uid})`);
      }
      const account = await opts.serviceAccount(namespace, sa.name);
      if (!account) return fail(`service account ${namespace}/${sa.name} has been deleted`);
      if (account.uid !== sa.uid) {
        return fail(
          `service account UID (${account.uid}) does not match claim (${sa.uid}): the token was issued to an earlier service account of that name`,
        );
      }
    } catch (err) {
      return fail(
        `service account token: could not look up service account ${namespace}/${sa.name} or its bound object: ${(err as Error).message}`,
      );
    }

    const extra: Record<string, string[]> = {};
    if (typeof claims.jti === 'string' && claims.jti !== '') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
    if (pod) {
      extra['authentication.kubernetes.io/pod-name'] = [pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [pod.uid];
    }
    const user: UserInfo = {
      username: serviceAccountUsername(namespace, sa.name),
      uid: sa.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
      extra,
    };
    return { kind: 'user', user, expiresAt: (claims.exp as number) * 1000 };
  };
}
