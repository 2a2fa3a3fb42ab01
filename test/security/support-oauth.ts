import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { formAction, hiddenField, httpsFetch, postForm, type HttpResponse } from '../support/http.js';

// Shared steps of the OAuth security tests: drive /authorize as a browser does (plain GET and form
// posts, no redirects followed) and call /token as a client does.

export interface OAuthTarget {
  authority: string;
  caFile: string;
  tenant: string;
}

export function pkcePair(verifier = randomBytes(32).toString('base64url')): { verifier: string; challenge: string } {
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(t: OAuthTarget, query: Record<string, string>, path = 'oauth2/v2.0/authorize'): string {
  return `${t.authority}/${t.tenant}/${path}?${new URLSearchParams({ response_type: 'code', ...query })}`;
}

export function getAuthorize(t: OAuthTarget, query: Record<string, string>): Promise<HttpResponse> {
  return httpsFetch(authorizeUrl(t, query), { caFile: t.caFile });
}

/** Opens the authorize URL, posts the credentials and accepts consent if asked: the answer to the last POST. */
export async function signIn(
  t: OAuthTarget,
  query: Record<string, string>,
  user: { username: string; password: string },
): Promise<HttpResponse> {
  const page = await getAuthorize(t, query);
  assert.equal(page.status, 200, `the sign-in page: ${page.status} ${page.text.slice(0, 400)}`);
  let res = await postForm(`${t.authority}${formAction(page.text)}`, { state: hiddenField(page.text, 'state')!, ...user }, t.caFile);
  if (res.status === 200 && res.text.includes('name="decision"')) {
    res = await postForm(`${t.authority}${formAction(res.text)}`, { state: hiddenField(res.text, 'state')!, decision: 'accept' }, t.caFile);
  }
  return res;
}

/** The `code` of a sign-in that answered with a redirect to the client. */
export async function authorizationCode(
  t: OAuthTarget,
  query: Record<string, string>,
  user: { username: string; password: string },
): Promise<string> {
  const res = await signIn(t, query, user);
  const location = res.headers.location;
  assert.ok(location, `expected a redirect with a code, got ${res.status}: ${res.text.slice(0, 400)}`);
  const code = new URL(String(location)).searchParams.get('code');
  assert.ok(code, `no code in ${String(location)}`);
  return code;
}

export function tokenRequest(t: OAuthTarget, fields: Record<string, string>, path = 'oauth2/v2.0/token'): Promise<HttpResponse> {
  return postForm(`${t.authority}/${t.tenant}/${path}`, fields, t.caFile);
}

/** Asserts an error in Entra's token-endpoint shape: `error`, AADSTS number, and no token. */
export function assertAadError(res: HttpResponse, status: number, error: string, aadsts?: number): void {
  assert.equal(res.status, status, res.text);
  const body = res.json();
  assert.equal(body.error, error, res.text);
  assert.ok(Array.isArray(body.error_codes), 'error_codes is an array');
  assert.match(body.error_description, /^AADSTS\d+: /);
  assert.ok(body.trace_id && body.correlation_id && body.timestamp, 'trace_id, correlation_id and timestamp are there');
  if (aadsts !== undefined) assert.equal(body.error_codes[0], aadsts, res.text);
  assert.equal(body.access_token, undefined);
  assert.equal(body.refresh_token, undefined);
}

/** The text a person sees on a page. */
export function visibleText(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>|<script>[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
