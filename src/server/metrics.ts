import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { tokenCacheStats } from '../access/index.js';
import { batchWriterStats } from '../shared/batch-writer.js';

/** Prometheus metrics of one process, on /metrics. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kentra_' });
    this.requests = new Counter({
      name: 'kentra_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'kentra_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    // The cluster token caches (TokenReview and the built-in API): their bound, fill and hit rate.
    const cache = (name: string, help: string, read: (s: ReturnType<typeof tokenCacheStats>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(tokenCacheStats()));
        },
      });
    cache(
      'kentra_token_cache_max_entries',
      'Bound of a cluster token cache (least recently used entries are evicted beyond it)',
      (s) => s.maxEntries,
    );
    cache('kentra_token_cache_entries', 'Entries held in the cluster token caches', (s) => s.entries);
    cache('kentra_token_cache_hits', 'Token cache hits since start', (s) => s.hits);
    cache('kentra_token_cache_misses', 'Token cache misses since start', (s) => s.misses);
    cache('kentra_token_cache_evictions', 'Token cache entries evicted by the bound since start', (s) => s.evictions);
    cache('kentra_token_cache_hit_ratio', 'Token cache hits / (hits + misses) since start', (s) =>
      s.hits + s.misses ? s.hits / (s.hits + s.misses) : 0,
    );
    // The logs of decisions (sign-in log, cluster access log): entries dropped when the store was slower than the traffic.
    const logGauge = (name: string, help: string, log: string, read: (s: ReturnType<typeof batchWriterStats>[number]) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const s = batchWriterStats().find((x) => x.name === log);
          this.set(s ? read(s) : 0);
        },
      });
    logGauge(
      'kentra_access_log_dropped_total',
      'Access log entries dropped since start (queue full: the store was too slow)',
      'access log',
      (s) => s.dropped,
    );
    logGauge('kentra_access_log_queued', 'Access log entries waiting to be written', 'access log', (s) => s.queued);
    logGauge(
      'kentra_sign_in_log_dropped_total',
      'Sign-in log entries dropped since start (queue full: the store was too slow)',
      'sign-in log',
      (s) => s.dropped,
    );
    logGauge('kentra_sign_in_log_queued', 'Sign-in log entries waiting to be written', 'sign-in log', (s) => s.queued);
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
