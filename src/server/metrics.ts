import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { tokenCacheStats } from '../access/index.js';
import { batchWriterStats } from '../shared/batch-writer.js';
import { sealedCacheStats } from '../shared/key-sealing.js';

/** Prometheus metrics of one process, on /metrics. */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestStats();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'kentra_' });
    this.registry.registerMetric(this.requests.counter('kentra_http_requests_total', 'HTTP requests by route and status') as never);
    this.registry.registerMetric(this.requests.histogram('kentra_http_request_duration_seconds', 'HTTP request duration') as never);
    /** A gauge read when /metrics is: `read` of the stats `stats()` gives then. */
    const gaugeOf =
      <S>(stats: () => S) =>
      (name: string, help: string, read: (s: S) => number) =>
        new Gauge({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.set(read(stats()));
          },
        });
    // The cluster token caches (TokenReview and the built-in API): their bound, fill and hit rate.
    const cache = gaugeOf(tokenCacheStats);
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
    // Private material kept opened (--sealed-cache-mb): its bound, fill and use.
    const sealed = gaugeOf(sealedCacheStats);
    sealed(
      'kentra_sealed_cache_max_bytes',
      'Bound of the opened private material kept in memory (characters stored and opened)',
      (s) => s.maxBytes,
    );
    sealed('kentra_sealed_cache_bytes', 'Opened private material kept in memory (characters stored and opened)', (s) => s.bytes);
    sealed('kentra_sealed_cache_entries', 'Sealed values kept opened', (s) => s.entries);
    sealed('kentra_sealed_cache_hits', 'Sealed values read from the store and found opened, since start', (s) => s.hits);
    sealed('kentra_sealed_cache_misses', 'Sealed values opened with AES-GCM, since start', (s) => s.misses);
    // The logs of decisions (sign-in log, cluster access log): entries dropped when the store was slower than the traffic.
    const logGauge = (name: string, help: string, log: string, read: (s: ReturnType<typeof batchWriterStats>[number]) => number) =>
      gaugeOf(() => batchWriterStats().find((x) => x.name === log))(name, help, (s) => (s ? read(s) : 0));
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
    this.requests.observe(method, route, status, seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The request duration histogram's upper bounds, in seconds. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  labels: { method: string; route: string };
  byStatus: Map<number, number>;
  /** Requests per bucket (not cumulative); the last one is +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

/** A metric as prom-client's Registry renders it (what its own metrics' `get()` returns). */
interface RenderedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

/**
 * Every answered request's counts and duration, by method, route and status: the counter and the
 * histogram prom-client would keep, rendered the same way, without its per-call work (hashing and
 * checking the label object of each observation cost about 4 µs of every request, measured on
 * TokenReview cache hits). Kept in nested maps; rendered only when /metrics is read.
 */
export class RequestStats {
  private readonly byMethod = new Map<string, Map<string, RouteStats>>();

  observe(method: string, route: string, status: number, seconds: number): void {
    let routes = this.byMethod.get(method);
    if (!routes) this.byMethod.set(method, (routes = new Map()));
    let s = routes.get(route);
    if (!s) {
      s = {
        labels: { method, route },
        byStatus: new Map(),
        buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      routes.set(route, s);
    }
    s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  private *routes(): Iterable<RouteStats> {
    for (const routes of this.byMethod.values()) yield* routes.values();
  }

  counter(name: string, help: string): MetricSource {
    return rendered(name, help, 'counter', () => {
      const values: RenderedMetric['values'] = [];
      for (const s of this.routes())
        for (const [status, value] of s.byStatus) values.push({ labels: { ...s.labels, status: String(status) }, value });
      return values;
    });
  }

  histogram(name: string, help: string): MetricSource {
    return rendered(name, help, 'histogram', () => {
      const values: RenderedMetric['values'] = [];
      for (const s of this.routes()) {
        let cumulative = 0;
        s.buckets.forEach((n, i) => {
          cumulative += n;
          const le = i < DURATION_BUCKETS.length ? DURATION_BUCKETS[i]! : '+Inf';
          values.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
        values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
      }
      return values;
    });
  }
}

/** What prom-client's Registry takes as a metric: a name, a help text and its values when it renders. */
type MetricSource = { name: string; help: string; get(): Promise<RenderedMetric> };

function rendered(name: string, help: string, type: RenderedMetric['type'], values: () => RenderedMetric['values']): MetricSource {
  return { name, help, get: async () => ({ name, help, type, aggregator: 'sum', values: values() }) };
}
