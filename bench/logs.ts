// npm run bench -- logs
// What the logs of decisions cost their hot paths (issue 18: "no more than 5 %"), in the same run:
//   - client_credentials token issuance with the sign-in log on vs off (wrk, in its own process);
//   - TokenReview and SubjectAccessReview webhook decisions with the cluster access log on vs off
//     (a Node keep-alive client in its own process: wrk cannot present the client certificate).
// Two Kentras run in this process (startKentra, SQLite, port 0, silent logger): one with both logs,
// one with `signInLog: false, accessLog: false`. Runs are made in pairs (on then off, off then on, …);
// the ratio reported is the median of the pairs' ratios (on ÷ off), next to the goal ≥ 0.95, with the
// median rate of each side: the machine is shared and its speed drifts from one pair to the next, so
// the paired ratio and the load average matter more than the absolute rates.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startKentra, type RunningKentra } from '../src/index.js';
import { aksUserTokens, benchCluster, tokenReviewBody } from './_measure.js';
import { Report } from './_report.js';
import { runWrk } from './_wrk.js';

const ROUNDS = Number(process.env.BENCH_LOGS_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_LOGS_SECONDS ?? 4);
const CONNECTIONS = 16;
const USER = '77777777-0000-4000-8000-000000000001';

interface Run {
  perSecond: number;
  requests?: number;
  /** This process's (the server's) CPU µs per request. */
  cpuPerRequest?: number;
  p50: number;
  p99: number;
  errors: number;
}
interface Side {
  k: RunningKentra;
  dir: string;
  token: { url: string; body: string };
  webhook: { tokenreviews: string; subjectaccessreviews: string; certPem: string; keyPem: string };
  tokenReviews: string[];
  accessReviews: string[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function side(logs: boolean): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'kentra-bench-logs-'));
  const k = await startKentra({
    dataDir: join(dir, 'data'),
    port: 0,
    logger: pino({ level: 'silent' }),
    provisioningDelayMs: 0,
    ...(logs ? {} : { signInLog: false, accessLog: false }),
  });
  const { authority, tenantId, servicePrincipal: sp } = k.endpoints;
  const webhook = await benchCluster(k.endpoints, { azureRbac: true });
  // Tokens as Kentra issues them for the AKS server app (signed with its current key), 50 users, each reviewed in turn.
  const tokens = await aksUserTokens(tenantId, k.services.keys.current(), 50, (i) => ({
    upn: `user${i}@bench`,
    oid: USER,
    groups: ['g1', 'g2', 'g3'],
  }));
  const verbs = ['get', 'list', 'watch'];
  return {
    k,
    dir,
    token: {
      url: `${authority}/${tenantId}/oauth2/v2.0/token`,
      body: new URLSearchParams({
        client_id: sp.appId,
        client_secret: sp.secret,
        grant_type: 'client_credentials',
        scope: 'https://management.azure.com/.default',
      }).toString(),
    },
    webhook: {
      tokenreviews: webhook.tokenReviews,
      subjectaccessreviews: webhook.accessReviews,
      certPem: webhook.certPem,
      keyPem: webhook.keyPem,
    },
    tokenReviews: tokens.map(tokenReviewBody),
    accessReviews: Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `user${i}@bench`,
          groups: ['g1', 'g2'],
          extra: { oid: [USER] },
          resourceAttributes: { verb: verbs[i % 3], resource: 'pods', namespace: `ns${i % 5}` },
        },
      }),
    ),
  };
}

