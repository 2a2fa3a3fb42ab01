import { sign as signAsync, type KeyObject } from 'node:crypto';
import { Agent, request } from 'node:https';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { v1Issuer } from '../src/identity/index.js';

/** Percentile of sorted numbers. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Sends `call` from `workers` concurrent loops until `count` calls or `maxSeconds` pass. */
export async function load(
  call: () => Promise<boolean>,
  opts: { workers: number; count: number; maxSeconds: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let started = 0;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + opts.maxSeconds * 1000;
  await Promise.all(
    Array.from({ length: opts.workers }, async () => {
      while (started < opts.count && Date.now() < deadline) {
        started++;
        const s = process.hrtime.bigint();
        const ok = await call().catch(() => false);
        latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (!ok) errors++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/** A keep-alive HTTPS client trusting one CA file, optionally presenting a client certificate. */
export function httpsClient(caFile: string, clientCert?: { certPem: string; keyPem: string }) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 64,
    ca: readFileSync(caFile),
    ...(clientCert ? { cert: clientCert.certPem, key: clientCert.keyPem } : {}),
  });
  return (url: string, body?: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: body === undefined ? 'GET' : 'POST',
          agent,
          headers: body === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/**
 * ARM as Kentra's service principal (an Owner): its bearer headers, the GET/POST client, and PUT
 * (which `httpsClient` does not do) returning the status code.
 */
export async function armSession(e: {
  authority: string;
  tenantId: string;
  caFile: string;
  servicePrincipal: { appId: string; secret: string };
}) {
  const http = httpsClient(e.caFile);
  const token = JSON.parse(
    (
      await http(
        `${e.authority}/${e.tenantId}/oauth2/v2.0/token`,
        new URLSearchParams({
          client_id: e.servicePrincipal.appId,
          client_secret: e.servicePrincipal.secret,
          grant_type: 'client_credentials',
          scope: 'https://management.azure.com/.default',
        }).toString(),
      )
    ).text,
  ).access_token as string;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const ca = readFileSync(e.caFile);
  const put = (url: string, body: unknown) =>
    new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers, ca }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  return { token, headers, http, put };
}

/**
 * Resource group `bench` and managed cluster `c1` (Entra ID; Azure RBAC when asked) made through ARM,
 * and what `kentra aks webhook-config` would write for it: the TokenReview and SubjectAccessReview URLs
 * and the cluster-bound client certificate the API server presents.
 */
export async function benchCluster(
  e: Parameters<typeof armSession>[0] & { subscriptionId: string },
  opts: { azureRbac?: boolean } = {},
): Promise<{ tokenReviews: string; accessReviews: string; certPem: string; keyPem: string }> {
  const { http, headers, put } = await armSession(e);
  const base = `${e.authority}/subscriptions/${e.subscriptionId}/resourceGroups/bench`;
  await put(`${base}?api-version=2021-04-01`, { location: 'eastus' });
  const mc = `${base}/providers/Microsoft.ContainerService/managedClusters/c1`;
  const status = await put(`${mc}?api-version=2022-11-01`, {
    location: 'eastus',
    properties: {
      agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
      aadProfile: { managed: true, ...(opts.azureRbac ? { enableAzureRBAC: true } : {}) },
    },
  });
  if (status !== 201) throw new Error(`creating the cluster failed: ${status}`);
  const hook = JSON.parse((await http(`${mc}/listWebhookCredential?api-version=2022-11-01`, '', headers)).text);
  const kubeconfig = (i: number) => parse(Buffer.from(hook.kubeconfigs[i].value, 'base64').toString());
  const [tr, sar] = [kubeconfig(0), kubeconfig(1)];
  const fromB64 = (v: string) => Buffer.from(v, 'base64').toString();
  return {
    tokenReviews: tr.clusters[0].cluster.server,
    accessReviews: sar.clusters[0].cluster.server,
    certPem: fromB64(tr.users[0].user['client-certificate-data']),
    keyPem: fromB64(tr.users[0].user['client-key-data']),
  };
}

/** Loops `fn` for `ms` milliseconds and returns calls per second. */
export function rate(fn: () => void, ms: number): number {
  const end = Date.now() + ms;
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (Date.now() < end) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Runs a benchmark on SQLite, then on a throwaway PostgreSQL when its binaries are on the machine. */
export async function onEachStore(run: (name: string, storeUrl: string | undefined) => Promise<void>): Promise<void> {
  const { postgresBinDir, startPostgres } = await import('../test/support/postgres.js');
  await run('SQLite', undefined);
  if (!postgresBinDir() && !process.env.KENTRA_TEST_POSTGRES_URL) {
    console.log('PostgreSQL: skipped (initdb not found: install the Debian package postgresql)');
    return;
  }
  const pg = await startPostgres();
  try {
    await run('PostgreSQL', await pg.newDatabase());
  } finally {
    await pg.stop();
  }
}

/** The AKS server application (the audience of a user's token for a cluster). */
export const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const signOnPool = promisify(signAsync);

/**
 * `count` v1 user tokens for the AKS server app as Kentra issues them, signed with `key` on the libuv
 * threadpool (both cores), 500 at a time; `claims(i)` adds or replaces claims of token i
 * (by default user i, `user<i>@bench.example`, in three groups).
 */
export async function aksUserTokens(
  tenantId: string,
  key: { kid: string; privateKey: KeyObject },
  count: number,
  claims: (i: number) => Record<string, unknown> = () => ({}),
): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const header = b64({ typ: 'JWT', alg: 'RS256', kid: key.kid, x5t: key.kid });
  const tokens: string[] = [];
  for (let start = 0; start < count; start += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, count - start) }, async (_, j) => {
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
          groups: ['00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000a3'],
          scp: 'user.read',
          uti: `u${i}`,
          ...claims(i),
        });
        const sig = await signOnPool('sha256', Buffer.from(`${header}.${payload}`), key.privateKey);
        return `${header}.${payload}.${sig.toString('base64url')}`;
      }),
    );
    tokens.push(...batch);
  }
  return tokens;
}

/** A TokenReview (v1) of `token`, as the kube-apiserver posts it. */
export const tokenReviewBody = (token: string): string =>
  JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
