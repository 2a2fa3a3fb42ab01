import type { Clock } from '../shared/clock.js';
import { requestJson } from '../shared/https-json.js';

// HTTPS JSON calls of the access layer running apart from Kentra (`kentra webhook`): an app-only
// token from `<authority>/<tenant>/oauth2/v2.0/token` (client credentials), kept until five minutes
// before it expires (Guard's margin), and one POST helper. Errors name the endpoint and what it
// answered, never the secret or a token.

export interface Answer {
  status: number;
  json: unknown;
}

export async function send(
  url: string,
  opts: { body: string; contentType: string; authorization?: string; caPem?: string; timeoutMs: number },
): Promise<Answer> {
  const answer = await requestJson(url, {
    method: 'POST',
    body: opts.body,
    headers: { 'content-type': opts.contentType, ...(opts.authorization ? { authorization: opts.authorization } : {}) },
    ...(opts.caPem ? { ca: opts.caPem } : {}),
    timeoutMs: opts.timeoutMs,
  });
  // A body that is not JSON is null here and reported by the caller.
  return { status: answer.status, json: answer.json ?? null };
}

/** A short, secret-free account of an error body: OAuth's `error`/`error_description` or Graph's `error.code`/`error.message`. */
export function describeError(json: unknown): string {
  if (!json || typeof json !== 'object') return 'no JSON body';
  const j = json as { error?: unknown; error_description?: unknown };
  let text: string;
  if (typeof j.error === 'string')
    text = typeof j.error_description === 'string' ? `${j.error}: ${j.error_description.split('\n')[0]}` : j.error;
  else if (j.error && typeof j.error === 'object') {
    const e = j.error as { code?: unknown; message?: unknown };
    text = `${String(e.code ?? 'error')}: ${String(e.message ?? '')}`;
  } else text = 'an unexpected body';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export interface AppOnlyTokenOptions {
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** e.g. `https://graph.microsoft.com/.default`, `https://management.azure.com/.default`. */
  scope: string;
  caPem?: string;
  clock: Clock;
  timeoutMs: number;
}

export interface AppOnlyTokens {
  token(): Promise<string>;
  /** Drops the kept token (after a 401): the next call asks for a fresh one. */
  reset(): void;
  requests(): number;
}

export function appOnlyTokens(opts: AppOnlyTokenOptions): AppOnlyTokens {
  const tokenUrl = `${opts.authority.replace(/\/+$/, '')}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`;
  let cached: { token: string; until: number } | null = null;
  let inflight: Promise<string> | null = null;
  let count = 0;
  const fetchToken = async (): Promise<string> => {
    count++;
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
      scope: opts.scope,
    }).toString();
    let answer: Answer;
    try {
      answer = await send(tokenUrl, {
        body: form,
        contentType: 'application/x-www-form-urlencoded',
        caPem: opts.caPem,
        timeoutMs: opts.timeoutMs,
      });
    } catch (err) {
      throw new Error(`cannot reach the token endpoint ${tokenUrl}: ${(err as Error).message}`, { cause: err });
    }
    const body = answer.json as { access_token?: unknown; expires_in?: unknown } | null;
    if (answer.status !== 200 || typeof body?.access_token !== 'string') {
      throw new Error(
        `the token endpoint ${tokenUrl} refused client ${opts.clientId} (HTTP ${answer.status}): ${describeError(answer.json)}`,
      );
    }
    const lifetime = Number(body.expires_in) > 0 ? Number(body.expires_in) : 3600;
    // Guard reuses a token until 300 s before it expires; a short-lived one is kept for half its life.
    const keep = lifetime > 600 ? lifetime - 300 : lifetime / 2;
    cached = { token: body.access_token, until: opts.clock.now() + keep * 1000 };
    return body.access_token;
  };
  return {
    token() {
      if (cached && cached.until > opts.clock.now()) return Promise.resolve(cached.token);
      inflight ??= fetchToken().finally(() => {
        inflight = null;
      });
      return inflight;
    },
    reset() {
      cached = null;
    },
    requests: () => count,
  };
}
