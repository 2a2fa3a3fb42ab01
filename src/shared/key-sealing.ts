import { createCipheriv, createDecipheriv, createHash, createPrivateKey, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lru } from './lru.js';

// Private material at rest (signing keys, cluster CA and service-account keys, admin tokens) is sealed
// with AES-256-GCM under a key-encryption key that is never in the store: given by the operator
// (--key-encryption-key / KENTRA_KEY_ENCRYPTION_KEY), or derived from the data directory's CA key,
// which every instance of one deployment already shares. Someone holding only the database learns nothing.

const PREFIX = 'kentra-sealed:v1:';

export class SealingError extends Error {
  readonly code = 'sealing_key_mismatch';
  constructor(message: string) {
    super(message);
    this.name = 'SealingError';
  }
}

/**
 * How much a Sealer remembers of what it opened (`kentra up --sealed-cache-mb`), counted as the
 * characters of the stored texts and their plaintexts. A sealed value is never rewritten in place
 * (each seal has a fresh IV), so the same stored text always opens to the same plaintext; the memo
 * spares the AES-GCM opening on rows read again and again, such as a cluster's on every ARM GET. It is
 * bounded by size, not by count: one cluster's secrets are a few hundred bytes, another's (its CA,
 * service-account key and client certificates) tens of kilobytes. At 512 entries, 1,000 clusters read
 * in turn never found theirs, and every read paid the opening and an eviction.
 */
export const OPENED_MEMO_BYTES = 16 * 2 ** 20;

/** The sealers of this process (weakly), for /metrics. */
const live = new Set<WeakRef<Sealer>>();

export interface SealedCacheStats {
  /** The largest bound of a live sealer's memo, in characters (`--sealed-cache-mb`). */
  maxBytes: number;
  bytes: number;
  entries: number;
  /** Sealed values opened from the memo, and opened with AES-GCM, since start. */
  hits: number;
  misses: number;
}

/** The memos of every live sealer of this process, summed. */
export function sealedCacheStats(): SealedCacheStats {
  const stats: SealedCacheStats = { maxBytes: 0, bytes: 0, entries: 0, hits: 0, misses: 0 };
  for (const ref of live) {
    const sealer = ref.deref();
    if (!sealer) {
      live.delete(ref);
      continue;
    }
    const memo = sealer.memo;
    stats.maxBytes = Math.max(stats.maxBytes, memo.maxSize);
    stats.bytes += memo.size;
    stats.entries += memo.entries;
    stats.hits += memo.hits;
    stats.misses += memo.misses;
  }
  return stats;
}

export class Sealer {
  /** First 8 hex of SHA-256 of the key: names the key in sealed values without revealing it. */
  readonly keyId: string;
  private readonly opened: Lru<string, string> | null;
  private hits = 0;
  private misses = 0;

  /** `memoBytes`: how much of what it opened the sealer keeps (0: nothing). */
  constructor(
    private readonly key: Buffer,
    private readonly memoBytes = OPENED_MEMO_BYTES,
  ) {
    if (key.length !== 32) throw new Error('a key-encryption key is 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
    live.add(new WeakRef(this));
    this.opened =
      memoBytes > 0
        ? new Lru<string, string>(Number.MAX_SAFE_INTEGER, { maxWeight: memoBytes, weigh: (k, v) => k.length + v.length })
        : null;
  }

  /** What the memo holds (values, and their stored and opened characters), its bound, and its use since start. */
  get memo(): { entries: number; size: number; maxSize: number; hits: number; misses: number } {
    return {
      entries: this.opened?.size ?? 0,
      size: this.opened?.weight ?? 0,
      maxSize: this.opened ? this.memoBytes : 0,
      hits: this.hits,
      misses: this.misses,
    };
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(this.keyId));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.keyId}:${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
  }

  /** The plaintext of a sealed value; a value stored before sealing existed is returned as it is. */
  unseal(stored: string): string {
    if (!stored.startsWith(PREFIX)) return stored;
    const [keyId, rest] = [stored.slice(PREFIX.length, PREFIX.length + 8), stored.slice(PREFIX.length + 9)];
    if (keyId !== this.keyId) {
      throw new SealingError(
        `the store's private keys were sealed with key-encryption key ${keyId}, but this instance has ${this.keyId}: give every instance the same --key-encryption-key (or the same CA in its data directory)`,
      );
    }
    const known = this.opened?.get(stored);
    if (known !== undefined) {
      this.hits++;
      return known;
    }
    this.misses++;
    const [iv, body, tag] = rest.split('.').map((p) => Buffer.from(p, 'base64url'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv!);
      decipher.setAAD(Buffer.from(this.keyId));
      decipher.setAuthTag(tag!);
      const plaintext = Buffer.concat([decipher.update(body!), decipher.final()]).toString('utf8');
      this.opened?.set(stored, plaintext);
      return plaintext;
    } catch {
      throw new SealingError(`a sealed value in the store does not open with key-encryption key ${this.keyId} (changed or damaged)`);
    }
  }
}

export const isSealed = (value: string): boolean => value.startsWith(PREFIX);

/** The key-encryption key from its text form: 32 bytes as base64 (standard or url) or 64 hex digits. */
export function parseKeyEncryptionKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32)
    throw new Error('the key-encryption key must be 32 bytes, as base64 or 64 hex digits (make one with: openssl rand -base64 32)');
  return key;
}

/** A key-encryption key derived from a CA private key (PEM): HKDF-SHA256 with a label only this use has. */
export function deriveKeyEncryptionKey(caKeyPem: string): Buffer {
  const der = createPrivateKey(caKeyPem).export({ type: 'pkcs8', format: 'der' });
  return Buffer.from(hkdfSync('sha256', der, Buffer.from('kentra'), Buffer.from('kentra store sealing v1'), 32));
}

/**
 * The sealer of a deployment's store, from (first found) the key given (`--key-encryption-key-file`'s
 * contents), `$KENTRA_KEY_ENCRYPTION_KEY`, or the CA key in the data directory (`ca-key.pem`).
 * `memoBytes`: see OPENED_MEMO_BYTES.
 */
export function sealerForDataDir(dataDir: string, given?: string, memoBytes?: number): Sealer {
  const text = given ?? process.env.KENTRA_KEY_ENCRYPTION_KEY;
  if (text) return new Sealer(parseKeyEncryptionKey(text), memoBytes);
  const caKey = join(dataDir, 'ca-key.pem');
  if (!existsSync(caKey))
    throw new Error(
      `no key-encryption key to open the store's private keys: set KENTRA_KEY_ENCRYPTION_KEY, or pass --data-dir of an instance of this deployment (its CA key derives the key; ${caKey} is not there)`,
    );
  return new Sealer(deriveKeyEncryptionKey(readFileSync(caKey, 'utf8')), memoBytes);
}
