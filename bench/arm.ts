// npm run bench -- arm
// Managed clusters through Kentra's ARM over HTTPS, on SQLite and PostgreSQL: cluster creates per second
// (with a zero provisioning delay) and GET latency with 1,000 clusters, next to a bare HTTPS round trip
// to the same server (/healthz) measured in the same run.
import { startTestKentra } from '../test/support/kentra.js';
import { armSession, fmt, load, onEachStore } from './_measure.js';

const CLUSTERS = 1000;

async function run(name: string, store: string | undefined) {
  const k = await startTestKentra({ store, extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'] });
  try {
    const { authority, subscriptionId } = k.endpoints;
    const { http, token, put } = await armSession(k.endpoints);
    const base = `${authority}/subscriptions/${subscriptionId}/resourceGroups/bench`;
    await put(`${base}?api-version=2021-04-01`, { location: 'eastus' });
    let n = 0;
    const body = { location: 'eastus', properties: { agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true } } };
    const creates = await load(async () => (await put(`${base}/providers/Microsoft.ContainerService/managedClusters/c${n++}?api-version=2022-11-01`, body)) === 201,
      { workers: 4, count: CLUSTERS, maxSeconds: 300 });
    let i = 0;
    const gets = await load(async () => (await http(`${base}/providers/Microsoft.ContainerService/managedClusters/c${i++ % creates.count}?api-version=2022-11-01`, undefined, { authorization: `Bearer ${token}` })).status === 200,
      { workers: 4, count: 2000, maxSeconds: 60 });
    const health = await load(async () => (await http(`${authority}/healthz`)).status === 200, { workers: 4, count: 2000, maxSeconds: 30 });
    console.log(`arm on ${name} (real kentra up process, ${creates.count} clusters)`);
    console.log(`  create (PUT)             ${fmt(creates.perSecond)} clusters/s   p50 ${fmt(creates.p50, 1)} ms   p99 ${fmt(creates.p99, 1)} ms   (${creates.errors} errors)`);
    console.log(`  GET with ${creates.count} clusters   ${fmt(gets.perSecond)} calls/s   p50 ${fmt(gets.p50, 2)} ms   p99 ${fmt(gets.p99, 2)} ms   (${gets.errors} errors)`);
    console.log(`  bare HTTPS (/healthz)    ${fmt(health.perSecond)} calls/s   p50 ${fmt(health.p50, 2)} ms   p99 ${fmt(health.p99, 2)} ms`);
    console.log(`  ratio GET / bare HTTPS   ${fmt(gets.perSecond / health.perSecond, 2)}`);
  } finally {
    await k.close();
  }
}

await onEachStore(run);
