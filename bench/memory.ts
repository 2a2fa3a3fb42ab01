// npm run bench -- memory
// The resident memory of a real `kentra up` (VmRSS from /proc/<pid>/status) before and after 100,000
// distinct TokenReviews and 100,000 tokens issued (client credentials), against the 300 MB goal of
// issue 17. Every per-instance cache is bounded (docs/performance.md, "Memory"), so the figure must not
// grow with the number of distinct tokens: the token cache keeps --token-cache-size results per
// cluster, whatever was reviewed. KENTRA_BENCH_MEMORY_COUNT changes the 100,000.
//
// It runs twice, each time on a fresh data directory: `kentra up` as a user starts it (the figure held
// to the goal), then with the environment deploy/kubernetes/deployment.yaml gives the pods
// (GLIBC_TUNABLES: glibc hands freed blocks of 128 KiB and more back at once, so a thread-pool thread
// does not keep scrypt's 16 MiB; docs/performance.md, "Memory").
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { KeyRing } from '../src/identity/index.js';
import { sealerForDataDir } from '../src/shared/key-sealing.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/shared/clock.js';
import { startTestKentra } from '../test/support/kentra.js';
import { aksUserTokens, benchCluster, fmt, httpsClient, tokenReviewBody } from './_measure.js';
import { runLoad } from './_load-worker.js';
import { Report } from './_report.js';

const COUNT = Number(process.env.KENTRA_BENCH_MEMORY_COUNT ?? 100_000);
const MB = 1024 * 1024;

/** VmRSS and VmHWM (peak) of a process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Where the resident memory is: V8's heap (used of total) and memory outside it, from Kentra's /metrics. */
async function heapOf(get: (url: string) => Promise<{ text: string }>, authority: string): Promise<string> {
  const text = (await get(`${authority}/metrics`)).text;
  const mb = (name: string) => Number(new RegExp(`^kentra_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / MB;
  return `V8 heap ${fmt(mb('nodejs_heap_size_used_bytes'), 1)} MB used of ${fmt(mb('nodejs_heap_size_total_bytes'), 1)} MB, external ${fmt(mb('nodejs_external_memory_bytes'), 1)} MB`;
}

const report = new Report('memory');
/** The environment deploy/kubernetes/deployment.yaml gives the pods for glibc's allocator, read from it. */
const DEPLOYMENT_ENV = deploymentEnv('GLIBC_TUNABLES');

function deploymentEnv(...names: string[]): Record<string, string> {
  const manifest = join(dirname(fileURLToPath(import.meta.url)), '../../deploy/kubernetes/deployment.yaml');
  const deployment = parseAllDocuments(readFileSync(manifest, 'utf8'))
    .map(
      (d) => d.toJS() as { kind?: string; spec?: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } },
    )
    .find((d) => d.kind === 'Deployment');
  const env = deployment?.spec?.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(
    names.map((n) => {
      const value = env.find((e) => e.name === n)?.value;
      if (value === undefined) throw new Error(`${manifest} sets no ${n}`);
      return [n, value];
    }),
  );
}

interface Measured {
  before: { rss: number; peak: number };
  afterReviews: { rss: number; peak: number };
  after: { rss: number; peak: number };
  errors: number;
}

/** One `kentra up` on a fresh data directory: its memory at start, after COUNT reviews and after COUNT tokens. */
async function measure(label: string, env: Record<string, string>): Promise<Measured> {
  const k = await startTestKentra({ extraArgs: ['--log-level', 'warn', '--provisioning-delay', '0'], env });
  try {
    const pid = k.process.pid!;
    const { authority, tenantId, caFile, servicePrincipal } = k.endpoints;
    const caPem = readFileSync(caFile, 'utf8');
    // What `kentra aks webhook-config` writes: the webhook URL and the cluster-bound client certificate.
    const { tokenReviews: url, certPem, keyPem } = await benchCluster(k.endpoints);
    const get = httpsClient(caFile);
    const before = memoryOf(pid);
    console.log(
      `  ${label} (pid ${pid}) after start and one cluster: VmRSS ${fmt(before.rss / MB, 1)} MB; ${await heapOf(get, authority)}`,
    );

    // COUNT distinct tokens, as Kentra issues them for the AKS server app, signed with its current key.
    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    const keys = new KeyRing(store, systemClock);
    await keys.refresh();
    const { kid, privateKey } = keys.current();
    await store.close();
    // Each token its own user, in two groups.
    const bodies = (
      await aksUserTokens(tenantId, { kid, privateKey }, COUNT, () => ({
        groups: ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2'],
      }))
    ).map(tokenReviewBody);
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
      `  ${fmt(reviews.requests)} distinct TokenReviews at ${fmt(reviews.perSecond)}/s (${reviews.errors} errors): VmRSS ${fmt(afterReviews.rss / MB, 1)} MB; ${await heapOf(get, authority)}`,
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
      `  ${fmt(issued.requests)} tokens issued at ${fmt(issued.perSecond)}/s (${issued.errors} errors: ${JSON.stringify(issued.statuses)}): VmRSS ${fmt(after.rss / MB, 1)} MB; ${await heapOf(get, authority)}`,
    );
    return { before, afterReviews, after, errors: reviews.errors + issued.errors };
  } finally {
    await k.close();
  }
}

const plain = await measure('kentra up', {});
const deployed = await measure(
  `kentra up with ${Object.entries(DEPLOYMENT_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`,
  DEPLOYMENT_ENV,
);
const detail = (m: Measured) =>
  `VmRSS at start ${fmt(m.before.rss / MB, 1)} MB, after the reviews ${fmt(m.afterReviews.rss / MB, 1)} MB; peak (VmHWM) ${fmt(m.after.peak / MB, 1)} MB; ${m.errors} errors`;
report.add({
  name: `kentra up RSS after ${fmt(COUNT)} distinct TokenReviews and ${fmt(COUNT)} tokens issued`,
  value: plain.after.rss / MB,
  unit: 'MB',
  limit: { name: 'goal', value: 300 },
  goal: { op: '<=', ratio: 1 },
  detail: detail(plain),
});
report.add({ name: 'kentra up RSS at start (one cluster)', value: plain.before.rss / MB, unit: 'MB' });
report.add({
  name: "the same, with the Kubernetes deployment's GLIBC_TUNABLES (context)",
  value: deployed.after.rss / MB,
  unit: 'MB',
  limit: { name: 'goal', value: 300 },
  detail: detail(deployed),
});
report.save();
process.exit(plain.errors + deployed.errors > 0 ? 1 : 0);
