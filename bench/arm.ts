// npm run bench -- arm
// Managed clusters through Kentra's ARM over HTTPS, on SQLite and on PostgreSQL: cluster creates per
// second (with a zero provisioning delay), then GET latency with 1,000 clusters (each read once first, so
// its create operation is settled), interleaved with the same GET to a bare node:https server run with
// the same client (the goal's p99 from 4 connections with wrk, a C client, whose own cost does not land in
// the latencies). KENTRA_BENCH_CPU_PROF=<dir> writes a CPU profile of `kentra up` there.
import { armSession, load, onEachStore, percentile } from './_measure.js';
import { Report } from './_report.js';
import { interleaved, profileEnv, startBareHttps, WARM_UP } from './_bare.js';
import { interleavedWrk, pooledPercentile, roundsText } from './_wrk.js';
import { startTestKentra } from '../test/support/kentra.js';

const CLUSTERS = 1000;
const WORKERS = 4;
const report = new Report('arm');

async function run(name: string, store: string | undefined) {
  const env = profileEnv();
  const k = await startTestKentra({ store, extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'], ...(env ? { env } : {}) });
  const bare = await startBareHttps(k.dataDir);
  try {
    const { authority, subscriptionId } = k.endpoints;
    const { http, token, put } = await armSession(k.endpoints);
    const base = `${authority}/subscriptions/${subscriptionId}/resourceGroups/bench`;
    if ((await put(`${base}?api-version=2021-04-01`, { location: 'eastus' })) >= 300) throw new Error('creating the resource group failed');
    let n = 0;
    const body = {
      location: 'eastus',
      properties: { agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true } },
    };
    const url = (i: number) => `${base}/providers/Microsoft.ContainerService/managedClusters/c${i}?api-version=2022-11-01`;
    const creates = await load(async () => (await put(url(n++), body)) === 201, { workers: WORKERS, count: CLUSTERS, maxSeconds: 600 });
    if (creates.errors || creates.count !== CLUSTERS)
      throw new Error(`only ${creates.count - creates.errors} of ${CLUSTERS} clusters were created`);
    const auth = { authorization: `Bearer ${token}` };
    // Each cluster read once: the read settles its create operation (a write), which is not what a GET costs afterwards.
    let w = 0;
    await load(async () => (await http(url(w++), undefined, auth)).status === 200, { workers: WORKERS, count: CLUSTERS, maxSeconds: 600 });
    let i = 0;
    const get = async () => (await http(url(i++ % CLUSTERS), undefined, auth)).status === 200;
    const hello = async () => (await http(bare.url, undefined, auth)).status === 200;
    await interleaved(get, hello, { workers: WORKERS, perRound: WARM_UP, rounds: 1 });
    const r = await interleaved(get, hello, { workers: WORKERS, perRound: 1000, rounds: 3 });
    // The goal's figure from wrk (a C client, 4 connections) over the same 1,000 clusters in turn, in rounds
    // alternating with the bare server's; the Node client's above, whose own garbage collection lands in
    // its p99, stays in the detail.
    const paths = Array.from({ length: CLUSTERS }, (_, j) => new URL(url(j)).pathname + new URL(url(j)).search);
    const wrkGet = { headers: auth, connections: WORKERS, threads: 1 };
    const rw = await interleavedWrk({ url: url(0), paths, ...wrkGet }, { url: bare.url, ...wrkGet }, { rounds: 3, seconds: 3 });
    report.add({
      name: `ARM GET p99, ${CLUSTERS.toLocaleString('en-US')} clusters (${name})`,
      value: pooledPercentile(rw.measured, 99),
      unit: 'ms',
      limit: { name: 'goal', value: 5 },
      goal: { op: '<=', ratio: 1 },
      detail: `wrk, ${WORKERS} connections, 3 rounds of 3 s interleaved with the bare server's, every GET pooled; each round: ${roundsText(rw.measured)} (p50 ${rw.measured.map((x) => x.p50.toFixed(2)).join(', ')} ms); from ${WORKERS} Node clients in the bench's own process, ${r.measured.length} GETs: p99 ${percentile(r.measured, 99).toFixed(2)} ms, p50 ${percentile(r.measured, 50).toFixed(2)} ms (bare ${percentile(r.bare, 99).toFixed(2)} / ${percentile(r.bare, 50).toFixed(2)} ms)`,
    });
    report.add({
      name: `ARM GET p99 next to a bare node:https GET (${name})`,
      value: pooledPercentile(rw.measured, 99),
      unit: 'ms',
      limit: { name: 'bare HTTPS GET p99, wrk', value: pooledPercentile(rw.bare, 99) },
      detail: `bare: ${roundsText(rw.bare)}`,
    });
    // One client, one request at a time: the server's latency without a queue in front of it. With four
    // clients a single-threaded server answers each after up to three others, and the bare server's p99
    // with the same client is itself above 5 ms; this is what one `az aks show` waits.
    const one = await interleaved(get, hello, { workers: 1, perRound: 1000, rounds: 2 });
    report.add({
      name: `ARM GET p99 from one client, ${CLUSTERS.toLocaleString('en-US')} clusters (${name})`,
      value: percentile(one.measured, 99),
      unit: 'ms',
      limit: { name: 'goal', value: 5 },
      goal: { op: '<=', ratio: 1 },
      detail: `${one.measured.length} GETs one at a time in 2 rounds interleaved with the bare server's; p50 ${percentile(one.measured, 50).toFixed(2)} ms (bare ${percentile(one.bare, 50).toFixed(2)} ms), bare p99 ${percentile(one.bare, 99).toFixed(2)} ms`,
    });
    report.add({
      name: `cluster creates (PUT) (${name})`,
      value: creates.perSecond,
      unit: 'clusters/s',
      detail: `p50 ${creates.p50.toFixed(1)} ms, p99 ${creates.p99.toFixed(1)} ms`,
    });
  } finally {
    bare.stop();
    await k.close();
  }
}

await onEachStore(run);
report.save();
