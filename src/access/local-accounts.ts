import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import { NO_ANSWER, type AuthnResult, type TokenAuthenticator, type UserInfo } from './authn.js';
import { Lru } from '../shared/lru.js';

// AKS's local accounts: the `az aks get-credentials --admin` kubeconfig carries a client certificate
// from the cluster's own CA (CN=masterclient, O=system:masters) and a static token (user clusterAdmin).
// Both stop working when the cluster has `disableLocalAccounts`.

export const LOCAL_ACCOUNTS_DISABLED = 'local accounts are disabled for this cluster';

/** The user AKS's static admin token names. */
export const LOCAL_ADMIN_USER: UserInfo = Object.freeze({
  username: 'clusterAdmin',
  uid: '',
  groups: Object.freeze(['system:masters']) as string[],
  extra: Object.freeze({}) as Record<string, string[]>,
});

const copyOf = (user: UserInfo): UserInfo => ({
  username: user.username,
  uid: user.uid,
  groups: [...user.groups],
  extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])),
});

export interface ClientCertificateAuthenticatorOptions {
  /** The cluster CA; null when the cluster has none, so no certificate is a credential. */
  caPem: string | null;
  localAccountsDisabled: boolean;
  clock: Clock;
}

export type ClientCertificateAuthenticator = (peer: X509Certificate | undefined) => AuthnResult;

/** What stays true of a certificate however often it is presented; the time checks are redone each call. */
type Examined =
  { issuedHere: false } | { issuedHere: true; notBefore: number; notAfter: number; isCa: boolean; clientUsage: boolean; user: UserInfo };

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_USAGE = '2.5.29.37.0';
export const MAX_CACHED_CERTIFICATES = 1024;

/** A subject attribute as Go's pkix.Name reads it: every value, in order. */
function subjectValues(cert: X509Certificate, attribute: string): string[] {
  const value = (cert.toLegacyObject().subject as Record<string, string | string[] | undefined>)[attribute];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** As the kube-apiserver's x509 authenticator: user = subject CN, groups = subject O values. */
export function clientCertificateAuthenticator(opts: ClientCertificateAuthenticatorOptions): ClientCertificateAuthenticator {
  const ca = opts.caPem === null ? null : new X509Certificate(opts.caPem);
  const caNotBefore = ca ? Date.parse(ca.validFrom) : 0;
  const caNotAfter = ca ? Date.parse(ca.validTo) : 0;
  // kubectl presents the same certificate on every connection: verify its signature once (for the
  // last MAX_CACHED_CERTIFICATES certificates seen, so a client sending ever new ones cannot grow it).
  const examined = new Lru<string, Examined>(MAX_CACHED_CERTIFICATES);

  const examine = (cert: X509Certificate): Examined => {
    if (!ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return { issuedHere: false };
    const usages = cert.keyUsage; // the extended key usages; undefined when the certificate sets none
    const commonNames = subjectValues(cert, 'CN');
    return {
      issuedHere: true,
      notBefore: Date.parse(cert.validFrom),
      notAfter: Date.parse(cert.validTo),
      isCa: cert.ca,
      clientUsage: !usages || usages.includes(CLIENT_AUTH) || usages.includes(ANY_USAGE),
      user: { username: commonNames.at(-1) ?? '', uid: '', groups: subjectValues(cert, 'O'), extra: {} },
    };
  };

  return (peer) => {
    if (!peer || !ca) return NO_ANSWER;
    let facts = examined.get(peer.fingerprint256);
    if (!facts) {
      facts = examine(peer);
      examined.set(peer.fingerprint256, facts);
    }
    // The TLS listener is shared: a certificate from another CA is simply not a credential here.
    if (!facts.issuedHere) return NO_ANSWER;
    if (facts.user.username === '') return NO_ANSWER; // upstream: a certificate without a CN names no one
    const now = opts.clock.now();
    if (now < facts.notBefore || now > facts.notAfter || now < caNotBefore || now > caNotAfter) {
      return { kind: 'error', message: 'x509: certificate has expired or is not yet valid' };
    }
    // Go would accept the CA presented as its own leaf; only the CA key's holder can, and a CA is no one's identity.
    if (facts.isCa) return { kind: 'error', message: 'x509: a CA certificate is not a client certificate' };
    if (!facts.clientUsage) return { kind: 'error', message: 'x509: certificate specifies an incompatible key usage' };
    if (opts.localAccountsDisabled) return { kind: 'error', message: LOCAL_ACCOUNTS_DISABLED };
    return { kind: 'user', user: copyOf(facts.user), expiresAt: Math.min(facts.notAfter, caNotAfter) };
  };
}

export interface StaticTokenAuthenticatorOptions {
  token: string;
  user: UserInfo;
  disabled: boolean;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The static token of a local account; compared on SHA-256 digests so neither content nor length leaks. */
export function staticTokenAuthenticator(opts: StaticTokenAuthenticatorOptions): TokenAuthenticator {
  if (!opts.token) throw new Error('a static token must not be empty');
  const expected = digest(opts.token);
  const user = copyOf(opts.user);
  return async ({ token }) => {
    if (typeof token !== 'string' || !timingSafeEqual(digest(token), expected)) return NO_ANSWER;
    if (opts.disabled) return { kind: 'error', message: LOCAL_ACCOUNTS_DISABLED };
    return { kind: 'user', user: copyOf(user) };
  };
}