const loaderScript = join(fileURLToPath(new URL('.', import.meta.url)), '_logs-load.js');
/** One load process per side, kept for the whole bench (its connections stay open between runs). */
function loader(s: Side) {
  const file = join(s.dir, 'load.json');
  writeFileSync(
    file,
    JSON.stringify({
      urls: s.webhook,
      bodies: { tokenreviews: s.tokenReviews, subjectaccessreviews: s.accessReviews },
      caFile: s.k.endpoints.caFile,
      certPem: s.webhook.certPem,
      keyPem: s.webhook.keyPem,
      connections: CONNECTIONS,
    }),
  );
  const child = spawn(process.execPath, [loaderScript, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async run(path: 'tokenreviews' | 'subjectaccessreviews', seconds: number): Promise<Run> {
      child.stdin!.write(`${JSON.stringify({ path, seconds })}\n`);
      const next = await lines.next();
      if (next.done) throw new Error('the webhook load process ended');
      return JSON.parse(next.value) as Run;
    },
    close: () => child.stdin!.end(),
  };
}
const loaders = new Map<Side, ReturnType<typeof loader>>();
const webhookLoad = (s: Side, path: 'tokenreviews' | 'subjectaccessreviews', seconds: number): Promise<Run> => {
  if (!loaders.has(s)) loaders.set(s, loader(s));
  return loaders.get(s)!.run(path, seconds);
};
const tokenLoad = (s: Side, seconds: number): Promise<Run> =>
  runWrk({
    url: s.token.url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    bodies: [s.token.body],
    connections: CONNECTIONS,
    seconds,
  });

const report = new Report('logs');
const on = await side(true);
const off = await side(false);
let failed = false;
try {
  const workloads: { name: string; unit: string; run: (s: Side, seconds: number) => Promise<Run> }[] = [
    { name: 'client_credentials tokens/s, sign-in log on', unit: 'tokens/s', run: tokenLoad },
    { name: 'TokenReview decisions/s, access log on', unit: 'reviews/s', run: (s, t) => webhookLoad(s, 'tokenreviews', t) },
    { name: 'SubjectAccessReview decisions/s, access log on', unit: 'reviews/s', run: (s, t) => webhookLoad(s, 'subjectaccessreviews', t) },
  ];
  // BENCH_LOGS_ONLY=<text>: only the workloads whose name holds it (e.g. TokenReview).
  const only = process.env.BENCH_LOGS_ONLY;
  for (const w of workloads.filter((x) => !only || x.name.includes(only))) {
    // Warm-up on both: TLS sessions, JIT, the token and decision caches, SQLite pages. Rates still rose
    // through the first pairs after 2 s of it, so each side gets 4 s.
    await w.run(on, 4);
    await w.run(off, 4);
    const runs = { on: [] as Run[], off: [] as Run[] };
    for (let i = 0; i < ROUNDS; i++) {
      // on, off, off, on, on, off …: each side goes first as often as the other.
      const order: ('on' | 'off')[] = i % 2 ? ['off', 'on'] : ['on', 'off'];
      for (const o of order) {
        // Kentra runs in this process and the load in others: this process's CPU time per request is
        // the server's cost, much less sensitive to a busy machine than the rate. The window includes
        // 400 ms after the run, in which the log's last batch is written.
        const cpu0 = process.cpuUsage();
        const r = await w.run(o === 'on' ? on : off, SECONDS);
        await new Promise((resolve) => setTimeout(resolve, 400));
        const cpu = process.cpuUsage(cpu0);
        runs[o].push({ ...r, cpuPerRequest: (cpu.user + cpu.system) / Math.max(1, r.requests ?? r.perSecond * SECONDS) });
      }
    }
    const errors = [...runs.on, ...runs.off].reduce((n, r) => n + r.errors, 0);
    if (errors) failed = true;
    const rates = (rs: Run[]) => rs.map((r) => Math.round(r.perSecond)).join(', ');
    const paired = (of: (r: Run) => number) => median(runs.on.map((r, i) => of(r) / of(runs.off[i]!)));
    report.add({
      name: w.name,
      value: median(runs.on.map((r) => r.perSecond)),
      unit: w.unit,
      limit: { name: 'log off', value: median(runs.off.map((r) => r.perSecond)) },
      goal: { op: '>=', ratio: 0.95 },
      ratio: paired((r) => r.perSecond),
      detail: `medians of ${ROUNDS} interleaved ${SECONDS}-s runs each, ${CONNECTIONS} keep-alive connections; on: ${rates(runs.on)}; off: ${rates(runs.off)}; p50 on ${median(runs.on.map((r) => r.p50)).toFixed(2)} ms, off ${median(runs.off.map((r) => r.p50)).toFixed(2)} ms; ${errors} errors`,
    });
    report.add({
      name: `${w.name.split(',')[0]!.replace(/\/s$/, '')}: server CPU per request, ${w.name.split(', ')[1]}`,
      value: median(runs.on.map((r) => r.cpuPerRequest!)),
      unit: 'µs',
      limit: { name: 'log off', value: median(runs.off.map((r) => r.cpuPerRequest!)) },
      goal: { op: '<=', ratio: 1.05 },
      ratio: paired((r) => r.cpuPerRequest!),
      detail: `on: ${runs.on.map((r) => Math.round(r.cpuPerRequest!)).join(', ')}; off: ${runs.off.map((r) => Math.round(r.cpuPerRequest!)).join(', ')} µs`,
    });
  }
  const uid = /\/clusters\/([^/]+)\//.exec(on.webhook.tokenreviews)![1]!;
  const written = await on.k.store.listAccessDecisions(uid, { top: 1 });
  if (!written.items.length && (!only || /Review/.test(only))) {
    failed = true;
    console.log('  WARNING: the access log of the "on" side holds no entry');
  }
  report.save();
} finally {
  for (const l of loaders.values()) l.close();
  for (const s of [on, off]) {
    await s.k.close();
    rmSync(s.dir, { recursive: true, force: true });
  }
}
process.exit(failed ? 1 : 0);
