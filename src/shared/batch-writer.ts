// Batched, bounded writes off a request's path: the logs of decisions (the sign-in log, the cluster
// access log) queue each entry and return at once; entries are prepared (decoded, completed) and written
// in batches after the response, one batch after another. When the store is slower than the traffic,
// at most `maxQueue` entries wait in memory: further ones are dropped and counted, never awaited.

export interface BatchWriterOptions<Q, R> {
  /** Names the log in error messages (`sign-in log`, `access log`). */
  name: string;
  /** Turns a queued item into its row when its batch is written (null: nothing to write). */
  prepare(item: Q): R | null | Promise<R | null>;
  /** Writes one batch (one statement). */
  write(rows: R[]): Promise<void>;
  /** Rows written per batch, and the queue length that flushes at once (default 200). */
  batchSize?: number;
  /** How long a queued item may wait for its batch (default 250 ms). */
  flushMs?: number;
  /** Items held in memory at most (default 50,000); beyond it items are dropped and counted. */
  maxQueue?: number;
  /** Where a failed write or a drop is reported (never with the rows' content). */
  onError?: (message: string) => void;
}

/** Counts of one writer since the process started (for metrics). */
export interface BatchWriterStats {
  name: string;
  queued: number;
  dropped: number;
  written: number;
  failed: number;
}

const writers = new Set<BatchWriter<unknown, unknown>>();

/** The counts of every writer of this process, summed by name. */
export function batchWriterStats(): BatchWriterStats[] {
  const byName = new Map<string, BatchWriterStats>();
  for (const w of writers) {
    const s = byName.get(w.name) ?? { name: w.name, queued: 0, dropped: 0, written: 0, failed: 0 };
    s.queued += w.queued;
    s.dropped += w.totalDropped;
    s.written += w.written;
    s.failed += w.failed;
    byName.set(w.name, s);
  }
  return [...byName.values()];
}

export class BatchWriter<Q, R> {
  readonly name: string;
  private queue: Q[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate = false;
  private writing: Promise<void> = Promise.resolve();
  /** Dropped since the last report. */
  private dropped = 0;
  totalDropped = 0;
  written = 0;
  failed = 0;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private readonly maxQueue: number;

  constructor(private readonly o: BatchWriterOptions<Q, R>) {
    this.name = o.name;
    this.batchSize = o.batchSize ?? 200;
    this.flushMs = o.flushMs ?? 250;
    this.maxQueue = o.maxQueue ?? 50_000;
    writers.add(this as BatchWriter<unknown, unknown>);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues one item; never waits and never throws. */
  push(item: Q): void {
    if (this.queue.length >= this.maxQueue) {
      this.dropped++;
      this.totalDropped++;
      return;
    }
    this.queue.push(item);
    if (this.immediate) return;
    if (this.queue.length >= this.batchSize) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.flush();
      });
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes everything queued so far (one batch after another, never two at once). */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.batchSize);
        try {
          const rows: R[] = [];
          for (const item of batch) {
            const prepared = this.o.prepare(item);
            const row = prepared instanceof Promise ? await prepared : prepared;
            if (row !== null) rows.push(row);
          }
          await this.o.write(rows);
          this.written += rows.length;
        } catch (err) {
          this.failed += batch.length;
          this.o.onError?.(`${this.name} write failed (${batch.length} entries lost): ${(err as Error).message}`);
        }
      }
      if (this.dropped) {
        this.o.onError?.(`${this.name} queue full: ${this.dropped} entries dropped`);
        this.dropped = 0;
      }
    });
    return this.writing;
  }

  /** Writes what is queued and stops counting this writer in the process's stats. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    writers.delete(this as BatchWriter<unknown, unknown>);
  }
}
