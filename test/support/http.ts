import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

/** The whole body of a response, as an HttpResponse. */
function readResponse(res: IncomingMessage, resolve: (r: HttpResponse) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
  });
}

/** A plain HTTPS request trusting the given CA file: what a browser or script sends, nothing more. */
export function httpsFetch(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; caFile: string },
): Promise<HttpResponse> {
  const ca = readFileSync(opts.caFile);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, ca }, (res) => readResponse(res, resolve));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export function postForm(
  url: string,
  fields: Record<string, string>,
  caFile: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return httpsFetch(url, {
    method: 'POST',
    caFile,
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** The value of a hidden form field in an HTML page. */
export function hiddenField(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m
    ? m[1]!
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&')
    : undefined;
}

export function formAction(html: string): string | undefined {
  return /<form method="post" action="([^"]*)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
}

/**
 * A request with the path sent exactly as written (no URL parsing, which would resolve dot segments
 * or re-encode), over a given agent: for tests that probe a server's own path handling.
 */
export function requestAsWritten(
  origin: string,
  opts: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: import('node:https').Agent;
    ca: Buffer | string;
  },
): Promise<HttpResponse> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { hostname, port, path: opts.path, method: opts.method, agent: opts.agent, ca: opts.ca, headers: opts.headers },
      (res) => readResponse(res, resolve),
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
