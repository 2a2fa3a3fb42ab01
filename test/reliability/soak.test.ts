import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import {
  AKS_SERVER_SCOPE,
  bootstrapToken,
  call,
  closeAgents,
  REFUSED,
  NO_ANSWER_IN_TIME,
  rssKiB,
  sleep,
  tokenForm,
  tokenReviewBody,
  trace,
  webhookCluster,
  type Answer,
  type ClientCertificate,
} from './load.js';

// Issue 16: a soak at a fixed rate with the RSS of the `kentra up` process sampled every second. One
// instance on SQLite; a mix of client-credentials token requests, TokenReviews of those tokens (each
// token reviewed once, so every review is a cache miss that fills the token cache), ARM GETs and Graph
// GETs. Every answer must be the expected one (0 errors, 0 5xx). The RSS growth bound is checked only
// on a long run (SOAK_SECONDS >= 600: `npm run soak`); a short run (CI: 60 s) prints its figures and
// never fails on a memory or timing figure.
//
// SOAK_SECONDS (default 60), SOAK_RATE (requests per second, default 200), SOAK_RSS_FILE (write the
// RSS series there as JSON, for scripts/soak.mjs).

const positive = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, not '${raw}'`);
  return n;
};
const SECONDS = positive('SOAK_SECONDS', 60);
const RATE = positive('SOAK_RATE', 200);
/** A long run is where the RSS bound is checked. */
const LONG_RUN_S = 600;
/** The RSS at the end may exceed the RSS after warm-up by this fraction at most (issue 16 measured +3.7 % over 10 minutes). */
const RSS_GROWTH_BOUND = 0.25;
/** Requests in flight at most; a request due while the server is this far behind is counted as not sent (a figure, not an error). */
const MAX_IN_FLIGHT = 64;
const TICK_MS = 20;

type Kind = 'token' | 'tokenreview' | 'arm' | 'graph';
const KINDS: Kind[] = ['token', 'tokenreview', 'arm', 'graph'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

describe('reliability: soak at a fixed rate with RSS sampled', { timeout: (SECONDS + 120) * 1000 }, () => {
  let k: TestKentra;
  let armToken: string;
  let graphToken: string;
  let cert: ClientCertificate;
  let reviewPath: string;

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0', '--log-level', 'warn'] });
    armToken = await bootstrapToken(k, 'arm');
    graphToken = await bootstrapToken(k, 'graph');
    ({ cert, tokenReviewPath: reviewPath } = await webhookCluster(k, armToken, 'soak'));
  });
  after(async () => {
    closeAgents();
    await k?.close();
  });

  it(`issue 16: ${RATE} requests/s for ${SECONDS} s (tokens, TokenReviews of distinct tokens, ARM GET, Graph GET): 0 errors, 0 5xx${SECONDS >= LONG_RUN_S ? `, RSS growth ≤ ${RSS_GROWTH_BOUND * 100} %` : ' (RSS printed, bound checked on runs ≥ 600 s)'}`, async () => {
    const tenant = k.endpoints.tenantId;
    const pid = k.process.pid!;
    const counts: Record<Kind, number> = { token: 0, tokenreview: 0, arm: 0, graph: 0 };
    const latencies: number[] = [];
    const errors: string[] = [];
    let fiveXx = 0;
    let sent = 0;
    let notSent = 0;
    let inFlight = 0;
    /** Tokens issued for the AKS server app, each reviewed once by the TokenReview that follows its request. */
    const toReview: Promise<string | null>[] = [];

    const expectOk = (kind: Kind, a: Answer, ok: boolean) => {
      latencies.push(a.ms);
      counts[kind]++;
      if (a.status >= 500) fiveXx++;
      if (!ok) {
        const what =
          a.status === REFUSED ? 'refused' : a.status === NO_ANSWER_IN_TIME ? 'no answer in time' : `${a.status} ${a.text.slice(0, 160)}`;
        errors.push(`${kind}: ${what}`);
        trace(`soak error ${kind}: ${what}`);
      }
    };

    const one = async (kind: Kind): Promise<void> => {
      if (kind === 'token') {
        const issued = call(k, 'POST', `/${tenant}/oauth2/v2.0/token`, {
          body: tokenForm(k, AKS_SERVER_SCOPE),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }).then((a) => {
          expectOk(kind, a, a.status === 200);
          return a.status === 200 ? (a.json().access_token as string) : null;
        });
        toReview.push(issued);
        await issued;
      } else if (kind === 'tokenreview') {
        const token = await toReview.shift();
        if (!token) return; // its token request failed, and is counted as an error already
        const a = await call(k, 'POST', reviewPath, {
          body: tokenReviewBody(token),
          headers: { 'content-type': 'application/json' },
          cert,
        });
        expectOk(kind, a, a.status === 200 && a.json().status?.authenticated === true);
      } else if (kind === 'arm') {
        const a = await call(k, 'GET', `/subscriptions/${k.endpoints.subscriptionId}/resourcegroups?api-version=2021-04-01`, {
          headers: { authorization: `Bearer ${armToken}` },
        });
        expectOk(kind, a, a.status === 200);
      } else {
        const a = await call(k, 'GET', '/v1.0/users', { headers: { authorization: `Bearer ${graphToken}` } });
        expectOk(kind, a, a.status === 200);
      }
    };

    const samples: { t: number; kib: number }[] = [];
    const started = Date.now();
    const sample = () => {
      const kib = rssKiB(pid);
      if (kib !== null) samples.push({ t: (Date.now() - started) / 1000, kib });
    };
    sample();
    const sampler = setInterval(sample, 1000);
    const pending = new Set<Promise<void>>();
    try {
      // Open loop: requests leave on schedule (RATE per second), whether or not earlier ones have been answered.
      const until = started + SECONDS * 1000;
      let next = 0; // index of the next request in the fixed mix
      while (Date.now() < until) {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE);
        for (; next < due; next++) {
          const kind = KINDS[next % KINDS.length]!;
          // A TokenReview goes with the token request before it: both leave, or neither.
          if (inFlight >= MAX_IN_FLIGHT && kind !== 'tokenreview') {
            notSent++;
            if (kind === 'token') {
              notSent++;
              next++;
            }
            continue;
          }
          sent++;
          inFlight++;
          const p = one(kind).finally(() => {
            inFlight--;
            pending.delete(p);
          });
          pending.add(p);
        }
        if (samples.length && samples.length % 60 === 0)
          trace(`soak ${samples.length} s: sent ${sent}, errors ${errors.length}, rss ${samples.at(-1)!.kib} KiB`);
        await sleep(TICK_MS);
      }
      await Promise.all(pending);
    } finally {
      clearInterval(sampler);
    }
    sample();
    const seconds = (Date.now() - started) / 1000;
    assert.ok(k.process.exitCode === null && k.process.signalCode === null, 'kentra is still running');

    const kibs = samples.map((s) => s.kib);
    const first = kibs[0]!;
    const last = kibs.at(-1)!;
    // After warm-up: the median of the samples from 15 % to 25 % of the run (on a long run, after the first minute, when the
    // client-secret cache first expires and the libuv threads' scrypt buffers add a one-time step); at the end: the median of the last 10 %.
    const warm = median(samples.filter((s) => s.t >= SECONDS * 0.15 && s.t <= SECONDS * 0.25).map((s) => s.kib));
    const end = median(samples.filter((s) => s.t >= SECONDS * 0.9).map((s) => s.kib));
    const growth = (end - warm) / warm;
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
    if (process.env.SOAK_RSS_FILE) writeFileSync(process.env.SOAK_RSS_FILE, JSON.stringify({ seconds: SECONDS, rate: RATE, samples }));
    const answered = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `reliability: soak (SQLite) ${SECONDS} s at ${RATE}/s: ${answered} answered (${(answered / seconds).toFixed(0)}/s; token ${counts.token}, TokenReview of distinct tokens ${counts.tokenreview}, ARM GET ${counts.arm}, Graph GET ${counts.graph}), ${notSent} not sent (server behind, > ${MAX_IN_FLIGHT} in flight), ${errors.length} errors, ${fiveXx} 5xx; latency p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms`,
    );
    console.log(
      `reliability: soak RSS of kentra (pid ${pid}, ${samples.length} samples, 1/s): start ${mib(first)}, after warm-up ${mib(warm)}, end ${mib(end)} (last ${mib(last)}), max ${mib(Math.max(...kibs))}; growth from start ${pct((last - first) / first)}, from warm-up to end ${pct(growth)}${SECONDS >= LONG_RUN_S ? ` (bound ${pct(RSS_GROWTH_BOUND)})` : ' (not checked: a run under 600 s)'}`,
    );

    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} errors`);
    assert.equal(fiveXx, 0, '0 5xx');
    assert.ok(counts.tokenreview > 0 && counts.arm > 0 && counts.graph > 0, 'every kind of request was sent');
    if (SECONDS >= LONG_RUN_S)
      assert.ok(growth <= RSS_GROWTH_BOUND, `RSS grew ${pct(growth)} from warm-up to the end, more than ${pct(RSS_GROWTH_BOUND)}`);
  });
});
