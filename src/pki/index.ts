import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

// A small X.509 toolkit: the local CA, serving and client certificates, self-signed signing-key
// certificates. RSA-2048 with SHA-256 throughout, for the widest client support (Go, Python, Node).

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const subtle = webcrypto.subtle;
const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
  certDer: Buffer;
}
export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'both';
  days?: number;
}
export interface CertificateAuthority extends CertificateAndKey {
  issue(opts: IssueOptions): Promise<CertificateAndKey>;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return subtle.generateKey({ ...ALG, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }, true, [
    'sign',
    'verify',
  ]) as Promise<CryptoKeyPair>;
}

async function keysFromPem(privateKeyPem: string): Promise<CryptoKeyPair> {
  const priv = createPrivateKey(privateKeyPem);
  const pkcs8 = priv.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  return {
    privateKey: (await subtle.importKey('pkcs8', pkcs8, ALG, true, ['sign'])) as unknown as CryptoKey,
    publicKey: (await subtle.importKey('spki', spki, ALG, true, ['verify'])) as unknown as CryptoKey,
  };
}

async function privatePem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/**
 * A random positive serial of 16 bytes (RFC 5280 §4.1.2.2), the first byte 0x40–0x7f: always 16
 * significant bytes. (Clearing only the top bit let one serial in 128 begin with 0x00, which DER drops:
 * still a valid serial, but of 15 bytes and of any leading digit.)
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return bytes.toString('hex');
}

function name(commonName: string, organizations: string[] = []): string {
  const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${esc(commonName)}`, ...organizations.map((o) => `O=${esc(o)}`)].join(', ');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 5 * 60 * 1000), notAfter: new Date(now + days * DAY) };
}

function toResult(cert: x509.X509Certificate, keyPem: string): CertificateAndKey {
  return { certPem: `${cert.toString('pem')}\n`, keyPem, certDer: Buffer.from(cert.rawData) };
}

function authority(caCert: x509.X509Certificate, caKeys: CryptoKeyPair, keyPem: string): CertificateAuthority {
  return {
    ...toResult(caCert, keyPem),
    async issue(opts: IssueOptions): Promise<CertificateAndKey> {
      const keys = await generateKeys();
      const eku =
        opts.usage === 'server'
          ? [x509.ExtendedKeyUsage.serverAuth]
          : opts.usage === 'client'
            ? [x509.ExtendedKeyUsage.clientAuth]
            : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
      const san = [
        ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
      ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: name(opts.commonName, opts.organizations),
        issuer: caCert.subject,
        ...validity(opts.days ?? (opts.usage === 'client' ? 365 : 825)),
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension(eku, false),
          ...(san.length ? [new x509.SubjectAlternativeNameExtension(san, false)] : []),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
        ],
      });
      return toResult(cert, await privatePem(keys.privateKey));
    },
  };
}

export async function createCertificateAuthority(commonName: string, days = 3650): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: name(commonName),
    ...validity(days),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return authority(cert, keys, await privatePem(keys.privateKey));
}

export async function loadCertificateAuthority(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  return authority(new x509.X509Certificate(certPem), await keysFromPem(keyPem), keyPem);
}

/** Loads `<dir>/ca.pem` and `<dir>/ca-key.pem`, or creates them (the key file mode 0600). */
export async function loadOrCreateCertificateAuthority(dir: string, commonName: string): Promise<CertificateAuthority> {
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  if (existsSync(certFile) && existsSync(keyFile))
    return loadCertificateAuthority(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority(commonName);
  writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
  writeFileSync(certFile, ca.certPem);
  return ca;
}

/** A self-signed leaf certificate (not a CA); with `privateKeyPem`, for that key. */
export async function createSelfSignedCertificate(opts: {
  commonName: string;
  days?: number;
  privateKeyPem?: string;
}): Promise<CertificateAndKey> {
  const keys = opts.privateKeyPem ? await keysFromPem(opts.privateKeyPem) : await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: name(opts.commonName),
    ...validity(opts.days ?? 365),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return toResult(cert, opts.privateKeyPem ?? (await privatePem(keys.privateKey)));
}

/** base64url SHA-1 and SHA-256 of the DER: the JOSE `x5t` and `x5t#S256`. */
export function certificateThumbprints(certDer: Buffer): { sha1: string; sha256: string } {
  return {
    sha1: createHash('sha1').update(certDer).digest('base64url'),
    sha256: createHash('sha256').update(certDer).digest('base64url'),
  };
}

/** True when `certPem` was signed by the CA and is within its validity period. */
export async function verifyIssuedBy(certPem: string, ca: { certPem: string }): Promise<boolean> {
  const cert = new NodeX509(certPem);
  const issuer = new NodeX509(ca.certPem);
  const now = Date.now();
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey) && Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}
