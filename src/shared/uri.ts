// Percent-decoding of text a client controls: a malformed escape (`%ZZ`, a lone `%`) is the client's
// text as sent, not an exception that would surface as a 5xx.

/**
 * `decodeURIComponent`, or the value unchanged when it is not a valid percent-encoding, or when it
 * would decode to U+0000 (`%2500` sent twice-encoded past the edge's NUL check): no NUL reaches the store.
 */
export function decodeComponent(value: string): string {
  try {
    const decoded = decodeURIComponent(value);
    return decoded.includes('\u0000') ? value : decoded;
  } catch {
    return value;
  }
}

/** The query string of a request URL (`/path?x=1`) as URLSearchParams, whatever the path looks like (`//v2.0/…`). */
export function searchParamsOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}
