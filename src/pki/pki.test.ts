import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  certificateThumbprints,
  createCertificateAuthority,
  createSelfSignedCertificate,
  loadCertificateAuthority,
  loadOrCreateCertificateAuthority,
  randomSerial,
  verifyIssuedBy,
  type CertificateAndKey,
} from './index.js';

// Interoperability, not round-trips: OpenSSL's own parser and verifier, Node's X509Certificate,
// and real TLS handshakes (server and client authentication) with the issued certificates.

const work = mkdtempSync(join(tmpdir(), 'kentra-pki-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let fileNo = 0;
function file(pem: string): string {
  const path = join(work, `${++fileNo}.pem`);
  writeFileSync(path, pem);
  return path;
}
function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function text(certPem: string): string {
  return openssl('x509', '-noout', '-text', '-in', file(certPem));
}
/** `openssl verify`: [exit ok, combined output]. */
function opensslVerify(caPem: string, certPem: string, ...extra: string[]): [boolean, string] {
  try {
    return [true, openssl('verify', ...extra, '-CAfile', file(caPem), file(certPem))];
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return [false, `${e.stdout ?? ''}${e.stderr ?? ''}`];
  }
}
/** The lines following an extension's header in `openssl x509 -text`. */
function extension(txt: string, header: string): { critical: boolean; value: string } | undefined {
  const lines = txt.split('\n');
  const i = lines.findIndex((l) => l.trim().startsWith(`${header}:`));
  if (i < 0) return undefined;
  return { critical: lines[i]!.includes('critical'), value: lines[i + 1]!.trim() };
}

const caPromise = createCertificateAuthority('Kentra Test CA');
const serverPromise = caPromise.then((ca) =>
  ca.issue({
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    usage: 'server',
  }),
);
const clientPromise = caPromise.then((ca) =>
  ca.issue({
    commonName: 'alice@example.com',
    organizations: ['system:masters', 'developers'],
    usage: 'client',
  }),
);

test('the CA certificate: critical CA:TRUE, keyCertSign and cRLSign, a subject key id, RSA-2048/SHA-256', async () => {
  const ca = await caPromise;
  const txt = text(ca.certPem);
  assert.deepEqual(extension(txt, 'X509v3 Basic Constraints'), { critical: true, value: 'CA:TRUE' });
  const ku = extension(txt, 'X509v3 Key Usage')!;
  assert.ok(ku.critical);
  assert.match(ku.value, /Certificate Sign/);
  assert.match(ku.value, /CRL Sign/);
  assert.match(extension(txt, 'X509v3 Subject Key Identifier')!.value, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
  assert.match(txt, /Signature Algorithm: sha256WithRSAEncryption/);
  assert.match(txt, /Public-Key: \(2048 bit\)/);
  assert.match(txt, /Subject: CN = Kentra Test CA/);
  // Valid for ten years by default, from five minutes ago.
  const node = new X509Certificate(ca.certPem);
  assert.equal(node.ca, true);
  assert.ok(node.verify(node.publicKey), 'self-signed');
  const from = Date.parse(node.validFrom);
  assert.ok(Date.now() - from > 4 * 60_000 && Date.now() - from < 6 * 60_000 + 1000, node.validFrom);
  const years = (Date.parse(node.validTo) - from) / (365.25 * 24 * 3600_000);
  assert.ok(years > 9.9 && years < 10.1, `${years}`);
  assert.deepEqual(Buffer.from(node.raw), ca.certDer);
  // The key is PKCS#8 PEM for the certificate's public key.
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(ca.keyPem);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(createPublicKey(key).equals(node.publicKey));
  assert.ok(opensslVerify(ca.certPem, ca.certPem)[0], 'openssl accepts the CA as a trust anchor');
});

test('serials are positive integers of 16 significant bytes, every time', () => {
  // One serial in 128 used to begin with 0x00, which DER drops: 15 bytes, any leading digit.
  for (let i = 0; i < 20_000; i++) {
    const s = randomSerial();
    assert.match(s, /^[4-7][0-9a-f]{31}$/, s);
  }
});

test('a server certificate: openssl verifies it and reads every extension (IPv6 SAN included)', async () => {
  const [ca, server] = await Promise.all([caPromise, serverPromise]);
  const [ok, out] = opensslVerify(ca.certPem, server.certPem, '-purpose', 'sslserver');
  assert.ok(ok, out);
  assert.ok(!opensslVerify(ca.certPem, server.certPem, '-purpose', 'sslclient')[0], 'not a client certificate');
  const txt = text(server.certPem);
  assert.match(txt, /Subject: CN = localhost\n/);
  assert.match(txt, /Issuer: CN = Kentra Test CA/);
  assert.deepEqual(extension(txt, 'X509v3 Basic Constraints'), { critical: true, value: 'CA:FALSE' });
  assert.equal(extension(txt, 'X509v3 Key Usage')!.value, 'Digital Signature, Key Encipherment');
  assert.equal(extension(txt, 'X509v3 Extended Key Usage')!.value, 'TLS Web Server Authentication');
  assert.equal(extension(txt, 'X509v3 Subject Alternative Name')!.value, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  // The authority key id is the CA's subject key id.
  assert.equal(
    extension(txt, 'X509v3 Authority Key Identifier')!.value.replace(/^keyid:/, ''),
    extension(text(ca.certPem), 'X509v3 Subject Key Identifier')!.value,
  );
  assert.match(txt, /Public-Key: \(2048 bit\)/);

  const node = new X509Certificate(server.certPem);
  assert.equal(node.ca, false);
  assert.ok(node.checkIssued(new X509Certificate(ca.certPem)));
  assert.equal(node.checkHost('localhost'), 'localhost');
  assert.equal(node.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(node.checkIP('::1'), '::1');
  assert.equal(node.checkHost('example.com'), undefined);
  assert.deepEqual(node.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  // Positive random serial; 825 days from five minutes ago by default.
  assert.match(node.serialNumber, /^[0-7][0-9A-F]*$/i);
  assert.ok(node.serialNumber.length >= 30, node.serialNumber);
  const from = Date.parse(node.validFrom);
  assert.ok(Date.now() - from > 4 * 60_000 && Date.now() - from < 6 * 60_000 + 1000, node.validFrom);
  assert.equal(Math.round((Date.parse(node.validTo) - from) / 86_400_000), 825);
  assert.ok(createPublicKey(server.keyPem).equals(node.publicKey));
});

test('a client certificate: CN plus one O per organization (Kubernetes groups), clientAuth, 365 days', async () => {
  const [ca, client] = await Promise.all([caPromise, clientPromise]);
  const [ok, out] = opensslVerify(ca.certPem, client.certPem, '-purpose', 'sslclient');
  assert.ok(ok, out);
  assert.ok(!opensslVerify(ca.certPem, client.certPem, '-purpose', 'sslserver')[0], 'not a server certificate');
  const txt = text(client.certPem);
  assert.match(txt, /Subject: CN = alice@example.com, O = system:masters, O = developers\n/);
  assert.equal(extension(txt, 'X509v3 Extended Key Usage')!.value, 'TLS Web Client Authentication');
  assert.equal(extension(txt, 'X509v3 Subject Alternative Name'), undefined);
  // The RFC 2253 form Go's and OpenSSL's readers use.
  const rfc2253 = openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', file(client.certPem)).trim();
  assert.equal(rfc2253, 'subject=O=developers,O=system:masters,CN=alice@example.com');
  const node = new X509Certificate(client.certPem);
  assert.equal(node.subject, 'CN=alice@example.com\nO=system:masters\nO=developers');
  const from = Date.parse(node.validFrom);
  assert.equal(Math.round((Date.parse(node.validTo) - from) / 86_400_000), 365);
});

test('usage "both" carries both extended key usages; days is honoured; odd characters in names survive', async () => {
  const ca = await caPromise;
  const both = await ca.issue({
    commonName: 'node, "one"',
    organizations: ['a+b=c'],
    dnsNames: ['a.example', '*.b.example'],
    usage: 'both',
    days: 30,
  });
  const txt = text(both.certPem);
  assert.equal(extension(txt, 'X509v3 Extended Key Usage')!.value, 'TLS Web Server Authentication, TLS Web Client Authentication');
  assert.equal(extension(txt, 'X509v3 Subject Alternative Name')!.value, 'DNS:a.example, DNS:*.b.example');
  assert.ok(opensslVerify(ca.certPem, both.certPem, '-purpose', 'sslserver')[0]);
  assert.ok(opensslVerify(ca.certPem, both.certPem, '-purpose', 'sslclient')[0]);
  // The raw attribute values, unescaped.
  const subject = openssl('x509', '-noout', '-subject', '-nameopt', 'sep_multiline,utf8', '-in', file(both.certPem));
  assert.equal(subject, 'subject=\n    CN=node, "one"\n    O=a+b=c\n');
  const node = new X509Certificate(both.certPem);
  assert.equal(Math.round((Date.parse(node.validTo) - Date.parse(node.validFrom)) / 86_400_000), 30);
});

function listen(server: https.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}
function get(url: string, options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

test('TLS: an https server with the issued certificate is trusted with the CA on localhost, 127.0.0.1 and ::1, and only with it', async (t) => {
  const [ca, server] = await Promise.all([caPromise, serverPromise]);
  const srv = https.createServer({ cert: server.certPem, key: server.keyPem }, (_req, res) => res.end('hello'));
  const port = await listen(srv, '::'); // dual-stack: IPv4 and IPv6
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  for (const host of ['localhost', '127.0.0.1', '[::1]']) {
    const res = await get(`https://${host}:${port}/`, { ca: ca.certPem });
    assert.deepEqual(res, { status: 200, body: 'hello' }, host);
    await assert.rejects(
      get(`https://${host}:${port}/`, {}),
      (err: NodeJS.ErrnoException) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      `${host} without the CA`,
    );
  }
  // A name the certificate does not carry is refused even with the CA.
  const other = await createCertificateAuthority('Another CA');
  await assert.rejects(
    get(`https://127.0.0.1:${port}/`, { ca: other.certPem }),
    (err: NodeJS.ErrnoException) => err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  );
  await assert.rejects(
    get(`https://127.0.0.1:${port}/`, { ca: ca.certPem, servername: 'example.com' }),
    (err: NodeJS.ErrnoException) => err.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
  );
  // OpenSSL's client agrees (s_client verifies the chain and the IP).
  // Asynchronously: the server runs in this process. -verify_return_error makes a failed verification a non-zero exit.
  const sClient = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', file(ca.certPem), '-verify_return_error', '-brief', ...args],
        { timeout: 10_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(`${stdout}${stderr}`)),
      );
      child.stdin!.end();
    });
  assert.match(await sClient(['-verify_ip', '127.0.0.1']), /Verification: OK/);
  await assert.rejects(sClient(['-verify_ip', '10.9.8.7']));
});

test('TLS: a client certificate is accepted by a server with requestCert and the CA; its subject reaches the server', async (t) => {
  const [ca, server, client] = await Promise.all([caPromise, serverPromise, clientPromise]);
  const srv = https.createServer(
    { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const socket = req.socket as import('node:tls').TLSSocket;
      const peer = socket.getPeerCertificate();
      res.end(JSON.stringify({ authorized: socket.authorized, cn: peer.subject.CN, o: peer.subject.O }));
    },
  );
  const port = await listen(srv, '127.0.0.1');
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const url = `https://127.0.0.1:${port}/`;
  const res = await get(url, { ca: ca.certPem, cert: client.certPem, key: client.keyPem });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { authorized: true, cn: 'alice@example.com', o: ['system:masters', 'developers'] });
  // No certificate, a certificate from another CA, or a server-only certificate: refused.
  await assert.rejects(get(url, { ca: ca.certPem }));
  const other = await createCertificateAuthority('Another CA');
  const foreign = await other.issue({ commonName: 'mallory', usage: 'client' });
  await assert.rejects(get(url, { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }));
  await assert.rejects(get(url, { ca: ca.certPem, cert: server.certPem, key: server.keyPem }));
});

test('loadOrCreateCertificateAuthority creates the directory and a 0600 key, then loads the same CA', async () => {
  const dir = join(work, 'nested', 'pki');
  const first = await loadOrCreateCertificateAuthority(dir, 'Kentra Local CA');
  assert.equal(statSync(join(dir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'ca.pem'), 'utf8'), first.certPem);
  assert.equal(readFileSync(join(dir, 'ca-key.pem'), 'utf8'), first.keyPem);
  assert.match(text(first.certPem), /Subject: CN = Kentra Local CA/);
  const second = await loadOrCreateCertificateAuthority(dir, 'ignored when present');
  assert.equal(second.certPem, first.certPem);
  assert.deepEqual(second.certDer, first.certDer);
  // The loaded CA issues certificates the created one's certificate verifies, with a matching AKI.
  const issued = await second.issue({ commonName: 'kube-apiserver', dnsNames: ['kubernetes.default.svc'], usage: 'server' });
  const [ok, out] = opensslVerify(first.certPem, issued.certPem);
  assert.ok(ok, out);
  assert.ok(await verifyIssuedBy(issued.certPem, first));
});

test('loadCertificateAuthority accepts the PEM pair (also an openssl-made CA) and issues verifiable certificates', async () => {
  const ca = await caPromise;
  const loaded = await loadCertificateAuthority(ca.certPem, ca.keyPem);
  assert.equal(loaded.certPem.trim(), ca.certPem.trim());
  assert.deepEqual(loaded.certDer, ca.certDer);
  // A CA made by openssl itself loads too.
  const keyFile = join(work, 'openssl-ca.key');
  const certFile = join(work, 'openssl-ca.pem');
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '30',
    '-subj',
    '/CN=OpenSSL CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const foreign = await loadCertificateAuthority(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'));
  const leaf = await foreign.issue({ commonName: 'x', dnsNames: ['x.example'], usage: 'server' });
  const [ok, out] = opensslVerify(readFileSync(certFile, 'utf8'), leaf.certPem, '-purpose', 'sslserver');
  assert.ok(ok, out);
  assert.match(text(leaf.certPem), /Issuer: CN = OpenSSL CA/);
});

test('createSelfSignedCertificate: a self-signed leaf, not a CA; with privateKeyPem, for that key', async () => {
  const own = await createSelfSignedCertificate({ commonName: 'signing key' });
  const node = new X509Certificate(own.certPem);
  assert.equal(node.ca, false);
  assert.equal(node.subject, 'CN=signing key');
  assert.equal(node.issuer, 'CN=signing key');
  assert.ok(node.verify(node.publicKey));
  assert.ok(createPublicKey(own.keyPem).equals(node.publicKey));
  assert.deepEqual(extension(text(own.certPem), 'X509v3 Basic Constraints'), { critical: true, value: 'CA:FALSE' });

  const ca = await caPromise; // any RSA key: reuse the CA's, no new keygen
  const withKey = await createSelfSignedCertificate({ commonName: 'rotated', days: 10, privateKeyPem: ca.keyPem });
  const n2 = new X509Certificate(withKey.certPem);
  assert.equal(withKey.keyPem, ca.keyPem);
  assert.ok(n2.publicKey.equals(new X509Certificate(ca.certPem).publicKey));
  assert.ok(n2.verify(n2.publicKey));
  assert.equal(n2.ca, false);
  assert.equal(Math.round((Date.parse(n2.validTo) - Date.parse(n2.validFrom)) / 86_400_000), 10);
  // A PKCS#8 key openssl generated works too.
  const keyFile = join(work, 'pkcs8.key');
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyFile);
  const pem = readFileSync(keyFile, 'utf8');
  const fromOpenssl = await createSelfSignedCertificate({ commonName: 'openssl key', privateKeyPem: pem });
  assert.ok(new X509Certificate(fromOpenssl.certPem).publicKey.equals(createPublicKey(pem)));
});

