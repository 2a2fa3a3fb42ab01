import { appendFileSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
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

/** No answer: the connection was refused or reset (status 0), or nothing came within the deadline (-1). */
export const REFUSED = 0;
export const NO_ANSWER_IN_TIME = -1;

const agents = new Map<string, Agent>();

/** One HTTPS request trusting Kentra's CA; never rejects, never waits past `timeoutMs`. */
export function call(k: Pick<TestKentra, 'endpoints'>, method: string, url: string, opts: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  const caFile = k.endpoints.caFile;
  let agent = agents.get(caFile);
  if (!agent) agents.set(caFile, (agent = new Agent({ ca: readFileSync(caFile), keepAlive: true, maxSockets: 64 })));
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
    grant_type: 'client_credentials', client_id: k.endpoints.servicePrincipal.appId, client_secret: k.endpoints.servicePrincipal.secret, scope,
  }).toString();
}

/** A token of the bootstrap service principal (Directory.ReadWrite.All on Graph, Owner of the subscription). */
export async function bootstrapToken(k: Pick<TestKentra, 'endpoints'>, resource: 'graph' | 'arm'): Promise<string> {
  const scope = resource === 'graph' ? 'https://graph.microsoft.com/.default' : 'https://management.azure.com/.default';
  const res = await call(k, 'POST', `/${k.endpoints.tenantId}/oauth2/v2.0/token`, { body: tokenForm(k, scope), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
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
