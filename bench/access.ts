// npm run bench -- access
// TokenReview requests per second against a real `kentra up` process, over HTTPS with the cluster's
// webhook client certificate (as the kube-apiserver calls it), on a cache miss (every token new:
// ≥ 10,000 distinct tokens) and a cache hit, next to the limits measured in the same run with the
// same load generator: the raw RS256 verify rate of node:crypto on one core, and a bare node:https
// server answering a fixed TokenReview-sized JSON. Goals (issue 17): miss ≥ 0.9 × 1/(1/verify +
// 1/bare), hit ≥ 0.9 × bare.
//
// The generator: the webhook answers only a client certificate issued by Kentra's CA for the cluster
// (as Guard answers only its own), and wrk cannot present one, so the load comes from
// bench/_load-worker.ts (its own process, keep-alive, client certificate, pre-encoded requests). That
// it is not the bottleneck is measured: wrk and the worker both drive the bare server, and the
// ratio is printed. With KENTRA_BENCH_GUARD=/path/to/guard, Guard v0.16 runs beside it as the
// TokenReview webhook of Kentra's tenant (current-clients.md §5.2–5.3) under the same generator.
//
// Tokens are signed with Kentra's own key (read from its store): getting thousands of distinct real
// tokens through the password grant would measure scrypt instead. KENTRA_BENCH_PROFILE=<dir> runs
// the server with --cpu-prof into that directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { verify } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyRing } from '../src/identity/index.js';
import { sealerForDataDir } from '../src/shared/key-sealing.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/shared/clock.js';
import { startTestKentra } from '../test/support/kentra.js';
import { AKS_SERVER, aksUserTokens, benchCluster, fmt, rate, tokenReviewBody } from './_measure.js';
import { runLoad, type LoadOptions, type LoadResult } from './_load-worker.js';
import { Report } from './_report.js';
import { runWrk, wrkPath } from './_wrk.js';
import { WARM_UP } from './_bare.js';
import { startGuard, GUARD_UNAVAILABLE } from './_guard.js';

const ROUNDS = 2;
const MISS_PER_ROUND = Number(process.env.KENTRA_BENCH_MISS_TOKENS ?? 6000);
const HIT_TOKENS = 100;
const WARM_TOKENS = WARM_UP; // distinct tokens reviewed to warm up (see WARM_UP), then HIT_TOKENS reviewed for a second
const CONNECTIONS = 16;
const SECONDS = 4;
const USER = '77777777-0000-4000-8000-000000000001';

