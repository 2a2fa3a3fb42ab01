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

/** How often each instance re-reads the key list from the store (a rotation elsewhere shows up within this). */
export const KEY_RELOAD_INTERVAL_MS = 5_000;
/** At most one extra re-read per this interval for tokens naming a kid this instance does not know. */
export const UNKNOWN_KID_RELOAD_MS = 1_000;
/** The row lock that serializes check-and-add of keys across every instance on one store. */
const KEY_LOCK = 'signing-keys';

/** Where a key stands at `now`. */
export type KeyState = 'published' | 'signing' | 'retired';

/**
 * The signing keys, kept in the store so every instance signs with the same ones. `current()` and
 * `publicKey()` are synchronous lookups in memory: they sit on the token issuance and verification paths.
 *
 * Several instances on one store: adding a key is a check-and-add under one named row lock, so two
 * instances refreshing at once never add two; `reload()` (every few seconds, and on a token with an
 * unknown kid through `publicKeyOrReload`) brings in keys another instance or `kentra keys rotate` added.
 */
export class KeyRing {
  private keys: LoadedKey[] = [];
  private reloading: Promise<void> | null = null;
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    readonly policy: KeyRotationPolicy = DEFAULT_ROTATION,
  ) {}

  /** Creates or rotates as the policy says (at most one new key across instances), drops expired ones, reloads. Safe to call on a timer. */
  async refresh(): Promise<void> {
    const now = this.clock.now();
    const records = await this.store.listSigningKeys();
    if (needsKey(records, now, this.policy)) {
      // The RSA key is made outside the lock; the decision is taken again under it, so a key another
      // instance added meanwhile wins and this one is dropped.
      const candidate = await newKey(now, needsKey(records, now, this.policy)!.activateAt, this.policy);
      await this.store.transaction(async (tx) => {
        await tx.lockNamed(KEY_LOCK);
        const at = this.clock.now();
        const plan = needsKey(await tx.listSigningKeys(), at, this.policy);
        if (plan) await tx.addSigningKey(withTimes(candidate, at, plan.activateAt, this.policy));
      });
    }
    for (const k of records) if (k.expireAt <= now) await this.store.deleteSigningKey(k.kid);
    await this.reload();
  }

  /** Re-reads the key list from the store (cheap: a handful of rows); keys already loaded are kept as they are. */
  reload(): Promise<void> {
    // Concurrent callers share one read.
    this.reloading ??= (async () => {
      try {
        const now = this.clock.now();
        const records = (await this.store.listSigningKeys()).filter((k) => k.expireAt > now && k.publishAt <= now);
        const known = new Map(this.keys.map((k) => [k.record.kid, k]));
        this.keys = records.map((r) => known.get(r.kid) ?? load(r));
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /**
   * Adds a key that takes over signing `activateInMs` from now (0: at once), in the store, under the
   * same lock as `refresh`; the old keys stay published until they expire. Returns the new key.
   * Other instances sign with it once they have reloaded and `activateInMs` has passed: a lead of
   * two reload intervals means every instance can verify it before any signs with it.
   */
  async rotate(activateInMs = 0): Promise<SigningKey> {
    const now = this.clock.now();
    const key = await newKey(now, now + Math.max(0, activateInMs), this.policy);
    await this.store.transaction(async (tx) => {
      await tx.lockNamed(KEY_LOCK);
      await tx.addSigningKey(key);
    });
    await this.reload();
    return key;
  }

  /** Forces the next key to take over now (administrative rotation); the old one stays published. */
  async rotateNow(): Promise<void> {
    await this.rotate(0);
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

  /**
   * `publicKey`, and for a kid not known here one re-read of the store (at most one per second for
   * every unknown kid together, so forged kids cannot flood the store), then the lookup again.
   */
  async publicKeyOrReload(kid: string): Promise<KeyObject | undefined> {
    const known = this.publicKey(kid);
    if (known) return known;
    const now = this.clock.now();
    if (this.reloading) {
      await this.reloading.catch(() => {});
    } else if (now - this.lastUnknownKidReload >= UNKNOWN_KID_RELOAD_MS) {
      this.lastUnknownKidReload = now;
      await this.reload().catch(() => {});
    }
    return this.publicKey(kid);
  }

  /** The JWKS document; v2 keys carry the multi-tenant `issuer` template. */
  jwks(issuer?: string): { keys: object[] } {
    return { keys: this.keys.map((k) => (issuer ? { ...k.jwk, issuer } : k.jwk)) };
  }
}

/** The store's keys with where each stands at `now`, newest activation first (for `kentra keys list`). */
export async function describeKeys(
  store: Store,
  now: number,
): Promise<(Omit<SigningKey, 'privateKeyPem' | 'certificateDer'> & { state: KeyState; signsNow: boolean })[]> {
  const records = (await store.listSigningKeys()).filter((k) => k.expireAt > now);
  const signing = records
    .filter((k) => k.activateAt <= now)
    .reduce<SigningKey | null>((a, k) => (!a || k.activateAt > a.activateAt ? k : a), null);
  return records
    .sort((a, b) => b.activateAt - a.activateAt)
    .map(({ privateKeyPem: _p, certificateDer: _c, ...k }) => ({
      ...k,
      state: k.activateAt > now ? 'published' : k.kid === signing?.kid ? 'signing' : 'retired',
      signsNow: k.kid === signing?.kid,
    }));
}

/** Does the policy want a new key now, and from when would it sign? */
function needsKey(records: SigningKey[], now: number, policy: KeyRotationPolicy): { activateAt: number } | null {
  const latest = records.reduce<SigningKey | null>((a, k) => (!a || k.activateAt > a.activateAt ? k : a), null);
  if (!latest || latest.retireAt <= now) return { activateAt: now };
  if (latest.activateAt <= now && latest.retireAt - policy.publishLeadMs <= now) return { activateAt: latest.retireAt };
  return null;
}

async function newKey(now: number, activateAt: number, policy: KeyRotationPolicy): Promise<SigningKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = await createSelfSignedCertificate({ commonName: 'accounts.kentra.local', days: 3650, privateKeyPem });
  const kid = createHash('sha1').update(cert.certDer).digest('base64url');
  return withTimes({ kid, privateKeyPem, certificateDer: cert.certDer.toString('base64') }, now, activateAt, policy);
}

function withTimes(
  k: Pick<SigningKey, 'kid' | 'privateKeyPem' | 'certificateDer'>,
  now: number,
  activateAt: number,
  policy: KeyRotationPolicy,
): SigningKey {
  const retireAt = activateAt + policy.signingPeriodMs;
  return {
    kid: k.kid,
    privateKeyPem: k.privateKeyPem,
    certificateDer: k.certificateDer,
    publishAt: now,
    activateAt,
    retireAt,
    expireAt: retireAt + policy.retentionMs,
  };
}

function load(record: SigningKey): LoadedKey {
  const privateKey = createPrivateKey(record.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return {
    record,
    privateKey,
    publicKey,
    jwk: { kty: 'RSA', use: 'sig', kid: record.kid, x5t: record.kid, n, e, x5c: [record.certificateDer] },
  };
}
