import { appendFileSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadCertificateAuthority } from '../../src/pki/index.js';
import type { TestKentra } from '../support/kentra.js';

// Helpers of the reliability suite: requests with a deadline (a hung server must fail a test, not hang
// it), the bootstrap service principal's tokens, and a tally of what a load saw.

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  ms: number;
  json<T = any>(): T;
}

export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

/** No answer: the connection was refused or reset (status 0), or nothing came within the deadline (-1). */
export const REFUSED = 0;
export const NO_ANSWER_IN_TIME = -1;

const agents = new Map<string, Agent>();

/** One HTTPS request trusting Kentra's CA; never rejects, never waits past `timeoutMs`. */
export function call(
  k: Pick<TestKentra, 'endpoints'>,
  method: string,
  url: string,
  opts: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number; cert?: ClientCertificate } = {},
): Promise<Answer> {
  const caFile = k.endpoints.caFile;
  // A client certificate (a kube-apiserver calling the webhooks) gets its own connections.
  const agentKey = opts.cert ? `${caFile}\n${opts.cert.certPem}` : caFile;
  let agent = agents.get(agentKey);
  if (!agent)
    agents.set(
      agentKey,
      (agent = new Agent({
        ca: readFileSync(caFile),
        keepAlive: true,
        maxSockets: 64,
        ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
      })),
    );
  const started = Date.now();
  const full = url.startsWith('https://') ? url : `${k.endpoints.authority}${url}`;
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Omit<Answer, 'ms' | 'json'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...a, ms: Date.now() - started, json: () => JSON.parse(a.text) });
    };
    const req = request(full, { method, agent, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => done({ status: REFUSED, headers: {}, text: '' }));
    });
    const timer = setTimeout(() => {
      done({ status: NO_ANSWER_IN_TIME, headers: {}, text: '' });
      req.destroy();
    }, opts.timeoutMs ?? 20_000);
    req.on('error', () => done({ status: REFUSED, headers: {}, text: '' }));
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function tokenForm(k: Pick<TestKentra, 'endpoints'>, scope: string): string {
  return new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: k.endpoints.servicePrincipal.appId,
    client_secret: k.endpoints.servicePrincipal.secret,
    scope,
  }).toString();
}

/** A token of the bootstrap service principal (Directory.ReadWrite.All on Graph, Owner of the subscription). */
export async function bootstrapToken(k: Pick<TestKentra, 'endpoints'>, resource: 'graph' | 'arm'): Promise<string> {
  const scope = resource === 'graph' ? 'https://graph.microsoft.com/.default' : 'https://management.azure.com/.default';
  const res = await call(k, 'POST', `/${k.endpoints.tenantId}/oauth2/v2.0/token`, {
    body: tokenForm(k, scope),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

export function jsonHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

/** Progress lines to the file named by $KENTRA_TEST_TRACE, for watching a long run (the test runner holds stdout until a test ends). */
export function trace(message: string): void {
  const file = process.env.KENTRA_TEST_TRACE;
  if (file) appendFileSync(file, `${new Date().toISOString()} ${message}\n`);
}

/** One number from the store's database, read directly (SQLite file in the data directory, or PostgreSQL by URL). */
export async function countInStore(dataDir: string, url: string | undefined, query: string, params: unknown[] = []): Promise<number> {
  if (!url) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(`${dataDir}/kentra.db`, { readonly: true });
    try {
      return Number(Object.values(db.prepare(query.replace(/\$\d+/g, '?')).get(...params) as Record<string, unknown>)[0]);
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number(Object.values((await client.query(query, params)).rows[0] as Record<string, unknown>)[0]);
  } finally {
    await client.end();
  }
}

/** The AKS server application: the audience of the tokens a cluster's TokenReview webhook accepts. */
export const AKS_SERVER_SCOPE = '6dae42f8-4368-4678-94ff-3960e28e3630/.default';

/**
 * A managed cluster made through ARM (resource group `rg`, cluster `name`, Owner's `armToken`), and the
 * client certificate its kube-apiserver presents to `/clusters/<uid>/webhooks/*`, issued by the data
 * directory's CA. `origin` is the instance to ask (default: `k`'s authority).
 */
export async function webhookCluster(
  k: Pick<TestKentra, 'endpoints' | 'dataDir'>,
  armToken: string,
  name = 'c1',
  origin = k.endpoints.authority,
): Promise<{ uid: string; cert: ClientCertificate; tokenReviewPath: string }> {
  const sub = `${origin}/subscriptions/${k.endpoints.subscriptionId}`;
  const api = 'api-version=2022-11-01';
  const rg = await call(k, 'PUT', `${sub}/resourcegroups/rg-${name}?${api}`, {
    body: JSON.stringify({ location: 'eastus' }),
    headers: jsonHeaders(armToken),
  });
  if (rg.status !== 201 && rg.status !== 200) throw new Error(`resource group: ${rg.status} ${rg.text}`);
  const mc = `${sub}/resourceGroups/rg-${name}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const put = await call(k, 'PUT', `${mc}?${api}`, {
    body: JSON.stringify({
      location: 'eastus',
      properties: {
        dnsPrefix: name,
        agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
        aadProfile: { managed: true, adminGroupObjectIDs: [] },
      },
    }),
    headers: jsonHeaders(armToken),
  });
  if (put.status !== 201) throw new Error(`managed cluster: ${put.status} ${put.text}`);
  const creds = await call(k, 'POST', `${mc}/listClusterUserCredential?${api}`, { headers: jsonHeaders(armToken) });
  if (creds.status !== 200) throw new Error(`credentials: ${creds.status} ${creds.text}`);
  const kubeconfig = parse(Buffer.from(creds.json().kubeconfigs[0].value, 'base64').toString());
  const uid = /\/clusters\/([^/]+)$/.exec(kubeconfig.clusters[0].cluster.server)![1]!;
  const ca = await loadCertificateAuthority(
    readFileSync(join(k.dataDir, 'ca.pem'), 'utf8'),
    readFileSync(join(k.dataDir, 'ca-key.pem'), 'utf8'),
  );
  const cert = await ca.issue({ commonName: 'kube-apiserver', organizations: [`cluster:${uid}`], usage: 'client' });
  return { uid, cert, tokenReviewPath: `/clusters/${uid}/webhooks/tokenreviews` };
}

/** The TokenReview body a kube-apiserver POSTs for a bearer token. */
export const tokenReviewBody = (token: string) =>
  JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });

/** Resident set size of a process in KiB, from /proc/<pid>/status (VmRSS); null when it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
