// npm run bench -- access
// TokenReview requests per second over HTTPS (mutual TLS) against a real `kentra up` process, on a
// cache miss (every token new) and a cache hit (the same token), next to the raw RS256 verify rate of
// node:crypto and a bare HTTPS hello-world server (same certificate, same client, same mTLS) measured
// in the same run. The tokens are signed with Kentra's own key (read from its store), since getting
// thousands of distinct real tokens through the password grant would measure scrypt instead.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { verify } from 'node:crypto';
import { KeyRing, signJwt, v1Issuer } from '../src/identity/index.js';
import { parse } from 'yaml';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/shared/clock.js';
import { startTestKentra } from '../test/support/kentra.js';
import { armSession, fmt, httpsClient, load, rate } from './_measure.js';

const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const TOKENS = 3000;
const USER = '77777777-0000-4000-8000-000000000001';

const k = await startTestKentra({ extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'] });
let failed = false;
try {
  const { authority, tenantId, caFile, subscriptionId } = k.endpoints;
  const { http: plain, headers: armHeaders, put } = await armSession(k.endpoints);
  const base = `${authority}/subscriptions/${subscriptionId}/resourceGroups/bench`;
  await put(`${base}?api-version=2021-04-01`, { location: 'eastus' });
  const mc = `${base}/providers/Microsoft.ContainerService/managedClusters/c1`;
  const status = await put(`${mc}?api-version=2022-11-01`, { location: 'eastus', properties: { agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true } } });
  if (status !== 201) throw new Error(`creating the cluster failed: ${status}`);
  // What `kentra aks webhook-config` writes: the webhook URL and the cluster-bound client certificate.
  const hook = JSON.parse((await plain(`${mc}/listWebhookCredential?api-version=2022-11-01`, '', armHeaders)).text);
  const cfg = parse(Buffer.from(hook.kubeconfigs[0].value, 'base64').toString());
  const url = cfg.clusters[0].cluster.server as string;
  const fromB64 = (v: string) => Buffer.from(v, 'base64').toString();
  const clientCert = { certPem: fromB64(cfg.users[0].user['client-certificate-data']), keyPem: fromB64(cfg.users[0].user['client-key-data']) };
  const webhook = httpsClient(caFile, clientCert);

  // Tokens as Kentra issues them for the AKS server app, signed with the key Kentra signs with now.
  const store = await openStore({ dataDir: k.dataDir });
  const keys = new KeyRing(store, systemClock);
  await keys.refresh();
  const { kid, privateKey } = keys.current();
  const now = Math.floor(Date.now() / 1000);
  const tokens = Array.from({ length: TOKENS }, (_, i) => signJwt({ typ: 'JWT', alg: 'RS256', kid, x5t: kid }, {
    aud: AKS_SERVER, iss: v1Issuer(tenantId), iat: now, nbf: now, exp: now + 3600, tid: tenantId, ver: '1.0', upn: `user${i}@bench`, oid: USER,
    groups: ['g1', 'g2', 'g3'], scp: 'user.read', uti: `u${i}`,
  }, privateKey));
  await store.close();
  const body = (token: string) => JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
  const json = { 'content-type': 'application/json' };
  const ok = async (token: string) => {
    const r = await webhook(url, body(token), json);
    return r.status === 200 && JSON.parse(r.text).status.authenticated === true;
  };
  if (!(await ok(tokens[0]!))) throw new Error('the first TokenReview was not authenticated');

  let w = 0;
  await load(() => ok(tokens[w++ % 200]!), { workers: 8, count: 400, maxSeconds: 10 }); // warm-up: TLS, JIT
  let i = 200;
  const miss = await load(() => ok(tokens[i++]!), { workers: 8, count: TOKENS - 200, maxSeconds: 30 });
  const hit = await load(() => ok(tokens[0]!), { workers: 8, count: 4000, maxSeconds: 30 });

  // The limits, measured now: node:crypto RS256 verify of the same token, and a bare HTTPS hello-world.
  const [h, p, s] = tokens[1]!.split('.');
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s!, 'base64url');
  const publicKey = keys.publicKey(kid)!;
  rate(() => verify('sha256', data, publicKey, sig), 300);
  const rawVerify = rate(() => verify('sha256', data, publicKey, sig), 2000);
  // The hello-world runs in a process of its own, as Kentra does, so it does not share the load generator's thread.
  const helloScript = `const { createServer } = require('node:https'); const { readFileSync } = require('node:fs');
    const s = createServer({ key: readFileSync(process.argv[1]), cert: readFileSync(process.argv[2]), requestCert: true, rejectUnauthorized: false },
      (req, res) => { req.resume(); req.on('end', () => res.end('{"hello":"world"}')); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const hello = spawn(process.execPath, ['-e', helloScript, join(k.dataDir, 'server-key.pem'), join(k.dataDir, 'server.pem')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const helloPort = await new Promise<number>((resolve) => hello.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const helloUrl = `https://localhost:${helloPort}/`;
  await load(async () => (await webhook(helloUrl, body(tokens[0]!), json)).status === 200, { workers: 8, count: 400, maxSeconds: 10 });
  const bare = await load(async () => (await webhook(helloUrl, body(tokens[0]!), json)).status === 200, { workers: 8, count: 4000, maxSeconds: 30 });
  hello.kill(); // by its process object: the one this run started

  failed = miss.errors + hit.errors + bare.errors > 0;
  console.log(`access: TokenReview over HTTPS with a client certificate (real kentra up process; the load generator shares the machine)`);
  console.log(`  cache miss (new token)     ${fmt(miss.perSecond)} reviews/s   p50 ${fmt(miss.p50, 2)} ms   p99 ${fmt(miss.p99, 2)} ms   (${miss.errors} errors)`);
  console.log(`  cache hit (same token)     ${fmt(hit.perSecond)} reviews/s   p50 ${fmt(hit.p50, 2)} ms   p99 ${fmt(hit.p99, 2)} ms   (${hit.errors} errors)`);
  console.log(`  raw RS256 verify           ${fmt(rawVerify)} verifies/s (node:crypto, one core)`);
  console.log(`  bare HTTPS hello-world     ${fmt(bare.perSecond)} requests/s   p50 ${fmt(bare.p50, 2)} ms   p99 ${fmt(bare.p99, 2)} ms`);
  console.log(`  ratio miss / raw verify    ${fmt(miss.perSecond / rawVerify, 2)}`);
  console.log(`  ratio miss / bare HTTPS    ${fmt(miss.perSecond / bare.perSecond, 2)}`);
  console.log(`  ratio hit / bare HTTPS     ${fmt(hit.perSecond / bare.perSecond, 2)}`);
} finally {
  await k.close();
}
process.exit(failed ? 1 : 0);
