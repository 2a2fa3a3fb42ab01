// A bare HTTPS server (node:https, Kentra's own serving certificate, an empty JSON answer) in a process of
// its own, as Kentra runs in one: the round trip no HTTPS request to Kentra can beat, measured in the same
// run with the same client.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function startBareHttps(kentraDataDir: string): Promise<{ url: string; stop(): void }> {
  const script = `const { createServer } = require('node:https'); const { readFileSync } = require('node:fs');
    const s = createServer({ key: readFileSync(process.argv[1]), cert: readFileSync(process.argv[2]) },
      (req, res) => { req.resume(); req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end('{"value":[]}'); }); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', script, join(kentraDataDir, 'server-key.pem'), join(kentraDataDir, 'server.pem')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { url: `https://localhost:${port}/`, stop: () => child.kill() }; // by its process object: the one this run started
}

/**
 * NODE_OPTIONS for `kentra up` when KENTRA_BENCH_CPU_PROF names a folder: a CPU profile written there when it
 * stops (through node:inspector from a preloaded file, since Node 20 refuses --cpu-prof in NODE_OPTIONS).
 */
export function profileEnv(): Record<string, string> | undefined {
  const dir = process.env.KENTRA_BENCH_CPU_PROF;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const preload = join(dir, 'cpu-profile-preload.cjs');
  writeFileSync(
    preload,
    `const { Session } = require('node:inspector'); const { writeFileSync } = require('node:fs');
    const s = new Session(); s.connect(); s.post('Profiler.enable'); s.post('Profiler.setSamplingInterval', { interval: 200 }); s.post('Profiler.start');
    process.on('exit', () => s.post('Profiler.stop', (err, r) => { if (!err) writeFileSync(${JSON.stringify(dir)} + '/kentra-' + process.pid + '.cpuprofile', JSON.stringify(r.profile)); }));`,
  );
  return { NODE_OPTIONS: `--require ${preload}` };
}

/**
 * Calls made before a measured set of latencies, not counted: a server runs warm. Over its first thousand
 * or so requests V8 still compiles the route's functions on a background thread, which on a 2-core
 * machine takes a core from the server and the client. (The directory bench warmed up with 200 calls
 * before stop 22, and that compiling was in its p99s.)
 */
export const WARM_UP = 2000;

/** Latencies (ms, sorted) of `count` calls from `workers` concurrent loops; throws on the first failed call. */
export async function latencies(call: () => Promise<boolean>, opts: { workers: number; count: number }): Promise<number[]> {
  const out: number[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: opts.workers }, async () => {
      while (started < opts.count) {
        started++;
        const s = process.hrtime.bigint();
        if (!(await call())) throw new Error('a benchmarked call failed');
        out.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  return out.sort((a, b) => a - b);
}

/**
 * Alternates rounds of the measured call and of the bare HTTPS call, so that load from the rest of the
 * machine falls on both alike; returns both sets of latencies (sorted).
 */
export async function interleaved(
  measured: () => Promise<boolean>,
  bare: () => Promise<boolean>,
  opts: { workers: number; perRound: number; rounds: number },
): Promise<{ measured: number[]; bare: number[] }> {
  const m: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    m.push(...(await latencies(measured, { workers: opts.workers, count: opts.perRound })));
    b.push(...(await latencies(bare, { workers: opts.workers, count: opts.perRound })));
  }
  return { measured: m.sort((x, y) => x - y), bare: b.sort((x, y) => x - y) };
}