const report = new Report('access');
const profileDir = process.env.KENTRA_BENCH_PROFILE;
const k = await startTestKentra({
  // Guard reaches Kentra's v1 issuer by its name, sts.windows.net (bench/_guard.ts).
  extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0', ...(process.env.KENTRA_BENCH_GUARD ? ['--azure-hostnames'] : [])],
  ...(profileDir ? { env: { NODE_OPTIONS: `--require ${cpuProfilePreload(profileDir)}` } } : {}),
});
const children: ChildProcess[] = [];
const outcome = { failed: false };
try {
  const { tenantId, caFile } = k.endpoints;
  const caPem = readFileSync(caFile, 'utf8');
  // What `kentra aks webhook-config` writes: the webhook URL and the cluster-bound client certificate.
  const { tokenReviews: url, certPem, keyPem } = await benchCluster(k.endpoints);

  // Tokens as Kentra issues them for the AKS server app (v1), signed with the key Kentra signs with now.
  const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
  const keys = new KeyRing(store, systemClock);
  await keys.refresh();
  const { kid, privateKey } = keys.current();
  const publicKey = keys.publicKey(kid)!;
  await store.close();
  const total = WARM_TOKENS + HIT_TOKENS + ROUNDS * MISS_PER_ROUND;
  const tokens = await aksUserTokens(tenantId, { kid, privateKey }, total, () => ({
    oid: USER,
    appid: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
  }));
  const body = tokenReviewBody;
  const warm = tokens.slice(0, WARM_TOKENS).map(body);
  const hitBodies = tokens.slice(WARM_TOKENS, WARM_TOKENS + HIT_TOKENS).map(body);
  const missRound = (r: number) =>
    tokens.slice(WARM_TOKENS + HIT_TOKENS + r * MISS_PER_ROUND, WARM_TOKENS + HIT_TOKENS + (r + 1) * MISS_PER_ROUND).map(body);
  const json = { 'content-type': 'application/json', accept: 'application/json' };
  const gen = (target: string, bodies: string[], extra: Partial<LoadOptions> = {}) =>
    runLoad({ url: target, bodies, headers: json, caPem, certPem, keyPem, connections: CONNECTIONS, seconds: SECONDS, ...extra });

  // The first answer, checked: authenticated, with the token's user. Its size is the bare server's answer.
  const first = await gen(url, [hitBodies[0]!], { count: 1, connections: 1 });
  if (first.statuses['200'] !== 1) throw new Error(`the first TokenReview was not answered 200: ${JSON.stringify(first.statuses)}`);
  const sample = await webhookAnswer(url, hitBodies[0]!, caPem, certPem, keyPem);
  const answer = JSON.parse(sample) as { status?: { authenticated?: boolean; user?: { username?: string } } };
  if (answer.status?.authenticated !== true || answer.status.user?.username !== `user${WARM_TOKENS}@bench.example`)
    throw new Error(`the first TokenReview was not authenticated as the token's user: ${sample}`);

  // The bare HTTPS server runs in a process of its own, as Kentra does, with the same certificate and mTLS.
  const bare = await startBare(join(k.dataDir, 'server-key.pem'), join(k.dataDir, 'server.pem'), sample);
  children.push(bare.process);
  const bareUrl = `https://localhost:${bare.port}/`;

  const guard = process.env.KENTRA_BENCH_GUARD
    ? await startGuard({ bin: process.env.KENTRA_BENCH_GUARD, kentra: k, tenantId, serverAppId: AKS_SERVER })
    : null;
  if (guard) {
    children.push(guard.process);
    const g = await webhookAnswer(guard.url, hitBodies[0]!, guard.caPem, guard.certPem, guard.keyPem);
    const u = (JSON.parse(g) as typeof answer).status;
    if (u?.authenticated !== true || u.user?.username !== `user${WARM_TOKENS}@bench.example`)
      throw new Error(`Guard did not authenticate Kentra's token as its user: ${g}`);
    console.log(`  Guard answers Kentra's token: ${g.trim()}`);
  }

  // Warm-up: TLS, JIT, the first key look-up.
  await gen(url, warm, { count: warm.length, seconds: 60 });
  await gen(url, hitBodies, { seconds: 1 });
  await gen(bareUrl, [hitBodies[0]!], { seconds: 1 });
  if (guard) await gen(guard.url, warm, { seconds: 1, caPem: guard.caPem, certPem: guard.certPem, keyPem: guard.keyPem });

  const verifyRate = () => {
    const [h, p, s] = tokens[0]!.split('.');
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s!, 'base64url');
    rate(() => verify('sha256', data, publicKey, sig), 200);
    return rate(() => verify('sha256', data, publicKey, sig), 1000);
  };
  const wrk = wrkPath();
  const rounds: {
    verify: number;
    bare: LoadResult;
    bareWrk: number | null;
    miss: LoadResult;
    hit: LoadResult;
    guardMiss?: LoadResult;
    guardHit?: LoadResult;
  }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved: each round measures its own limits next to its own figures.
    const verifyPerSecond = verifyRate();
    const bareRun = await gen(bareUrl, [hitBodies[0]!]);
    const bareWrk = wrk
      ? (await runWrk({ url: bareUrl, bodies: [hitBodies[0]!], headers: json, connections: CONNECTIONS, seconds: SECONDS })).perSecond
      : null;
    const misses = missRound(r);
    const miss = await gen(url, misses, { count: misses.length, seconds: 60 });
    const hit = await gen(url, hitBodies);
    // The bare limit again after the figures, so that a change in the machine's load shows in both.
    const bareAfter = await gen(bareUrl, [hitBodies[0]!]);
    const bareBoth: LoadResult = {
      ...bareRun,
      requests: bareRun.requests + bareAfter.requests,
      seconds: bareRun.seconds + bareAfter.seconds,
      perSecond: (bareRun.requests + bareAfter.requests) / (bareRun.seconds + bareAfter.seconds),
      errors: bareRun.errors + bareAfter.errors,
    };
    const round: (typeof rounds)[number] = { verify: verifyPerSecond, bare: bareBoth, bareWrk, miss, hit };
    if (guard) {
      const g = { caPem: guard.caPem, certPem: guard.certPem, keyPem: guard.keyPem };
      // Guard keeps no token cache of its own (reference guard-rbac.md §1.1): every review verifies.
      round.guardMiss = await gen(guard.url, misses, { count: misses.length, seconds: 60, ...g });
      round.guardHit = await gen(guard.url, hitBodies, g);
    }
    rounds.push(round);
    console.log(
      `  round ${r + 1}: verify ${fmt(verifyPerSecond)}/s, bare ${fmt(bareRun.perSecond)}/s (wrk ${bareWrk === null ? 'n/a' : fmt(bareWrk)}/s), ` +
        `miss ${fmt(miss.perSecond)}/s (${miss.requests} tokens, ${miss.errors} errors), hit ${fmt(hit.perSecond)}/s` +
        (round.guardMiss ? `, Guard miss ${fmt(round.guardMiss.perSecond)}/s, Guard hit ${fmt(round.guardHit!.perSecond)}/s` : ''),
    );
  }

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const verifyPs = mean(rounds.map((r) => r.verify));
  const barePs = mean(rounds.map((r) => r.bare.perSecond));
  const missPs = mean(rounds.map((r) => r.miss.perSecond));
  const hitPs = mean(rounds.map((r) => r.hit.perSecond));
  const missLimit = 1 / (1 / verifyPs + 1 / barePs);
  const errors = rounds.reduce((a, r) => a + r.miss.errors + r.hit.errors + r.bare.errors, 0);
  outcome.failed = errors > 0;
  const lat = (x: LoadResult) => `p50 ${fmt(x.p50, 2)} ms, p99 ${fmt(x.p99, 2)} ms`;
  const per = (f: (r: (typeof rounds)[number]) => number) => rounds.map((r) => fmt(f(r))).join(' and ');
  console.log(
    `TokenReview over HTTPS with the cluster's client certificate (real kentra up, ${CONNECTIONS} keep-alive connections, ${ROUNDS} rounds; means of the rounds):`,
  );
  report.add({
    name: 'raw RS256 verify (node:crypto, one core)',
    value: verifyPs,
    unit: 'verifies/s',
    detail: `rounds: ${per((r) => r.verify)}`,
  });
  report.add({
    name: 'bare HTTPS (node:https, TokenReview-sized JSON, mTLS)',
    value: barePs,
    unit: 'requests/s',
    detail: `rounds: ${per((r) => r.bare.perSecond)}; ${lat(rounds[0]!.bare)}`,
  });
  const bareWrks = rounds.map((r) => r.bareWrk).filter((x): x is number => x !== null);
  if (bareWrks.length)
    report.add({
      name: 'load generator check: bare HTTPS by the Node worker vs by wrk',
      value: barePs,
      unit: 'requests/s',
      limit: { name: 'wrk (no client certificate)', value: mean(bareWrks) },
      goal: { op: '>=', ratio: 0.9 },
      detail: `the worker used ${fmt(rounds[0]!.bare.cpuSeconds / rounds[0]!.bare.seconds, 2)} cores; wrk rounds: ${bareWrks.map((x) => fmt(x)).join(' and ')}`,
    });
  report.add({
    name: 'TokenReview cache miss (every token new)',
    value: missPs,
    unit: 'reviews/s',
    limit: { name: '1/(1/raw verify + 1/bare HTTPS)', value: missLimit },
    goal: { op: '>=', ratio: 0.9 },
    detail: `${rounds.reduce((a, r) => a + r.miss.requests, 0) + WARM_TOKENS + HIT_TOKENS} distinct tokens; rounds: ${per((r) => r.miss.perSecond)}; ${lat(rounds[0]!.miss)}; ${rounds.reduce((a, r) => a + r.miss.errors, 0)} errors`,
  });
  report.add({
    name: 'TokenReview cache hit (100 tokens reviewed before)',
    value: hitPs,
    unit: 'reviews/s',
    limit: { name: 'bare HTTPS', value: barePs },
    goal: { op: '>=', ratio: 0.9 },
    detail: `rounds: ${per((r) => r.hit.perSecond)}; ${lat(rounds[0]!.hit)}; ${rounds.reduce((a, r) => a + r.hit.errors, 0)} errors`,
  });
  if (guard) {
    const gMiss = mean(rounds.map((r) => r.guardMiss!.perSecond));
    const gHit = mean(rounds.map((r) => r.guardHit!.perSecond));
    report.add({
      name: 'Guard v0.16.28 TokenReview, new tokens',
      value: gMiss,
      unit: 'reviews/s',
      limit: { name: '1/(1/raw verify + 1/bare HTTPS)', value: missLimit },
      detail: `rounds: ${per((r) => r.guardMiss!.perSecond)}; ${lat(rounds[0]!.guardMiss!)}; ${rounds.reduce((a, r) => a + r.guardMiss!.errors, 0)} errors`,
    });
    report.add({
      name: 'Guard v0.16.28 TokenReview, tokens reviewed before',
      value: gHit,
      unit: 'reviews/s',
      detail: `rounds: ${per((r) => r.guardHit!.perSecond)}; ${lat(rounds[0]!.guardHit!)}; ${rounds.reduce((a, r) => a + r.guardHit!.errors, 0)} errors`,
    });
    report.add({ name: 'Kentra ÷ Guard, new tokens', value: missPs / gMiss, unit: '×' });
    report.add({ name: 'Kentra ÷ Guard, tokens reviewed before', value: hitPs / gHit, unit: '×' });
  } else {
    console.log(`  Guard side by side: skipped (set KENTRA_BENCH_GUARD=/path/to/guard). ${GUARD_UNAVAILABLE}`);
  }
  report.save();
} finally {
  for (const c of children) c.kill(); // by their process objects: the ones this run started
  await k.close();
}
process.exit(outcome.failed ? 1 : 0);

