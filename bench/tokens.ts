// npm run bench -- tokens
// Client-credentials token issuance over HTTPS, side by side in one run with the same load generator
// (wrk: same connections, threads and duration for each server, in rounds that interleave them):
//   - raw RS256 sign rate of node:crypto on one core (2048-bit key, Kentra's own token as input),
//     measured before the first round and after the last;
//   - a bare node:https server answering a fixed token-sized JSON body (the HTTP/TLS limit);
//   - Kentra: the real `kentra up` in a child process (SQLite store, warn-level logs);
//   - panva's oidc-provider 9 (bench/peers/oidc-provider.mjs: client_credentials, RS256 JWT access
//     tokens through resource indicators, in-memory adapter), on Node ≥ 22 when one is at hand;
//   - Ory Hydra v2.3.0 (scripts/build-go-tool.sh hydra: client credentials, JWT access tokens,
//     in-memory store, TLS with the same certificate, its per-request secret hash cut to one PBKDF2 round).
// Each server's CPU time (all its threads) comes from /proc/<pid>/stat, so tokens per CPU-second
// can be held against the raw sign rate per core. A peer that cannot be started is reported as such.
// Benchmarks never fail on timing: figures are printed next to their limits and goals.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestKentra } from '../test/support/kentra.js';
import { fmt, rate } from './_measure.js';
import { Report } from './_report.js';
import { runWrk, type WrkResult } from './_wrk.js';

