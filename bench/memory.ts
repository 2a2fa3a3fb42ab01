// npm run bench -- memory
// The resident memory of a real `kentra up` (VmRSS from /proc/<pid>/status) before and after 100,000
// distinct TokenReviews and 100,000 tokens issued (client credentials), against the 300 MB goal of
// issue 17. Every per-instance cache is bounded (docs/performance.md, "Memory"), so the figure must not
// grow with the number of distinct tokens: the token cache keeps --token-cache-size results per
// cluster, whatever was reviewed. KENTRA_BENCH_MEMORY_COUNT changes the 100,000.
import { sign as signAsync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { KeyRing, v1Issuer } from '../src/identity/index.js';
import { sealerForDataDir } from '../src/shared/key-sealing.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/shared/clock.js';
import { startTestKentra } from '../test/support/kentra.js';
import { benchCluster, fmt } from './_measure.js';
import { runLoad } from './_load-worker.js';
import { Report } from './_report.js';

const sign = promisify(signAsync);
const COUNT = Number(process.env.KENTRA_BENCH_MEMORY_COUNT ?? 100_000);
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const MB = 1024 * 1024;

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const report = new Report('memory');
const k = await startTestKentra({ extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'] });
const outcome = { failed: false };
try {
  const pid = k.process.pid!;
  const { authority, tenantId, caFile, servicePrincipal } = k.endpoints;
  const caPem = readFileSync(caFile, 'utf8');
  // What `kentra aks webhook-config` writes: the webhook URL and the cluster-bound client certificate.
  const { tokenReviews: url, certPem, keyPem } = await benchCluster(k.endpoints);
  const before = memoryOf(pid);
  console.log(`  kentra up (pid ${pid}) after start and one cluster: VmRSS ${fmt(before.rss / MB, 1)} MB`);

  // COUNT distinct tokens, as Kentra issues them for the AKS server app, signed with its current key.
  const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
  const keys = new KeyRing(store, systemClock);
  await keys.refresh();
  const { kid, privateKey } = keys.current();
  await store.close();
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = b64({ typ: 'JWT', alg: 'RS256', kid, x5t: kid });
  const bodies: string[] = [];
  for (let start = 0; start < COUNT; start += 1000) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(1000, COUNT - start) }, async (_, j) => {
        const i = start + j;
        const payload = b64({
          aud: AKS_SERVER,
          iss: v1Issuer(tenantId),
          iat: now,
          nbf: now,
          exp: now + 3600,
          tid: tenantId,
          ver: '1.0',
          upn: `user${i}@bench.example`,
          oid: `77777777-0000-4000-8000-${String(i).padStart(12, '0')}`,
          groups: ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2'],
          scp: 'user.read',
          uti: `u${i}`,
        });
        const sig = await sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
        const token = `${header}.${payload}.${sig.toString('base64url')}`;
        return JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
      }),
    );
    bodies.push(...batch);
  }
  const reviews = await runLoad({
    url,
    bodies,
    headers: { 'content-type': 'application/json' },
    caPem,
    certPem,
    keyPem,
    connections: 16,
    count: COUNT,
    seconds: 1800,
  });
  bodies.length = 0;
  const afterReviews = memoryOf(pid);
  console.log(
    `  ${fmt(reviews.requests)} distinct TokenReviews at ${fmt(reviews.perSecond)}/s (${reviews.errors} errors): VmRSS ${fmt(afterReviews.rss / MB, 1)} MB`,
  );

  const form = new URLSearchParams({
    client_id: servicePrincipal.appId,
    client_secret: servicePrincipal.secret,
    grant_type: 'client_credentials',
    scope: 'https://management.azure.com/.default',
  }).toString();
  const issued = await runLoad({
    url: `${authority}/${tenantId}/oauth2/v2.0/token`,
    bodies: [form],
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    caPem,
    connections: 16,
    count: COUNT,
    seconds: 1800,
  });
  const after = memoryOf(pid);
  console.log(
    `  ${fmt(issued.requests)} tokens issued at ${fmt(issued.perSecond)}/s (${issued.errors} errors: ${JSON.stringify(issued.statuses)}): VmRSS ${fmt(after.rss / MB, 1)} MB`,
  );
  outcome.failed = reviews.errors + issued.errors > 0;
  report.add({
    name: `kentra up RSS after ${fmt(COUNT)} distinct TokenReviews and ${fmt(COUNT)} tokens issued`,
    value: after.rss / MB,
    unit: 'MB',
    limit: { name: 'goal', value: 300 },
    goal: { op: '<=', ratio: 1 },
    detail: `VmRSS at start ${fmt(before.rss / MB, 1)} MB, after the reviews ${fmt(afterReviews.rss / MB, 1)} MB; peak (VmHWM) ${fmt(after.peak / MB, 1)} MB; ${reviews.errors + issued.errors} errors`,
  });
  report.add({ name: 'kentra up RSS at start (one cluster)', value: before.rss / MB, unit: 'MB' });
  report.save();
} finally {
  await k.close();
}
process.exit(outcome.failed ? 1 : 0);