/**
 * A preload that profiles the server process from start to exit (--cpu-prof is not allowed in
 * NODE_OPTIONS on Node 20, and the server is started by the test helper): it writes
 * `<dir>/kentra-<pid>.cpuprofile` when the process exits.
 */
function cpuProfilePreload(dir: string): string {
  const file = join(dir, 'profile-preload.cjs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    file,
    `const { Session } = require('node:inspector'); const { writeFileSync } = require('node:fs');
const s = new Session(); s.connect();
s.post('Profiler.enable'); s.post('Profiler.setSamplingInterval', { interval: 200 }); s.post('Profiler.start');
process.on('exit', () => s.post('Profiler.stop', (err, r) => { if (!err) writeFileSync(${JSON.stringify(dir)} + '/kentra-' + process.pid + '.cpuprofile', JSON.stringify(r.profile)); }));
`,
  );
  return file;
}

/** One TokenReview's answer text (to check it, and to size the bare server's answer like it). */
async function webhookAnswer(target: string, reviewBody: string, ca: string, cert: string, key: string): Promise<string> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'POST', ca, cert, key, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.end(reviewBody);
  });
}

/** A node:https server in its own process answering every POST with `answer` (a TokenReview-sized JSON). */
async function startBare(keyFile: string, certFile: string, answer: string): Promise<{ process: ChildProcess; port: number }> {
  const script = `const { createServer } = require('node:https'); const { readFileSync } = require('node:fs');
    const answer = Buffer.from(process.argv[3]);
    const s = createServer({ key: readFileSync(process.argv[1]), cert: readFileSync(process.argv[2]), requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 60000 },
      (req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }); res.end(answer); }); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const p = spawn(process.execPath, ['-e', script, keyFile, certFile, answer], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => p.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  return { process: p, port };
}
