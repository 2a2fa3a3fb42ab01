// A size-bounded map that drops the least recently used entry when full: the one shape of every
// per-instance cache (the access layer's token results, clusters' chains, groups and decisions; verified tokens), so
// that memory stays bounded by configuration whatever the input. A Map keeps insertion order; a
// read moves the entry to the end, so the first key is always the least recently used.

export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  /** Entries dropped to make room since this cache was made. */
  evictions = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a cache bound must be a whole number ≥ 1, got ${max}`);
  }

  get size(): number {
    return this.map.size;
  }

  /** The value, made the most recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** The value without touching its place. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.max) {
      this.map.delete(this.map.keys().next().value as K);
      this.evictions++;
    }
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.map.entries();
  }
}
