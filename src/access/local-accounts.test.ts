import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { createCertificateAuthority, createSelfSignedCertificate, type CertificateAuthority } from '../pki/index.js';
import {
  authenticatorChain,
  clientCertificateAuthenticator,
  LOCAL_ACCOUNTS_DISABLED,
  LOCAL_ADMIN_USER,
  staticTokenAuthenticator,
  type AuthnResult,
} from './index.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const EXPIRED = 'x509: certificate has expired or is not yet valid';
const MASTERCLIENT = { username: 'masterclient', uid: '', groups: ['system:masters'], extra: {} };

describe('access: AKS local accounts', () => {
  describe('client certificates from the cluster CA', () => {
    let ca: CertificateAuthority;
    let lookalike: CertificateAuthority;
    let master: X509Certificate;
    let now = Date.now();
    const clock = { now: () => now };
    const authn = (localAccountsDisabled = false, caPem: string | null = ca.certPem) =>
      clientCertificateAuthenticator({ caPem, localAccountsDisabled, clock });

    before(async () => {
      [ca, lookalike] = await Promise.all([
        createCertificateAuthority('kentra-cluster-ca'),
        createCertificateAuthority('kentra-cluster-ca'),
      ]);
      master = new X509Certificate(
        (await ca.issue({ commonName: 'masterclient', organizations: ['system:masters'], usage: 'client' })).certPem,
      );
    });

    it('names the user by CN and the groups by every O, until the certificate ends', async () => {
      now = Date.now();
      const check = authn();
      assert.deepEqual(check(master), { kind: 'user', user: MASTERCLIENT, expiresAt: Date.parse(master.validTo) });
      const team = new X509Certificate(
        (await ca.issue({ commonName: 'alice', organizations: ['system:masters', 'team-a'], usage: 'both' })).certPem,
      );
      assert.deepEqual((check(team) as Extract<AuthnResult, { kind: 'user' }>).user, {
        username: 'alice',
        uid: '',
        groups: ['system:masters', 'team-a'],
        extra: {},
      });
      const nobody = new X509Certificate((await ca.issue({ commonName: 'kubelet', usage: 'client' })).certPem);
      assert.deepEqual((check(nobody) as Extract<AuthnResult, { kind: 'user' }>).user.groups, []);
    });

    it('gives no answer without a certificate, without a CA, for a certificate the CA did not sign, or one naming no one', async () => {
      now = Date.now();
      const check = authn();
      assert.deepEqual(check(undefined), { kind: 'none' });
      assert.deepEqual(authn(false, null)(master), { kind: 'none' });
      const forged = new X509Certificate(
        (await lookalike.issue({ commonName: 'masterclient', organizations: ['system:masters'], usage: 'client' })).certPem,
      );
      assert.equal(forged.issuer, master.issuer, 'same issuer name, another key');
      assert.deepEqual(check(forged), { kind: 'none' });
      assert.deepEqual(check(forged), { kind: 'none' }, 'and again, from the cache');
      const tampered = Buffer.from(master.raw);
      tampered[tampered.length - 1] ^= 0x01; // the last byte of the signature
      const badSignature = new X509Certificate(tampered);
      assert.equal(badSignature.checkIssued(new X509Certificate(ca.certPem)), true, 'names and key identifiers still match');
      assert.deepEqual(check(badSignature), { kind: 'none' });
      const selfSigned = new X509Certificate((await createSelfSignedCertificate({ commonName: 'masterclient' })).certPem);
      assert.deepEqual(check(selfSigned), { kind: 'none' });
      assert.deepEqual(authn(true)(forged), { kind: 'none' }, 'not ours to refuse even when local accounts are off');
      const noName = new X509Certificate((await ca.issue({ commonName: '', organizations: ['system:masters'], usage: 'client' })).certPem);
      assert.deepEqual(check(noName), { kind: 'none' }, 'a certificate with an empty CN names no one, as upstream');
    });

    it('refuses an expired or not yet valid certificate, judged at each call even once its signature is cached', () => {
      const check = authn();
      now = Date.now();
      assert.equal(check(master).kind, 'user');
      now = Date.parse(master.validTo) + 1000;
      assert.deepEqual(check(master), { kind: 'error', message: EXPIRED });
      now = Date.parse(master.validFrom) - HOUR;
      assert.deepEqual(
        check(new X509Certificate(master.raw)),
        { kind: 'error', message: EXPIRED },
        'the same certificate on a new connection',
      );
      now = Date.now();
      assert.equal(check(master).kind, 'user');
    });

    it('refuses a certificate that outlives an expired CA, one not meant for client authentication, and the CA itself', async () => {
      now = Date.now();
      const shortCa = await createCertificateAuthority('short-lived', 1);
      const leaf = new X509Certificate(
        (await shortCa.issue({ commonName: 'masterclient', organizations: ['system:masters'], usage: 'client', days: 365 })).certPem,
      );
      const check = clientCertificateAuthenticator({ caPem: shortCa.certPem, localAccountsDisabled: false, clock });
      assert.equal(check(leaf).kind, 'user');
      now = Date.now() + 2 * DAY;
      assert.deepEqual(check(leaf), { kind: 'error', message: EXPIRED });
      now = Date.now();
      const serving = new X509Certificate(
        (await ca.issue({ commonName: 'kube-apiserver', dnsNames: ['localhost'], usage: 'server' })).certPem,
      );
      assert.deepEqual(authn()(serving), { kind: 'error', message: 'x509: certificate specifies an incompatible key usage' });
      assert.deepEqual(authn()(new X509Certificate(ca.certPem)), {
        kind: 'error',
        message: 'x509: a CA certificate is not a client certificate',
      });
    });

    it("refuses the cluster's own certificates when local accounts are disabled", () => {
      now = Date.now();
      assert.deepEqual(authn(true)(master), { kind: 'error', message: LOCAL_ACCOUNTS_DISABLED });
      assert.equal(LOCAL_ACCOUNTS_DISABLED, 'local accounts are disabled for this cluster');
    });

    it('reads the CA when built, not per call; hands out a fresh user each time', () => {
      assert.throws(() => clientCertificateAuthenticator({ caPem: 'not a certificate', localAccountsDisabled: false, clock }));
      now = Date.now();
      const check = authn();
      (check(master) as Extract<AuthnResult, { kind: 'user' }>).user.groups.push('intruders');
      assert.deepEqual((check(master) as Extract<AuthnResult, { kind: 'user' }>).user, MASTERCLIENT);
    });
  });

  describe('the static admin token', () => {
    const TOKEN = 'f3c0a7b2e9d84c61a5b7e0d2c9f8a1b3e6d5c4b3a2918f7e6d5c4b3a29180f7e';
    const admin = staticTokenAuthenticator({ token: TOKEN, user: LOCAL_ADMIN_USER, disabled: false });

    it("is AKS's clusterAdmin in system:masters", async () => {
      assert.deepEqual(LOCAL_ADMIN_USER, { username: 'clusterAdmin', uid: '', groups: ['system:masters'], extra: {} });
      assert.deepEqual(await admin({ token: TOKEN }), { kind: 'user', user: LOCAL_ADMIN_USER });
      const first = await admin({ token: TOKEN });
      (first as Extract<AuthnResult, { kind: 'user' }>).user.groups.push('intruders');
      assert.deepEqual(await admin({ token: TOKEN }), { kind: 'user', user: LOCAL_ADMIN_USER }, 'a fresh user each time');
    });

    it('gives no answer for any other token: shorter, longer, one character off, empty', async () => {
      for (const token of [
        TOKEN.slice(0, -1),
        `${TOKEN}0`,
        `${TOKEN.slice(0, -1)}0`,
        TOKEN.toUpperCase(),
        '',
        'eyJhbGciOiJSUzI1NiJ9.e30.c2ln',
      ]) {
        assert.deepEqual(await admin({ token }), { kind: 'none' }, token);
      }
    });

    it('refuses the right token when local accounts are disabled, and still ignores the wrong one', async () => {
      const disabled = staticTokenAuthenticator({ token: TOKEN, user: LOCAL_ADMIN_USER, disabled: true });
      assert.deepEqual(await disabled({ token: TOKEN }), { kind: 'error', message: LOCAL_ACCOUNTS_DISABLED });
      assert.deepEqual(await disabled({ token: 'something-else' }), { kind: 'none' });
    });

    it('will not be built with an empty token, which would match an empty bearer', () => {
      assert.throws(() => staticTokenAuthenticator({ token: '', user: LOCAL_ADMIN_USER, disabled: false }), /must not be empty/);
    });

    it('sits in a chain beside other authenticators', async () => {
      const user = staticTokenAuthenticator({
        token: 'user-token',
        user: { username: 'clusterUser', uid: '', groups: ['system:authenticated'], extra: {} },
        disabled: false,
      });
      const chain = authenticatorChain(user, admin);
      assert.equal(((await chain({ token: TOKEN })) as Extract<AuthnResult, { kind: 'user' }>).user.username, 'clusterAdmin');
      assert.equal(((await chain({ token: 'user-token' })) as Extract<AuthnResult, { kind: 'user' }>).user.username, 'clusterUser');
      assert.deepEqual(await chain({ token: 'nobody' }), { kind: 'none' });
    });
  });
});
