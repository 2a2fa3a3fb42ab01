// Percent-decoding of text a client controls: a malformed escape (`%ZZ`, a lone `%`) is the client's
// text as sent, not an exception that would surface as a 5xx.

/** `decodeURIComponent`, or the value unchanged when it is not a valid percent-encoding. */
export function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The query string of a request URL (`/path?x=1`) as URLSearchParams, whatever the path looks like (`//v2.0/…`). */
export function searchParamsOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}
