import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchJson, HttpsJsonError, requestJson } from './https-json.js';

// The one outgoing JSON client: each way a call can fail has its stable code.

describe('https-json', () => {
  let server: Server;
  let base = '';
  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/json') {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ method: req.method, type: req.headers['content-type'] ?? null, body })),
        );
      } else if (url.pathname === '/refused') res.writeHead(403).end('{"error":{"code":"Forbidden"}}');
      else if (url.pathname === '/html') res.writeHead(502).end('<html>bad gateway</html>');
      else if (url.pathname === '/big') res.writeHead(200).end(`"${'x'.repeat(4096)}"`);
      else if (url.pathname === '/slow') setTimeout(() => res.writeHead(200).end('{}'), 600);
      else res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const failure = async (p: Promise<unknown>): Promise<HttpsJsonError> => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof HttpsJsonError, String(err));
      return err;
    }
    assert.fail('no error');
  };

  it('sends a form or a JSON body with its content type and parses the answer', async () => {
    const form = await fetchJson<{ method: string; type: string; body: string }>(`${base}/json`, {
      method: 'POST',
      form: { grant_type: 'client_credentials', scope: 'a b' },
    });
    assert.deepEqual(form, { method: 'POST', type: 'application/x-www-form-urlencoded', body: 'grant_type=client_credentials&scope=a+b' });
    const json = await fetchJson<{ type: string; body: string }>(`${base}/json`, { method: 'PUT', json: { a: 1 } });
    assert.deepEqual([json.type, json.body], ['application/json', '{"a":1}']);
  });

  it('answers any status from requestJson, with the body parsed or kept as text', async () => {
    const refused = await requestJson(`${base}/refused`);
    assert.deepEqual([refused.status, refused.json], [403, { error: { code: 'Forbidden' } }]);
    const html = await requestJson(`${base}/html`);
    assert.deepEqual([html.status, html.json, html.text], [502, undefined, '<html>bad gateway</html>']);
    const empty = await requestJson(`${base}/empty`);
    assert.deepEqual([empty.status, empty.json, empty.text], [204, undefined, '']);
  });

  it('fails with code status or parse from fetchJson, the URL shown without its query', async () => {
    const status = await failure(fetchJson(`${base}/refused?secret=1`));
    assert.deepEqual([status.code, status.status, status.message], ['status', 403, `${base}/refused answered HTTP 403`]);
    const gateway = await failure(fetchJson(`${base}/html`));
    assert.deepEqual([gateway.code, gateway.answer?.text], ['status', '<html>bad gateway</html>']);
    const notJson = await failure(fetchJson(`${base}/empty`));
    assert.deepEqual([notJson.code, notJson.message], ['parse', `${base}/empty did not answer JSON`]);
  });

  it('fails with code timeout, too_large and network', async () => {
    const slow = await failure(requestJson(`${base}/slow`, { timeoutMs: 200 }));
    assert.deepEqual([slow.code, slow.message], ['timeout', `${base}/slow did not answer within 1 s`]);
    const big = await failure(requestJson(`${base}/big`, { maxBytes: 1024 }));
    assert.equal(big.code, 'too_large');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await failure(requestJson(`http://127.0.0.1:${port}/`));
    assert.deepEqual([refused.code, refused.systemCode], ['network', 'ECONNREFUSED']);
  });
});