const SECONDS = Number(process.env.KENTRA_BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 2;
const ROUNDS = 2;
const CONNECTIONS = 32;
const THREADS = 1;
/** The thread pool the kentra command starts with (src/cli/bin.cts: one thread per core, at least two). */
const THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || String(Math.min(128, Math.max(2, availableParallelism())));
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const form = { 'content-type': 'application/x-www-form-urlencoded' };

interface Server {
  name: string;
  url: string;
  bodies: string[];
  pid: number;
  detail: string;
  close(): Promise<void>;
}

interface Measured {
  requests: number;
  seconds: number;
  cpuSeconds: number;
  errors: number;
  p50: number;
  p99: number;
}

/** User plus system CPU seconds of a process, every thread included. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

function post(url: string, body: string | undefined, ca: Buffer, headers: Record<string, string> = form) {
  return new Promise<{ status: number; text: string }>((ok, fail) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** `post`, tried again on a connection error (a loaded machine drops the odd TLS connection while a server starts). */
async function postRetried(...args: Parameters<typeof post>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await post(...args);
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** A child process that prints its port as a line of digits. */
function spawnWithPort(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd} printed no port within 60 s: ${out.slice(-500)}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} exited with ${code}: ${out.slice(-500)}`));
    });
  });
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM'); // by its process object: a process this run started
  await exited;
};

/** Checks that a token response carries an RS256 JWT access token. */
function assertJwt(name: string, res: { status: number; text: string }): string {
  if (res.status !== 200) throw new Error(`${name}: the token request answered ${res.status}: ${res.text.slice(0, 300)}`);
  const token = String(JSON.parse(res.text).access_token ?? '');
  const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString() || '{}') as { alg?: string };
  if (token.split('.').length !== 3 || header.alg !== 'RS256') throw new Error(`${name}: the access token is not an RS256 JWT`);
  return token;
}

/** Node ≥ 22 for oidc-provider 9 (it warns and is unsupported on 20): the project's cached Node 24, else this one. */
function peerNode(): string {
  const major = Number(process.versions.node.split('.')[0]);
  const cached = join(homedir(), '.cache/kentra/node-v24.22.3/bin/node');
  return major >= 22 || !existsSync(cached) ? process.execPath : cached;
}

// ---- the servers ------------------------------------------------------------------------------

const kentra = await startTestKentra({ extraArgs: ['--log-level', 'warn'] });
const { tenantId, servicePrincipal: sp } = kentra.endpoints;
const ca = readFileSync(kentra.endpoints.caFile);
const keyFile = join(kentra.dataDir, 'server-key.pem');
const certFile = join(kentra.dataDir, 'server.pem');
const kentraUrl = `https://127.0.0.1:${kentra.port}/${tenantId}/oauth2/v2.0/token`;
const kentraBody = new URLSearchParams({
  client_id: sp.appId,
  client_secret: sp.secret,
  grant_type: 'client_credentials',
  scope: 'https://management.azure.com/.default',
}).toString();
const sample = await post(kentraUrl.replace('127.0.0.1', 'localhost'), kentraBody, ca);
const kentraToken = assertJwt('Kentra', sample);
const servers: Server[] = [];
const problems: string[] = [];
const closers: (() => Promise<void>)[] = [() => kentra.close()];

// The bare HTTPS limit: the same certificate, a fixed body as long as Kentra's token response.
{
  const script = `const { createServer } = require('node:https'); const { readFileSync } = require('node:fs');
    const body = Buffer.from(process.argv[3]);
    const s = createServer({ key: readFileSync(process.argv[1]), cert: readFileSync(process.argv[2]) }, (req, res) => {
      req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }); res.end(body); });
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const { child, port } = await spawnWithPort(process.execPath, ['-e', script, keyFile, certFile, sample.text]);
  closers.push(() => stop(child));
  servers.push({
    name: 'bare node:https',
    url: `https://127.0.0.1:${port}/token`,
    bodies: [kentraBody],
    pid: child.pid!,
    detail: `a fixed ${sample.text.length}-byte JSON body, node ${process.version}`,
    close: () => stop(child),
  });
}
servers.push({
  name: 'Kentra',
  url: kentraUrl,
  // Rotated bodies: the same client and resource, each request with its own client-request-id.
  bodies: Array.from({ length: 64 }, (_, i) => `${kentraBody}&client-request-id=00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
  pid: kentra.process.pid!,
  detail: `kentra up (SQLite), node ${process.version}`,
  close: () => kentra.close(),
});

try {
  const node = peerNode();
  // oidc-provider signs through jose's WebCrypto, on libuv's thread pool as Kentra does: it gets the
  // pool size the kentra command gives itself (src/cli/bin.cts), so neither wins by the pool alone.
  const { child, port } = await spawnWithPort(
    node,
    [join(root, 'bench/peers/oidc-provider.mjs'), keyFile, certFile, 'bench', 'bench-secret-0123456789', 'api://bench'],
    { UV_THREADPOOL_SIZE: THREADPOOL_SIZE },
  );
  closers.push(() => stop(child));
  const url = `https://127.0.0.1:${port}/token`;
  const body = 'grant_type=client_credentials&client_id=bench&client_secret=bench-secret-0123456789&resource=api%3A%2F%2Fbench&scope=read';
  assertJwt('oidc-provider', await postRetried(url.replace('127.0.0.1', 'localhost'), body, ca));
  const version = (JSON.parse(readFileSync(join(root, 'node_modules/oidc-provider/package.json'), 'utf8')) as { version: string }).version;
  servers.push({
    name: 'oidc-provider',
    url,
    bodies: [body],
    pid: child.pid!,
    detail: `oidc-provider ${version}, node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}, thread pool ${THREADPOOL_SIZE}`,
    close: () => stop(child),
  });
} catch (err) {
  problems.push(`oidc-provider could not be started: ${(err as Error).message}`);
}

try {
  const t0 = Date.now();
  const build = spawnSync('bash', [join(root, 'scripts/build-go-tool.sh'), 'hydra'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (build.status !== 0) throw new Error(`building Hydra failed: ${build.stderr.slice(-500)}`);
  const bin = build.stdout.trim().split('\n').pop()!;
  const built = /built hydra \S+ in (\d+) s/.exec(build.stderr);
  console.log(`Hydra: ${bin} (${built ? `built in ${built[1]} s` : `cached; found in ${fmt((Date.now() - t0) / 1000, 1)} s`})`);
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const child = spawn(bin, ['serve', 'all', '--sqa-opt-out'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      DSN: 'memory',
      SECRETS_SYSTEM: randomBytes(24).toString('base64url'),
      URLS_SELF_ISSUER: `https://localhost:${publicPort}`,
      STRATEGIES_ACCESS_TOKEN: 'jwt',
      SERVE_PUBLIC_HOST: '127.0.0.1',
      SERVE_PUBLIC_PORT: String(publicPort),
      SERVE_ADMIN_HOST: '127.0.0.1',
      SERVE_ADMIN_PORT: String(adminPort),
      SERVE_TLS_ENABLED: 'true',
      SERVE_TLS_CERT_PATH: certFile,
      SERVE_TLS_KEY_PATH: keyFile,
      LOG_LEVEL: 'warn',
      // Hydra hashes the client secret on every token request (PBKDF2, 25,000 iterations by default);
      // Kentra checks a secret once a minute and remembers it. One iteration takes that cost out of
      // the comparison, so both are measured on issuing tokens.
      OAUTH2_HASHERS_ALGORITHM: 'pbkdf2',
      OAUTH2_HASHERS_PBKDF2_ITERATIONS: '1',
    },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  closers.push(() => stop(child));
  const admin = `https://localhost:${adminPort}/admin`;
  let ready = false;
  for (let i = 0; i < 120 && !ready && child.exitCode === null; i++) {
    ready = await post(`https://localhost:${adminPort}/health/ready`, undefined, ca, {})
      .then((r) => r.status === 200)
      .catch(() => false);
    if (!ready) await new Promise((r) => setTimeout(r, 500));
  }
  if (!ready) throw new Error(`Hydra did not become ready: ${stderr}`);
  const created = await postRetried(
    `${admin}/clients`,
    JSON.stringify({
      client_secret: 'bench-secret-0123456789',
      grant_types: ['client_credentials'],
      audience: ['api://bench'],
      access_token_strategy: 'jwt',
      token_endpoint_auth_method: 'client_secret_post',
    }),
    ca,
    { 'content-type': 'application/json' },
  );
  if (created.status !== 201) throw new Error(`creating Hydra's client failed: ${created.status} ${created.text.slice(0, 300)}`);
  const clientId = (JSON.parse(created.text) as { client_id: string }).client_id;
  const url = `https://127.0.0.1:${publicPort}/oauth2/token`;
  const body = `grant_type=client_credentials&client_id=${clientId}&client_secret=bench-secret-0123456789&audience=api%3A%2F%2Fbench`;
  assertJwt('Hydra', await postRetried(url.replace('127.0.0.1', 'localhost'), body, ca));
  servers.push({
    name: 'Hydra',
    url,
    bodies: [body],
    pid: child.pid!,
    detail: 'Ory Hydra v2.3.0, DSN=memory, TLS, PBKDF2 secret hash with 1 iteration',
    close: () => stop(child),
  });
} catch (err) {
  problems.push(`Hydra could not be started: ${(err as Error).message}`);
}

// ---- measuring --------------------------------------------------------------------------------

const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const signingInput = Buffer.from(kentraToken.split('.').slice(0, 2).join('.'));
/**
 * Signs per CPU-second of this thread (what one core does, however busy the machine is): the loop's
 * count over the process's CPU time while it ran (this process does nothing else meanwhile).
 */
const rawSign = () => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const perWallSecond = rate(() => sign('sha256', signingInput, privateKey), 2000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const { user, system } = process.cpuUsage(c0);
  return (perWallSecond * wall) / ((user + system) / 1e6);
};

const report = new Report('tokens');
let failed = false;
try {
  rate(() => sign('sha256', signingInput, privateKey), 300); // warm-up
  const signs = [rawSign()];
  const results = new Map<string, Measured[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of servers) {
      const load = (seconds: number) =>
        runWrk({ url: s.url, headers: form, bodies: s.bodies, connections: CONNECTIONS, threads: THREADS, seconds });
      await load(WARMUP_SECONDS);
      const c0 = cpuSeconds(s.pid);
      const r: WrkResult = await load(SECONDS);
      const cpu = cpuSeconds(s.pid) - c0;
      const m = { requests: r.requests, seconds: r.seconds, cpuSeconds: cpu, errors: r.errors, p50: r.p50, p99: r.p99 };
      results.set(s.name, [...(results.get(s.name) ?? []), m]);
      console.log(
        `  round ${round + 1} ${s.name}: ${fmt(r.perSecond)} responses/s, ${fmt(cpu / r.seconds, 2)} cores, ${fmt(r.requests / cpu)} per CPU-second, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ${r.errors} errors`,
      );
      if (r.errors > 0) {
        failed = true;
        // wrk counts errors without saying what they were: one request now shows the server's answer.
        const probe = await post(s.url.replace('127.0.0.1', 'localhost'), s.bodies[0]!, ca).catch((err: Error) => ({
          status: 0,
          text: err.message,
        }));
        console.log(
          `  round ${round + 1} ${s.name} answered ${r.errors} errors; one request after the round: ${probe.status} ${probe.text.slice(0, 300)}`,
        );
      }
    }
  }
  signs.push(rawSign());
  const sign1 = (signs[0]! + signs[1]!) / 2;

  const sum = (name: string) => {
    const list = results.get(name);
    if (!list) return null;
    const requests = list.reduce((a, m) => a + m.requests, 0);
    const seconds = list.reduce((a, m) => a + m.seconds, 0);
    const cpu = list.reduce((a, m) => a + m.cpuSeconds, 0);
    const errors = list.reduce((a, m) => a + m.errors, 0);
    // Only answers with a token count: a server that answers errors fast must not look fast.
    const tokens = requests - errors;
    return {
      perSecond: tokens / seconds,
      perCpuSecond: tokens / cpu,
      cores: cpu / seconds,
      detail: `${requests} responses in ${ROUNDS} × ${SECONDS} s, ${fmt(cpu / seconds, 2)} cores, ${errors} errors (not counted as tokens); p99 ${list.map((m) => fmt(m.p99, 1)).join(' / ')} ms`,
    };
  };
  const k = sum('Kentra')!;
  const bare = sum('bare node:https');
  const op = sum('oidc-provider');
  const hy = sum('Hydra');
  const wrkLine = `wrk -t${THREADS} -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${SECONDS} s after ${WARMUP_SECONDS} s warm-up each`;
  const detailOf = (name: string) => servers.find((s) => s.name === name)?.detail ?? '';

  report.add({
    name: 'raw RS256 sign, one core',
    value: sign1,
    unit: 'signs/CPU-s',
    detail: `node:crypto ${process.version}, 2048-bit key, ${signingInput.length}-byte input (Kentra's token); before ${fmt(signs[0]!)}, after ${fmt(signs[1]!)}`,
  });
  if (bare)
    report.add({
      name: 'bare node:https (token-sized JSON)',
      value: bare.perSecond,
      unit: 'requests/s',
      detail: `${detailOf('bare node:https')}; ${bare.detail}; ${wrkLine}`,
    });
  if (op) {
    report.add({
      name: 'Kentra client_credentials ÷ oidc-provider',
      value: k.perSecond,
      unit: 'tokens/s',
      limit: { name: 'oidc-provider', value: op.perSecond },
      goal: { op: '>=', ratio: 1.5 },
      detail: `Kentra: ${k.detail}. oidc-provider (${detailOf('oidc-provider')}): ${op.detail}`,
    });
  } else {
    report.add({
      name: 'Kentra client_credentials (oidc-provider NOT measured)',
      value: k.perSecond,
      unit: 'tokens/s',
      detail: problems.join('; '),
    });
  }
  if (hy) {
    report.add({
      name: 'Kentra client_credentials ÷ Hydra',
      value: k.perSecond,
      unit: 'tokens/s',
      limit: { name: 'Hydra v2.3.0', value: hy.perSecond },
      goal: { op: '>=', ratio: 1.5 },
      detail: `Hydra (${detailOf('Hydra')}): ${hy.detail}`,
    });
  } else {
    report.add({
      name: 'Kentra client_credentials (Hydra NOT measured)',
      value: k.perSecond,
      unit: 'tokens/s',
      detail: problems.join('; '),
    });
  }
  report.add({
    name: 'Kentra tokens per server CPU-second ÷ raw sign per core',
    value: k.perCpuSecond,
    unit: 'tokens/CPU-s',
    limit: { name: 'raw RS256 sign, one core', value: sign1, unit: 'signs/CPU-s' },
    goal: { op: '>=', ratio: 0.7 },
    detail: `Kentra used ${fmt(k.cores, 2)} cores`,
  });
  if (bare) {
    report.add({
      name: 'Kentra tokens/s ÷ bare HTTPS (context)',
      value: k.perSecond,
      unit: 'tokens/s',
      limit: { name: 'bare node:https', value: bare.perSecond, unit: 'requests/s' },
    });
  }
  if (op)
    report.add({
      name: 'oidc-provider tokens per CPU-second (context)',
      value: op.perCpuSecond,
      unit: 'tokens/CPU-s',
      limit: { name: 'raw sign', value: sign1, unit: 'signs/CPU-s' },
    });
  if (hy)
    report.add({
      name: 'Hydra tokens per CPU-second (context)',
      value: hy.perCpuSecond,
      unit: 'tokens/CPU-s',
      limit: { name: 'raw sign', value: sign1, unit: 'signs/CPU-s' },
    });
  for (const p of problems) console.log(`  NOT MEASURED: ${p}`);
  report.save();
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
}
process.exit(failed ? 1 : 0);
