// A size-bounded map that drops the least recently used entry when full: the one shape of every
// per-instance cache (the access layer's token results, clusters' chains, groups and decisions; verified tokens), so
// that memory stays bounded by configuration whatever the input.
//
// The entries sit in a Map for look-up and on a doubly linked list for order, oldest first. A read
// relinks its entry at the newest end and leaves the Map alone. (Keeping the order in the Map itself,
// by deleting and setting again, made every eviction slow: V8's Map leaves a hole where a key was
// deleted, and `keys().next()` walks every hole at the front until the table is rebuilt, so at 10,000
// entries an eviction took 5–9 µs.)
//
// A cache of values whose sizes differ widely (opened private material: a few hundred bytes for one
// cluster, tens of kilobytes for another) is bounded by their total weight as well as by their number.

interface Entry<K, V> {
  readonly key: K;
  value: V;
  weight: number;
  older: Entry<K, V> | undefined;
  newer: Entry<K, V> | undefined;
}

/** A bound on the entries' total weight (bytes, say), besides the bound on their number. */
export interface LruWeights<K, V> {
  maxWeight: number;
  weigh(key: K, value: V): number;
}

export class Lru<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private oldest: Entry<K, V> | undefined;
  private newest: Entry<K, V> | undefined;
  private total = 0;
  /** Entries dropped to make room since this cache was made. */
  evictions = 0;

  constructor(
    readonly max: number,
    private readonly weights?: LruWeights<K, V>,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a cache bound must be a whole number ≥ 1, got ${max}`);
    if (weights && !(Number.isFinite(weights.maxWeight) && weights.maxWeight >= 0))
      throw new RangeError(`a weight bound must be a finite number ≥ 0, got ${weights.maxWeight}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The entries' total weight (0 without a weight bound). */
  get weight(): number {
    return this.total;
  }

  /** The value, made the most recently used. */
  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (entry !== this.newest) {
      this.unlink(entry);
      this.append(entry);
    }
    return entry.value;
  }

  /** The value without touching its place. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Keeps the value as the most recently used; one heavier than the whole weight bound is not kept (nor the key's old value). */
  set(key: K, value: V): void {
    const weight = this.weights ? this.weights.weigh(key, value) : 0;
    const known = this.map.get(key);
    if (this.weights && weight > this.weights.maxWeight) {
      if (known !== undefined) this.delete(key);
      return;
    }
    if (known !== undefined) {
      known.value = value;
      this.total += weight - known.weight;
      known.weight = weight;
      if (known !== this.newest) {
        this.unlink(known);
        this.append(known);
      }
    } else {
      if (this.map.size >= this.max) this.evictOldest();
      const entry: Entry<K, V> = { key, value, weight, older: undefined, newer: undefined };
      this.append(entry);
      this.map.set(key, entry);
      this.total += weight;
    }
    // The newest entry weighs no more than the bound, so it is never the one dropped here.
    if (this.weights) while (this.total > this.weights.maxWeight) this.evictOldest();
  }

  delete(key: K): boolean {
    const entry = this.map.get(key);
    if (entry === undefined) return false;
    this.unlink(entry);
    this.total -= entry.weight;
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.oldest = this.newest = undefined;
    this.total = 0;
  }

  private evictOldest(): void {
    const oldest = this.oldest!;
    this.unlink(oldest);
    this.map.delete(oldest.key);
    this.total -= oldest.weight;
    this.evictions++;
  }

  /** Keys from the least recently used. Deleting the key just handed out is safe; other changes while iterating are not. */
  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  /** Entries from the least recently used, under the same rule as keys(). */
  *entries(): IterableIterator<[K, V]> {
    for (let entry = this.oldest; entry !== undefined;) {
      const newer = entry.newer;
      yield [entry.key, entry.value];
      entry = newer;
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private unlink(entry: Entry<K, V>): void {
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = entry.newer = undefined;
  }

  private append(entry: Entry<K, V>): void {
    entry.older = this.newest;
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
  }
}
