import { accessToken, ARM_SCOPE, GRAPH_SCOPE } from './auth';

// The portal calls Kentra's public APIs with the signed-in user's own tokens, nothing else: Graph at
// /v1.0 and ARM at /subscriptions…. What the user may not do, the service refuses; the portal shows it.

/** An error answered by Graph or ARM, in their shape `{error:{code,message}}`. */
export class ApiError extends Error {
  constructor(
    readonly service: 'Graph' | 'ARM',
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call<T>(service: 'Graph' | 'ARM', scope: string, url: string, init: RequestInit = {}): Promise<T> {
  const token = await accessToken(scope);
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(url, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof e?.code === 'string' ? e.code : `HTTP${res.status}`;
    const message = typeof e?.message === 'string' ? e.message : text.slice(0, 300) || res.statusText;
    throw new ApiError(service, res.status, code, message);
  }
  return body as T;
}

/** Graph v1.0 on Kentra: `path` is relative to /v1.0 (e.g. `/users`), or a full @odata.nextLink. */
export function graph<T>(path: string, init?: RequestInit): Promise<T> {
  const url = /^https:\/\//.test(path) ? path : `/v1.0${path.startsWith('/') ? '' : '/'}${path}`;
  return call<T>('Graph', GRAPH_SCOPE, url, init);
}

/** ARM on Kentra: `path` starts at /subscriptions, /providers or /tenants and carries its api-version. */
export function arm<T>(path: string, init?: RequestInit): Promise<T> {
  return call<T>('ARM', ARM_SCOPE, path, init);
}

/** Every item of a Graph collection, following @odata.nextLink (bounded). */
export async function graphAll<T>(path: string, maxPages = 20): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = path;
  for (let i = 0; next && i < maxPages; i++) {
    const page: { value: T[]; '@odata.nextLink'?: string } = await graph(next);
    out.push(...page.value);
    next = page['@odata.nextLink'];
  }
  return out;
}

/** The claims of a JWT (for display only: the services verify tokens, the portal never relies on these). */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  const bytes = Uint8Array.from(atob(part.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}