test('certificateThumbprints are the base64url SHA-1 and SHA-256 fingerprints openssl prints', async () => {
  const server: CertificateAndKey = await serverPromise;
  const prints = certificateThumbprints(server.certDer);
  const fp = (alg: string) =>
    Buffer.from(
      openssl('x509', '-noout', '-fingerprint', `-${alg}`, '-in', file(server.certPem)).trim().split('=')[1]!.replace(/:/g, ''),
      'hex',
    ).toString('base64url');
  assert.equal(prints.sha1, fp('sha1'));
  assert.equal(prints.sha256, fp('sha256'));
  assert.match(prints.sha1, /^[A-Za-z0-9_-]{27}$/);
  assert.match(prints.sha256, /^[A-Za-z0-9_-]{43}$/);
  const node = new X509Certificate(server.certPem);
  assert.equal(prints.sha256, Buffer.from(node.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'));
});

test('verifyIssuedBy: true for the issuer, false for another CA, a self-signed certificate or an expired one', async () => {
  const [ca, server, client] = await Promise.all([caPromise, serverPromise, clientPromise]);
  assert.equal(await verifyIssuedBy(server.certPem, ca), true);
  assert.equal(await verifyIssuedBy(client.certPem, { certPem: ca.certPem }), true);
  const other = await createCertificateAuthority('Kentra Test CA'); // same name, different key
  assert.equal(await verifyIssuedBy(server.certPem, other), false);
  const forged = await other.issue({ commonName: 'localhost', usage: 'server' });
  assert.equal(await verifyIssuedBy(forged.certPem, ca), false);
  const self = await createSelfSignedCertificate({ commonName: 'Kentra Test CA', privateKeyPem: other.keyPem });
  assert.equal(await verifyIssuedBy(self.certPem, ca), false);
  const expired = await ca.issue({ commonName: 'old', usage: 'client', days: -1 });
  assert.equal(await verifyIssuedBy(expired.certPem, ca), false);
  assert.ok(!opensslVerify(ca.certPem, expired.certPem)[0], 'openssl agrees it is expired');
});
