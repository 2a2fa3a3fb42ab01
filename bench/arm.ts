// npm run bench -- arm
// Managed clusters through Kentra's ARM over HTTPS, on SQLite and PostgreSQL: cluster creates per second
// (with a zero provisioning delay) and GET latency with 1,000 clusters, next to a bare HTTPS round trip
// to the same server (/healthz) measured in the same run.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { startTestKentra } from '../test/support/kentra.js';
import { fmt, httpsClient, load, onEachStore } from './_measure.js';

const CLUSTERS = 1000;

async function run(name: string, store: string | undefined) {
  const k = await startTestKentra({ store, extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'] });
  try {
    const { authority, tenantId, caFile, subscriptionId, servicePrincipal: sp } = k.endpoints;
    const http = httpsClient(caFile);
    const token = JSON.parse((await http(`${authority}/${tenantId}/oauth2/v2.0/token`, new URLSearchParams({
      client_id: sp.appId, client_secret: sp.secret, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default',
    }).toString())).text).access_token as string;
    const json = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const put = (url: string, body: unknown) => new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: json, ca: caOf(caFile) }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
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

const cas = new Map<string, Buffer>();
function caOf(file: string): Buffer {
  if (!cas.has(file)) cas.set(file, readFileSync(file));
  return cas.get(file)!;
}

await onEachStore(run);
