import { request } from 'node:https';
import type { Clock } from '../shared/clock.js';
import type { GroupLookup } from './entra.js';

// Group look-ups over Microsoft Graph, for the access layer running apart from the directory
// (`kentra webhook`), as Guard's client-credential mode does (reference/guard-rbac.md §1.4): an
// app-only token from `<authority>/<tenant>/oauth2/v2.0/token` with the client's secret and scope
// `https://graph.microsoft.com/.default`, kept until five minutes before it expires (Guard's
// margin), then `POST <graph>/v1.0/users/<oid>/getMemberGroups {"securityEnabledOnly": false}`
// (transitive, every group type) → `{"value": [ids…]}`. Errors name the endpoint and what it
// answered, never the secret or a token. Wrap it in `cachedGroupLookup` for bursts.

export interface GraphGroupLookupOptions {
  /** The identity provider's origin, e.g. `https://kentra.example:8443` (or `https://login.microsoftonline.com`). */
  authority: string;
  tenantId: string;
  /** The app with an application permission to read group memberships (GroupMember.Read.All or Directory.Read.All). */
  clientId: string;
  clientSecret: string;
  /** Graph's origin, e.g. `https://kentra.example:8443` (or `https://graph.microsoft.com`). */
  graphEndpoint: string;
  /** Extra CA (PEM) to trust for both endpoints; the system store otherwise. */
  caPem?: string;
  clock: Clock;
  timeoutMs?: number;
}

export interface GraphGroupLookup extends GroupLookup {
  /** How many app-only tokens have been requested (for tests and metrics). */
  tokenRequests(): number;
  /** How many getMemberGroups calls have been made. */
  lookups(): number;
}

interface Answer { status: number; json: unknown }

function send(url: string, opts: { body: string; contentType: string; authorization?: string; caPem?: string; timeoutMs: number }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST', timeout: opts.timeoutMs, ...(opts.caPem ? { ca: opts.caPem } : {}),
      headers: { accept: 'application/json', 'content-type': opts.contentType, 'content-length': Buffer.byteLength(opts.body), ...(opts.authorization ? { authorization: opts.authorization } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let json: unknown = null;
        try { json = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* not JSON: reported by the caller */ }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A short, secret-free account of an error body: OAuth's `error`/`error_description` or Graph's `error.code`/`error.message`. */
function describeError(json: unknown): string {
  if (!json || typeof json !== 'object') return 'no JSON body';
  const j = json as { error?: unknown; error_description?: unknown };
  let text: string;
  if (typeof j.error === 'string') text = typeof j.error_description === 'string' ? `${j.error}: ${j.error_description.split('\n')[0]}` : j.error;
  else if (j.error && typeof j.error === 'object') {
    const e = j.error as { code?: unknown; message?: unknown };
    text = `${String(e.code ?? 'error')}: ${String(e.message ?? '')}`;
  } else text = 'an unexpected body';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

const trim = (s: string) => s.replace(/\/+$/, '');

export function graphGroupLookup(opts: GraphGroupLookupOptions): GraphGroupLookup {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tokenUrl = `${trim(opts.authority)}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`;
  const graph = trim(opts.graphEndpoint);
  let cached: { token: string; until: number } | null = null;
  let inflight: Promise<string> | null = null;
  let tokenCount = 0;
  let lookupCount = 0;

  const fetchToken = async (): Promise<string> => {
    tokenCount++;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: opts.clientId, client_secret: opts.clientSecret, scope: 'https://graph.microsoft.com/.default' }).toString();
    let answer: Answer;
    try {
      answer = await send(tokenUrl, { body: form, contentType: 'application/x-www-form-urlencoded', caPem: opts.caPem, timeoutMs });
    } catch (err) {
      throw new Error(`cannot reach the token endpoint ${tokenUrl}: ${(err as Error).message}`);
    }
    const body = answer.json as { access_token?: unknown; expires_in?: unknown } | null;
    if (answer.status !== 200 || typeof body?.access_token !== 'string') {
      throw new Error(`the token endpoint ${tokenUrl} refused client ${opts.clientId} (HTTP ${answer.status}): ${describeError(answer.json)}`);
    }
    const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
    // Guard reuses a token until 300 s before it expires; a short-lived one is kept for half its life.
    const keep = lifetime > 600 ? lifetime - 300 : lifetime / 2;
    cached = { token: body.access_token, until: opts.clock.now() + keep * 1000 };
    return body.access_token;
  };

  const token = (): Promise<string> => {
    if (cached && cached.until > opts.clock.now()) return Promise.resolve(cached.token);
    inflight ??= fetchToken().finally(() => { inflight = null; });
    return inflight;
  };

  return {
    tokenRequests: () => tokenCount,
    lookups: () => lookupCount,
    async memberGroups(tenantId, objectId) {
      if (tenantId !== opts.tenantId) throw new Error(`the Graph look-up is set up for tenant ${opts.tenantId}, not ${tenantId}`);
      const url = `${graph}/v1.0/users/${encodeURIComponent(objectId)}/getMemberGroups`;
      const call = async (bearer: string) => {
        lookupCount++;
        try {
          return await send(url, { body: JSON.stringify({ securityEnabledOnly: false }), contentType: 'application/json', authorization: `Bearer ${bearer}`, caPem: opts.caPem, timeoutMs });
        } catch (err) {
          throw new Error(`cannot reach Microsoft Graph at ${graph}: ${(err as Error).message}`);
        }
      };
      let answer = await call(await token());
      if (answer.status === 401) { // the token was revoked or the keys rolled: one fresh token, once
        cached = null;
        answer = await call(await token());
      }
      const value = (answer.json as { value?: unknown } | null)?.value;
      if (answer.status !== 200 || !Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw new Error(`Microsoft Graph getMemberGroups for ${objectId} failed (HTTP ${answer.status}): ${describeError(answer.json)}`);
      }
      return value as string[];
    },
  };
}
