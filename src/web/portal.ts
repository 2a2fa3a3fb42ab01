import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The portal (portal/, a Vite + Preact SPA built into dist/portal by `npm run build`) served on Kentra's
// own listener: `/` and `/portal/` answer its index.html, `/portal/<file>` the built files, and any other
// `/portal/<path>` without an extension falls back to index.html (client-side routes). Nothing outside
// `/` and `/portal/` is touched, so no protocol route (`/{tenant}/oauth2/…`, `/v1.0/…`, `/subscriptions/…`,
// `/.well-known/…`) can be shadowed. Only files found by listing dist/portal are served: a request path
// is a key into that list, never joined onto a directory, so `..`, encoded slashes and dotfiles find nothing.

/** Where `npm run build` puts the portal (dist/portal, next to dist/src). */
export const PORTAL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../portal');
/** The portal's base path: every built asset lives under it. */
export const PORTAL_BASE = '/portal/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The portal's Content-Security-Policy: its own scripts, styles and API calls only (no inline script, no
 * CDN); framing by its own origin only, which msal-browser's silent iframe and redirect bridge need.
 */
export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'self'",
  "frame-ancestors 'self'",
  "form-action 'self'",
  "base-uri 'self'",
  "object-src 'none'",
].join('; ');

/** Built file names carry a content hash (Vite: `name-<hash>.js`): cached for a year. */
const HASHED = /^assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;
const RESCAN_MS = 2_000;

interface Listing {
  files: Set<string>;
  at: number;
}

function list(dir: string): Set<string> {
  const files = new Set<string>();
  const walk = (d: string, prefix: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      if (entry.isDirectory()) walk(join(d, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile()) files.add(`${prefix}${entry.name}`);
    }
  };
  try {
    walk(dir, '');
  } catch {
    // No build yet: an empty listing.
  }
  return files;
}

export function registerPortal(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = opts.dir ?? PORTAL_DIR;
  let listing: Listing = { files: list(dir), at: Date.now() };
  /** Is `rel` a built file? The listing is read again (at most every 2 s) when a name is missing: a rebuild while running. */
  const has = (rel: string): boolean => {
    if (listing.files.has(rel)) return true;
    if (Date.now() - listing.at > RESCAN_MS) listing = { files: list(dir), at: Date.now() };
    return listing.files.has(rel);
  };

  const common = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', PORTAL_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'SAMEORIGIN')
      .header('referrer-policy', 'no-referrer');

  const sendFile = (reply: FastifyReply, rel: string, status = 200): FastifyReply => {
    const file = join(dir, rel);
    // The listing names only regular files under dir; checked once more against a swapped symlink.
    if (!resolve(file).startsWith(resolve(dir) + sep) || !statSync(file).isFile()) return notFound(reply);
    const type = TYPES[extname(rel).toLowerCase()] ?? 'application/octet-stream';
    const cache = HASHED.test(rel) ? 'public, max-age=31536000, immutable' : 'no-cache';
    return common(reply).code(status).header('cache-control', cache).type(type).send(readFileSync(file));
  };
  const notFound = (reply: FastifyReply): FastifyReply =>
    common(reply).code(404).header('cache-control', 'no-cache').type('text/plain; charset=utf-8').send('Not found.');

  const index = (_req: FastifyRequest, reply: FastifyReply) => {
    if (!has('index.html'))
      return common(reply)
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send(
          'The Kentra portal is not built. Run `npm run build` (it builds the portal into dist/portal), then reload this page.\n' +
            'The APIs (/{tenant}/oauth2/v2.0/…, /v1.0/…, /subscriptions/…) work without it.\n',
        );
    return sendFile(reply, 'index.html');
  };

  const asset = (req: FastifyRequest, reply: FastifyReply) => {
    // The raw path, not the router's decoded parameter: an encoded `/`, `\` or `.` never becomes a separator.
    const raw = req.url.split('?')[0]!;
    const m = /^\/portal\/(.*)$/i.exec(raw);
    if (!m) return index(req, reply);
    const rel = m[1]!;
    if (rel === '' || rel === 'index.html') return index(req, reply);
    const segments = rel.split('/');
    const plain = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
    if (segments.every((s) => plain.test(s)) && has(rel)) return sendFile(reply, rel);
    // A client-side route (no extension, nothing odd in it) is the app's; anything else that is not a file is a 404.
    const last = segments[segments.length - 1]!;
    if (segments.every((s) => plain.test(s)) && !last.includes('.')) return index(req, reply);
    return notFound(reply);
  };

  app.get('/', index);
  app.get('/portal', index);
  app.get('/portal/*', asset);
}
