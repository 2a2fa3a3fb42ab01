import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { createSelfSignedCertificate } from '../../pki/index.js';
import type { Clock } from '../../shared/clock.js';
import type { SigningKey, Store } from '../../store/index.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

export interface KeyRotationPolicy {
  /** How long a key signs before the next one takes over. */
  signingPeriodMs: number;
  /** How long before taking over the next key is published, so relying parties have it first. */
  publishLeadMs: number;
  /** How long a retired key stays published (longer than any token it signed lives). */
  retentionMs: number;
}

export const DEFAULT_ROTATION: KeyRotationPolicy = { signingPeriodMs: 30 * DAY, publishLeadMs: 2 * DAY, retentionMs: 2 * DAY };

interface LoadedKey {
  record: SigningKey;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: { kty: string; use: string; kid: string; x5t: string; n: string; e: string; x5c: string[] };
}

/**
 * The signing keys, kept in the store so every instance signs with the same ones. `current()` and
 * `publicKey()` are synchronous lookups in memory: they sit on the token issuance and verification paths.
 */
export class KeyRing {
  private keys: LoadedKey[] = [];

  constructor(private readonly store: Store, private readonly clock: Clock, readonly policy: KeyRotationPolicy = DEFAULT_ROTATION) {}

  /** Loads the keys and creates or rotates as the policy says. Safe to call on a timer. */
  async refresh(): Promise<void> {
    const now = this.clock.now();
    let records = await this.store.listSigningKeys();
    const latest = records.reduce<SigningKey | null>((a, k) => (!a || k.activateAt > a.activateAt ? k : a), null);
    if (!latest || latest.retireAt <= now) {
      await this.store.addSigningKey(await newKey(now, now, this.policy));
    } else if (latest.activateAt <= now && latest.retireAt - this.policy.publishLeadMs <= now) {
      await this.store.addSigningKey(await newKey(now, latest.retireAt, this.policy));
    }
    for (const k of records) if (k.expireAt <= now) await this.store.deleteSigningKey(k.kid);
    records = (await this.store.listSigningKeys()).filter((k) => k.expireAt > now && k.publishAt <= now);
    const known = new Map(this.keys.map((k) => [k.record.kid, k]));
    this.keys = records.map((r) => known.get(r.kid) ?? load(r));
  }

  /** Forces the next key to take over now (administrative rotation); the old one stays published. */
  async rotateNow(): Promise<void> {
    const now = this.clock.now();
    await this.store.addSigningKey(await newKey(now, now, this.policy));
    await this.refresh();
  }

  /** The key that signs now. */
  current(): { kid: string; privateKey: KeyObject } {
    const now = this.clock.now();
    let best: LoadedKey | undefined;
    for (const k of this.keys) {
      if (k.record.activateAt <= now && (!best || k.record.activateAt > best.record.activateAt)) best = k;
    }
    if (!best) throw new Error('no signing key is active: the key ring was not refreshed');
    return { kid: best.record.kid, privateKey: best.privateKey };
  }

  publicKey(kid: string): KeyObject | undefined {
    for (const k of this.keys) if (k.record.kid === kid) return k.publicKey;
    return undefined;
  }

  /** The JWKS document; v2 keys carry the multi-tenant `issuer` template. */
  jwks(issuer?: string): { keys: object[] } {
    return { keys: this.keys.map((k) => (issuer ? { ...k.jwk, issuer } : k.jwk)) };
  }
}

async function newKey(now: number, activateAt: number, policy: KeyRotationPolicy): Promise<SigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = await createSelfSignedCertificate({ commonName: 'accounts.kentra.local', days: 3650, privateKeyPem });
  const kid = createHash('sha1').update(cert.certDer).digest('base64url');
  const retireAt = activateAt + policy.signingPeriodMs;
  return {
    kid, privateKeyPem, certificateDer: cert.certDer.toString('base64'), publishAt: now, activateAt, retireAt,
    expireAt: retireAt + policy.retentionMs,
  };
}

function load(record: SigningKey): LoadedKey {
  const privateKey = createPrivateKey(record.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return {
    record, privateKey, publicKey,
    jwk: { kty: 'RSA', use: 'sig', kid: record.kid, x5t: record.kid, n, e, x5c: [record.certificateDer] },
  };
}
