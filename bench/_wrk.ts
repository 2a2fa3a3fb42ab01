// HTTP load from wrk (Debian's package), a load generator in its own process that is not the
// bottleneck: it reaches tens of thousands of requests per second on one core where a Node client
// tops out at a few thousand. Each request can carry a different body (rotated from a list), so a
// run can drive thousands of distinct tokens. wrk does not verify the server's certificate and
// cannot present a client certificate.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Request bodies, used in turn (one per request, wrapping around). No body is sent when absent. */
  bodies?: string[];
  /** Authorization header values used in turn (one per request), e.g. many distinct bearer tokens. */
  authorizations?: string[];
  /** Paths (with their query) used in turn instead of the URL's own, e.g. a thousand clusters' GETs. */
  paths?: string[];
  connections?: number;
  threads?: number;
  seconds?: number;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  perSecond: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Responses that were not 2xx/3xx, plus socket errors. */
  errors: number;
  raw: string;
  /** Every latency recorded, as [microseconds, count] in increasing order. */
  latencies: [number, number][];
}

/** The wrk binary, or null when it is not installed (`apt-get install wrk`). */
export function wrkPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const luaString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function ms(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60000 : n;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const bin = wrkPath();
  if (!bin) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const dir = mkdtempSync(join(tmpdir(), 'kentra-wrk-'));
  try {
    const lines: string[] = [`wrk.method = ${luaString(o.method ?? (o.bodies ? 'POST' : 'GET'))}`];
    for (const [k, v] of Object.entries(o.headers ?? {})) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
    // Lists are written to files read at start-up (a Lua source with 100,000 string literals is slow to load).
    const list = (name: string, items: string[]) => {
      writeFileSync(join(dir, `${name}.txt`), items.join('\n') + '\n');
      lines.push(`local ${name} = {}`, `for line in io.lines(${luaString(join(dir, `${name}.txt`))}) do ${name}[#${name} + 1] = line end`);
    };
    if (o.bodies) list('bodies', o.bodies);
    if (o.authorizations) list('auths', o.authorizations);
    if (o.paths) list('paths', o.paths);
    lines.push('local i = math.random(1, 1000000)', 'request = function()', '  i = i + 1');
    if (o.authorizations) lines.push('  wrk.headers["Authorization"] = auths[(i % #auths) + 1]');
    const path = o.paths ? 'paths[(i % #paths) + 1]' : 'nil';
    lines.push(o.bodies ? `  return wrk.format(nil, ${path}, nil, bodies[(i % #bodies) + 1])` : `  return wrk.format(nil, ${path})`, 'end');
    // Every latency wrk recorded, as (microseconds, count) pairs, so that rounds can be pooled into one p99.
    const histogram = join(dir, 'latency.txt');
    lines.push(
      'done = function(summary, latency, requests)',
      `  local f = io.open(${luaString(histogram)}, "w")`,
      '  for j = 1, #latency do local v, c = latency(j); f:write(v, " ", c, "\\n") end',
      '  f:close()',
      'end',
    );
    const script = join(dir, 'load.lua');
    writeFileSync(script, lines.join('\n') + '\n');
    const args = [`-t${o.threads ?? 1}`, `-c${o.connections ?? 32}`, `-d${o.seconds ?? 5}s`, '--latency', '-s', script, o.url];
    const raw = await new Promise<string>((resolve, reject) => {
      const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (c: Buffer) => (out += c.toString()));
      p.stderr.on('data', (c: Buffer) => (out += c.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))));
    });
    const requests = Number(/(\d+) requests in ([\d.]+)(\w+)/.exec(raw)?.[1] ?? NaN);
    const dur = /\d+ requests in ([\d.]+)(ms|s|m)/.exec(raw);
    const seconds = dur ? ms(dur[1]!, dur[2]!) / 1000 : NaN;
    const pct = (p: string) => {
      const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(raw);
      return m ? ms(m[1]!, m[2]!) : NaN;
    };
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(raw)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
    const socketErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0;
    const latencies = readFileSync(histogram, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ').map(Number) as [number, number]);
    return {
      requests,
      seconds,
      perSecond: requests / seconds,
      p50: pct('50'),
      p99: pct('99'),
      errors: non2xx + socketErrors,
      raw,
      latencies,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Latency from wrk: rounds of the measured request alternating with the same request to a bare HTTPS
 * server, so that load from the rest of the machine falls on both alike. Each round's result; throws
 * if any response was not a success. wrk is a C client whose cost per request is a few microseconds:
 * a Node client in the bench's own process adds its own garbage collection (tens of kilobytes per
 * response) to the latencies it measures, and from 4 concurrent loops that shows in the p99.
 */
export async function interleavedWrk(
  measured: WrkOptions,
  bare: WrkOptions,
  opts: { rounds: number; seconds: number },
): Promise<{ measured: WrkResult[]; bare: WrkResult[] }> {
  const out = { measured: [] as WrkResult[], bare: [] as WrkResult[] };
  for (let i = 0; i < opts.rounds; i++) {
    for (const [o, into] of [
      [measured, out.measured],
      [bare, out.bare],
    ] as const) {
      const r = await runWrk({ ...o, seconds: opts.seconds });
      if (r.errors || !(r.requests > 0)) throw new Error(`wrk against ${o.url}: ${r.errors} failed of ${r.requests}\n${r.raw}`);
      into.push(r);
    }
  }
  return out;
}

/** A percentile (ms) of every latency of these rounds pooled: the figure a goal is held against. */
export function pooledPercentile(rounds: WrkResult[], p: number): number {
  const counts = new Map<number, number>();
  for (const r of rounds) for (const [us, n] of r.latencies) counts.set(us, (counts.get(us) ?? 0) + n);
  const sorted = [...counts].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  let seen = 0;
  for (const [us, n] of sorted) {
    seen += n;
    if (seen >= (p / 100) * total) return us / 1000;
  }
  return NaN;
}

/** Each round's p99 and rate, for a report's detail. */
export const roundsText = (rounds: WrkResult[]): string =>
  rounds.map((r) => `${r.p99.toFixed(2)} ms at ${Math.round(r.perSecond).toLocaleString('en-US')}/s`).join(', ');
