import assert from 'node:assert/strict';
import { request } from 'node:https';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createCertificateAuthority } from '../pki/index.js';
import { StoreError } from '../store/index.js';
import { createServer, MAX_JSON_DEPTH } from './app.js';

// The server's direct way (DirectRoutes): which requests take it, and that what they get is what
// fastify's way gives for the same request (request id, body errors, error shapes, metrics, log).

const ROUTE = '/clusters/:uid/webhooks/tokenreviews';
const PATH = /^\/clusters\/([0-9a-z-]{1,64})\/webhooks\/tokenreviews$/;
/** A route whose matcher takes any segment, percent-escapes too. */
const LOOSE_ROUTE = '/clusters/:uid/webhooks/loose';
const LOOSE_PATH = /^\/clusters\/([^/]+)\/webhooks\/loose$/;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

describe('the direct way of the HTTPS server', { timeout: 60_000 }, () => {
  let port = 0;
  let ca = '';
  let close: () => Promise<void> = async () => {};
  const logLines: string[] = [];
  let metricsText: () => Promise<string> = async () => '';

  before(async () => {
    const authority = await createCertificateAuthority('direct-way test CA', 1);
    const server = await authority.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
    ca = authority.certPem;
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(...chunk.toString().split('\n').filter(Boolean));
          done();
        },
      }),
    );
    const { app, direct, metrics } = createServer({
      tls: { key: server.keyPem, cert: server.certPem },
      logger,
      hosts: [],
      port: () => port,
      ready: async () => true,
    });
    // The same route both ways: each answer says which way it came and what it was given.
    const handle = async (uid: string, body: unknown) => {
      const b = body as { fail?: string } | undefined;
      if (b?.fail === 'store') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      if (b?.fail === 'conflict') throw new StoreError('conflict', 'the object changed');
      if (b?.fail === 'bug') throw new Error('secret internal detail');
      return { uid, body };
    };
    for (const [route, pattern] of [
      [ROUTE, PATH],
      [LOOSE_ROUTE, LOOSE_PATH],
    ] as const) {
      app.post(route, async (req, reply) => {
        const answer = await handle((req.params as { uid: string }).uid, req.body);
        return reply.header('cache-control', 'no-store').header('x-way', 'fastify').send(answer);
      });
      direct.post(
        route,
        (path) => {
          const m = pattern.exec(path);
          return m ? [m[1]!] : null;
        },
        async (req) => {
          const answer = await handle(req.params[0]!, req.body);
          return { statusCode: 200, headers: { 'cache-control': 'no-store', 'x-way': 'direct' }, body: JSON.stringify(answer) };
        },
      );
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
    metricsText = () => metrics.render();
    close = () => app.close();
  });
  after(() => close());

  const call = (opts: { path?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean }) =>
    new Promise<Answer>((resolve, reject) => {
      const body = opts.body ?? '';
      const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
      if (!opts.chunked && opts.method !== 'GET') headers['content-length'] = String(Buffer.byteLength(body));
      const req = request(
        {
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          path: opts.path ?? '/clusters/c1/webhooks/tokenreviews',
          method: opts.method ?? 'POST',
          headers,
          ca,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
        },
      );
      req.on('error', reject);
      if (opts.chunked) {
        req.write(body);
        req.end();
      } else req.end(body);
    });
  const via = (a: Answer) => a.headers['x-way'];
  /** What a client can compare between two answers: all but the date and the request id. */
  const comparable = (a: Answer) => {
    const { date: _d, 'x-ms-request-id': _id, 'x-way': _w, ...headers } = a.headers;
    return { status: a.status, headers, text: a.text };
  };

  it('takes a plain POST of JSON to the route, and answers it as fastify would', async () => {
    const body = JSON.stringify({ kind: 'TokenReview', spec: { token: 'a.b.c' } });
    const d = await call({ body });
    const f = await call({ path: '/clusters/c1/webhooks/tokenreviews/', body }); // a trailing slash: fastify's way
    assert.equal(via(d), 'direct');
    assert.equal(via(f), 'fastify');
    assert.deepEqual(comparable(d), comparable(f));
    assert.equal(d.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(d.headers['cache-control'], 'no-store');
    assert.match(String(d.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/);
    assert.notEqual(d.headers['x-ms-request-id'], f.headers['x-ms-request-id']);
    assert.deepEqual(JSON.parse(d.text), { uid: 'c1', body: JSON.parse(body) });
  });

  it('leaves every other request to fastify: query, other paths, types, methods, lengths, and refused hosts', async () => {
    const body = '{"a":1}';
    const cases: [string, Parameters<typeof call>[0]][] = [
      ['a query string', { path: '/clusters/c1/webhooks/tokenreviews?x=1', body }],
      ['another case', { path: '/Clusters/c1/webhooks/TokenReviews', body }],
      ['a doubled slash', { path: '/clusters//c1/webhooks/tokenreviews', body }],
      ['a JSON type with parameters of another type', { headers: { 'content-type': 'application/jsonx' }, body }],
      ['a chunked body (no length)', { chunked: true, body }],
    ];
    for (const [what, c] of cases) {
      const a = await call(c);
      assert.equal(via(a), a.status === 200 ? 'fastify' : undefined, `${what}: ${a.status} ${a.text}`);
    }
    // fastify's own answers for what it does not take: its text parser, 415, 404, 413 and the host refusal (421).
    assert.equal(via(await call({ headers: { 'content-type': 'text/plain' }, body: 'x' })), 'fastify');
    const xml = await call({ headers: { 'content-type': 'application/xml' }, body: '<x/>' });
    assert.equal(xml.status, 415, xml.text);
    const get = await call({ method: 'GET' });
    assert.equal(get.status, 404, get.text);
    const big = await call({ body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
    assert.equal(big.status, 413, big.text);
    const microsoft = await call({ headers: { host: 'login.microsoftonline.com' }, body });
    assert.equal(microsoft.status, 421, microsoft.text);
    assert.match(microsoft.text, /not serving Microsoft's host names/);
    // A Host this listener does not refuse (the main listener answers any, with the origin of localhost) is
    // taken: fastify's way would answer it the same.
    const foreign = await call({ headers: { host: `other.example:${port}` }, body });
    assert.equal(via(foreign), 'direct');
    // Each Host is judged on its own (the direct way remembers its judgement per Host, listener and route).
    const again = await call({ headers: { host: 'login.microsoftonline.com' }, body });
    assert.equal(again.status, 421, again.text);
    assert.equal(via(await call({ headers: { host: `localhost:${port}` }, body })), 'direct');
    // A charset parameter is still JSON, and is taken.
    assert.equal(via(await call({ headers: { 'content-type': 'application/json; charset=utf-8' }, body })), 'direct');
  });

  it('answers a body that is not strict UTF-8 JSON, or holds U+0000, with the same 400 and a closed connection', async () => {
    const bodies: [string | Buffer, RegExp][] = [
      ['{"a":', /not valid JSON/],
      [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), /not valid UTF-8/],
      ['{"a":"x\\u0000y"}', /NUL character/],
      ['{"a\\u0000":1}', /NUL character/],
      ['[["deep",["\\u0000"]]]', /NUL character/],
    ];
    for (const [body, message] of bodies) {
      const d = await call({ body });
      const f = await call({ path: '/clusters/c1/webhooks/tokenreviews/', body });
      assert.equal(d.status, 400, d.text);
      assert.match(d.text, message);
      assert.deepEqual(JSON.parse(d.text), { error: 'BadRequest', message: (JSON.parse(d.text) as { message: string }).message });
      assert.equal(d.headers.connection, 'close');
      assert.deepEqual(comparable(d), comparable(f));
    }
    // An escaped backslash before u0000 is text, not U+0000; a BOM is dropped as before; an empty body is no body.
    assert.deepEqual(JSON.parse((await call({ body: '{"a":"\\\\u0000"}' })).text).body, { a: '\\u0000' });
    assert.deepEqual(JSON.parse((await call({ body: '\ufeff{"a":1}' })).text).body, { a: 1 });
    assert.equal(JSON.parse((await call({ body: '' })).text).body, undefined);
  });

  it(`refuses a body nested more than ${MAX_JSON_DEPTH} levels deep with the same 400 both ways, and takes one at the limit; brackets in strings are text`, async () => {
    const depthMessage = `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`;
    const arrays = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    const objects = (levels: number, leaf = '1') => `${'{"a":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
    const tooDeep: [string, string][] = [
      ['5,000 arrays', arrays(5000)],
      ['3,000 objects', objects(3000)],
      ['one array over the limit', arrays(MAX_JSON_DEPTH + 1)],
      ['one object over the limit', objects(MAX_JSON_DEPTH + 1)],
      ['arrays and objects, one over', objects(MAX_JSON_DEPTH / 2, arrays(MAX_JSON_DEPTH / 2 + 1))],
      // A string ending in an escaped backslash ends at its quote: what follows is counted.
      ['after a string ending in a backslash', `["\\\\",${arrays(MAX_JSON_DEPTH)}]`],
    ];
    for (const [what, body] of tooDeep) {
      const d = await call({ body });
      const f = await call({ path: '/clusters/c1/webhooks/tokenreviews/', body });
      assert.equal(d.status, 400, `${what}: ${d.text}`);
      assert.deepEqual(JSON.parse(d.text), { error: 'BadRequest', message: depthMessage }, what);
      assert.equal(d.headers.connection, 'close', what);
      assert.deepEqual(comparable(d), comparable(f), what);
    }
    const atTheLimit: [string, string][] = [
      ['arrays', arrays(MAX_JSON_DEPTH)],
      ['objects', objects(MAX_JSON_DEPTH)],
      ['arrays and objects', objects(MAX_JSON_DEPTH / 2, arrays(MAX_JSON_DEPTH / 2))],
      // More brackets than the limit, none deeper than it.
      ['arrays beside one another', `[[],${arrays(MAX_JSON_DEPTH - 1)},[[]]]`],
      // Brackets inside strings, around escaped quotes and backslashes, are text at depth one.
      ['brackets in strings', `{"s":"${'['.repeat(100)}\\"${'{'.repeat(100)}\\\\","t":"\\\\\\"[[[[[["}`],
    ];
    for (const [what, body] of atTheLimit) {
      const d = await call({ body });
      assert.equal(via(d), 'direct', `${what}: ${d.status} ${d.text.slice(0, 200)}`);
      assert.deepEqual(JSON.parse(d.text), { uid: 'c1', body: JSON.parse(body) }, what);
      assert.equal(via(await call({ path: '/clusters/c1/webhooks/tokenreviews/', body })), 'fastify', what);
    }
    // A string that never closes is not JSON, however many brackets it holds.
    const open = await call({ body: `{"a":"${'['.repeat(200)}` });
    assert.deepEqual(JSON.parse(open.text), { error: 'BadRequest', message: 'The request body is not valid JSON.' });
  });

  it("answers a path that does not decode, or an overlong segment, in its protocol's shape with a request id, counted and logged", async () => {
    const message = (path: string) => `The request path ${path} is not a valid URL path: its percent-escapes must decode to UTF-8 text.`;
    const id = (a: Answer) => String(a.headers['x-ms-request-id']);
    const cases: [string, string, (a: Answer) => unknown][] = [
      [
        'GET',
        '/v1.0/users/%FF',
        (a) => ({ error: { code: 'Request_BadRequest', message: message('/v1.0/users/%FF'), innerError: { 'request-id': id(a) } } }),
      ],
      [
        'GET',
        '/subscriptions/%C0%AF?api-version=1',
        () => ({ error: { code: 'InvalidRequestContent', message: message('/subscriptions/%C0%AF') } }),
      ],
      [
        'POST',
        '/common/oauth2/v2.0/token/%ED%A0%80',
        (a) => ({ error: 'invalid_request', error_description: message('/common/oauth2/v2.0/token/%ED%A0%80'), trace_id: id(a) }),
      ],
      [
        'POST',
        '/clusters/c%FF1/webhooks/tokenreviews',
        () => ({ error: 'BadRequest', message: message('/clusters/c%FF1/webhooks/tokenreviews') }),
      ],
    ];
    const before = await metricsText();
    for (const [method, path, expected] of cases) {
      const a = await call({ method, path, body: method === 'POST' ? '{}' : undefined });
      assert.equal(a.status, 400, `${path}: ${a.text}`);
      assert.match(id(a), /^[0-9a-f-]{36}$/, path);
      const body = JSON.parse(a.text);
      // Only what the test can know of each shape: the date and timestamps are the server's.
      if (body.error?.innerError) {
        assert.match(body.error.innerError.date, /^\d{4}-\d{2}-\d{2}T/);
        assert.equal(body.error.innerError['client-request-id'], id(a));
        delete body.error.innerError.date;
        delete body.error.innerError['client-request-id'];
      }
      if (body.error === 'invalid_request') {
        assert.deepEqual([a.headers['cache-control'], a.headers.pragma], ['no-store, no-cache', 'no-cache'], path);
        assert.deepEqual([body.error_codes, body.correlation_id], [[], id(a)]);
        delete body.error_codes;
        delete body.timestamp;
        delete body.correlation_id;
      }
      assert.deepEqual(body, expected(a), path);
      const line = logLines.find((l) => l.includes(id(a)) && l.includes('"msg":"request"'));
      assert.ok(line, `${path}: a request line with its request id`);
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual([entry.method, entry.route, entry.status], [method, 'unmatched', 400], path);
    }
    const count = (text: string, method: string) =>
      Number(new RegExp(`kentra_http_requests_total\\{method="${method}",route="unmatched",status="400"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const after = await metricsText();
    assert.equal(count(after, 'GET') - count(before, 'GET'), 2);
    assert.equal(count(after, 'POST') - count(before, 'POST'), 2);
    // A path segment over the router's 500 characters: 414, in the same shape.
    const long = await call({ path: `/clusters/${'a'.repeat(501)}/webhooks/tokenreviews`, body: '{}' });
    assert.equal(long.status, 414, long.text);
    assert.match(
      JSON.parse(long.text).message,
      /^A segment of the request path \/clusters\/a+\/webhooks\/tokenreviews is longer than 500 characters\.$/,
    );
    assert.match(id(long), /^[0-9a-f-]{36}$/);
    // The direct way leaves every percent-escape to fastify, even where its matcher would take it: fastify
    // decodes one that decodes for the route, and refuses one that does not, the one way for both.
    const escaped = await call({ path: '/clusters/c%31/webhooks/loose', body: '{"a":1}' });
    assert.equal(via(escaped), 'fastify', escaped.text);
    assert.equal(JSON.parse(escaped.text).uid, 'c1');
    const undecodable = await call({ path: '/clusters/c%FF/webhooks/loose', body: '{"a":1}' });
    assert.equal(undecodable.status, 400, undecodable.text);
    assert.deepEqual(JSON.parse(undecodable.text), { error: 'BadRequest', message: message('/clusters/c%FF/webhooks/loose') });
  });

  it("answers a handler's failure in the protocol's shape: the store unreachable 503 with Retry-After, a conflict 409, a bug 500 without its message", async () => {
    for (const [fail, status] of [
      ['store', 503],
      ['conflict', 409],
      ['bug', 500],
    ] as const) {
      const body = JSON.stringify({ fail });
      const d = await call({ body });
      const f = await call({ path: '/clusters/c1/webhooks/tokenreviews/', body });
      assert.equal(d.status, status, d.text);
      assert.deepEqual(comparable(d), comparable(f));
      if (status === 503) assert.equal(d.headers['retry-after'], '5');
      assert.doesNotMatch(d.text, /secret internal detail|ECONNREFUSED/);
    }
    assert.ok(
      logLines.some((l) => l.includes('"request failed"') && l.includes('secret internal detail') && l.includes('"reqId"')),
      'the 500 is logged with its request id',
    );
  });

  it('counts and logs each request the same way: the route, the status, the request id, never the body', async () => {
    const before = await metricsText();
    const count = (text: string, status: string) =>
      Number(
        new RegExp(
          `kentra_http_requests_total\\{method="POST",route="${ROUTE.replace(/[/:]/g, '\\$&')}",status="${status}"\\} (\\d+)`,
        ).exec(text)?.[1] ?? 0,
      );
    const d = await call({ body: '{"token":"do-not-log-me"}' });
    const f = await call({ path: '/clusters/c1/webhooks/tokenreviews/', body: '{"token":"do-not-log-me"}' });
    const after = await metricsText();
    assert.equal(count(after, '200') - count(before, '200'), 2);
    // The duration histogram of the route: cumulative buckets ending in +Inf, which equals _count; a _sum.
    const route = ROUTE.replace(/[/:]/g, '\\$&');
    const durations = (text: string) => {
      const buckets = [
        ...text.matchAll(
          new RegExp(`^kentra_http_request_duration_seconds_bucket\\{method="POST",route="${route}",le="([^"]+)"\\} (\\d+)$`, 'gm'),
        ),
      ];
      const one = (what: string) =>
        Number(
          new RegExp(`^kentra_http_request_duration_seconds_${what}\\{method="POST",route="${route}"\\} ([\\d.e-]+)$`, 'm').exec(
            text,
          )?.[1] ?? NaN,
        );
      return { buckets: buckets.map((m) => [m[1], Number(m[2])] as const), count: one('count'), sum: one('sum') };
    };
    const h0 = durations(before);
    const h1 = durations(after);
    assert.equal(h1.count - (Number.isNaN(h0.count) ? 0 : h0.count), 2, after);
    assert.ok(h1.sum > 0, `a duration sum: ${h1.sum}`);
    assert.deepEqual(
      h1.buckets.map(([le]) => le),
      ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '+Inf'],
    );
    assert.ok(
      h1.buckets.every(([, n], i) => i === 0 || n >= h1.buckets[i - 1]![1]),
      `cumulative: ${JSON.stringify(h1.buckets)}`,
    );
    assert.equal(h1.buckets.at(-1)![1], h1.count);
    assert.match(after, /^# TYPE kentra_http_request_duration_seconds histogram$/m);
    assert.match(after, /^# TYPE kentra_http_requests_total counter$/m);
    for (const a of [d, f]) {
      const line = logLines.find((l) => l.includes(String(a.headers['x-ms-request-id'])) && l.includes('"msg":"request"'));
      assert.ok(line, `a request line with the request id ${String(a.headers['x-ms-request-id'])}`);
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual({ method: entry.method, route: entry.route, status: entry.status }, { method: 'POST', route: ROUTE, status: 200 });
    }
    assert.ok(!logLines.some((l) => l.includes('do-not-log-me')), 'no body in the log');
  });
});
