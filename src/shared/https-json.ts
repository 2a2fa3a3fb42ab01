import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';

// The one JSON client of Kentra's outgoing calls (the CLI's ARM and Graph calls, kubelogin's token
// endpoint, the access layer's JWKS, Graph and ARM calls, federation's OIDC discovery, the
// apiserver runner's kube client): one timeout, one size limit, one parse, and one error class with
// a stable code. A status of 4xx/5xx is an answer, not an error, for `requestJson`; `fetchJson` is
// for callers that want a 2xx JSON body or an error. Callers word the message a user sees.

/** Why a call failed: the network (DNS, refused, TLS), no answer in time, a body too large, a refusing status, a body not JSON. */
export type HttpsJsonErrorCode = 'network' | 'timeout' | 'too_large' | 'status' | 'parse';

export class HttpsJsonError extends Error {
  /** Node's code of a network failure (`ECONNREFUSED`, `SELF_SIGNED_CERT_IN_CHAIN`…). */
  readonly systemCode?: string;

  constructor(
    readonly code: HttpsJsonErrorCode,
    /** The URL called, without its query (it may hold a parameter the caller would not print). */
    readonly url: string,
    message: string,
    /** The answer, for `status` and `parse`. */
    readonly answer?: JsonAnswer,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'HttpsJsonError';
    const sys = (cause as NodeJS.ErrnoException | undefined)?.code;
    if (typeof sys === 'string') this.systemCode = sys;
  }

  /** The HTTP status of the answer, for `status` and `parse`. */
  get status(): number | undefined {
    return this.answer?.status;
  }
}

export interface JsonRequest {
  method?: string;
  headers?: OutgoingHttpHeaders;
  /** A JSON body (content-type application/json). */
  json?: unknown;
  /** A form body (content-type application/x-www-form-urlencoded). */
  form?: Record<string, string> | URLSearchParams;
  /** A body as is; say its content-type in `headers`. */
  body?: string | Buffer;
  /** CA certificates to trust instead of the default store (PEM). */
  ca?: string | string[];
  /** An agent (keep-alive, client certificate); `ca` is then the agent's. */
  agent?: Agent;
  /** Milliseconds without an answer (socket idle) before the call fails with `timeout`; 30 s by default, 0 for none. */
  timeoutMs?: number;
  /** The largest body read; more fails with `too_large`. 16 MiB by default. */
  maxBytes?: number;
}

export interface JsonAnswer<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body; undefined when it is empty or not JSON. */
  json: T | undefined;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

const withoutQuery = (url: string | URL): string => String(url).split('?')[0]!;

/** One call; any HTTP status is an answer. Throws HttpsJsonError `network`, `timeout` or `too_large`. */
export function requestJson<T = unknown>(url: string | URL, opts: JsonRequest = {}): Promise<JsonAnswer<T>> {
  const shown = withoutQuery(url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const headers: OutgoingHttpHeaders = { accept: 'application/json', ...opts.headers };
  let payload: Buffer | undefined;
  if (opts.json !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.json));
    headers['content-type'] ??= 'application/json';
  } else if (opts.form) {
    payload = Buffer.from(new URLSearchParams(opts.form).toString());
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  }
  if (payload) headers['content-length'] = payload.length;
  const plain = String(url).startsWith('http:');
  return new Promise((resolve, reject) => {
    const onAnswer = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 0) return;
        size += c.length;
        if (size > maxBytes) {
          size = -1;
          fail(new HttpsJsonError('too_large', shown, `${shown} answered more than ${maxBytes} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => fail(err));
      res.on('aborted', () => fail(new Error('the connection closed before the whole answer')));
      res.on('end', () => {
        if (size < 0) return;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: T | undefined;
        if (text) {
          try {
            json = JSON.parse(text) as T;
          } catch {
            /* not JSON: json stays undefined, the text is kept */
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    };
    const options = {
      method: opts.method ?? 'GET',
      headers,
      ...(plain ? {} : { ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.agent ? { agent: opts.agent } : {}) }),
    };
    const req = plain ? httpRequest(url, options, onAnswer) : httpsRequest(url, options, onAnswer);
    const fail = (err: Error) =>
      reject(err instanceof HttpsJsonError ? err : new HttpsJsonError('network', shown, err.message, undefined, err));
    if (timeoutMs > 0)
      req.setTimeout(timeoutMs, () =>
        req.destroy(new HttpsJsonError('timeout', shown, `${shown} did not answer within ${Math.ceil(timeoutMs / 1000)} s`)),
      );
    req.on('error', fail);
    req.end(payload);
  });
}

/** A 2xx JSON body, or HttpsJsonError (`status` for another status, `parse` for a body that is not JSON). */
export async function fetchJson<T = unknown>(url: string | URL, opts: JsonRequest = {}): Promise<T> {
  const answer = await requestJson<T>(url, opts);
  const shown = withoutQuery(url);
  if (answer.status < 200 || answer.status > 299)
    throw new HttpsJsonError('status', shown, `${shown} answered HTTP ${answer.status}`, answer);
  if (answer.json === undefined) throw new HttpsJsonError('parse', shown, `${shown} did not answer JSON`, answer);
  return answer.json;
}
