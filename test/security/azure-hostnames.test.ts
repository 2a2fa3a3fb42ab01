import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { hostsFileLines } from '../../src/shared/azure-hosts.js';
import { ALICE, API_APP, CLI_APP, CLIENTS_TENANT, clientSeed } from '../support/client-seed.js';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import {
  createNetns,
  netnsSkip,
  nsFetch,
  nsFetchAll,
  startKentraIn,
  type KentraInNetns,
  type Netns,
  type NsRequest,
} from '../support/netns.js';

// The surface `kentra up --azure-hostnames` adds (issue 19): Microsoft's names on port 443 of a network
// namespace. A Host header cannot carry a request to another name's routes (raw, encoded or dotted
// paths, another port, Kentra's own /metrics), unknown names are refused, and a token whose issuer is
// login.microsoftonline.com is accepted only while Kentra serves that name.

describe('Microsoft host names (kentra up --azure-hostnames): host routing and issuers', { skip: netnsSkip(), timeout: 120_000 }, () => {
  let ns: Netns;
  let k: KentraInNetns;
  let dataDir: string;
  let mainPort: string;
  const get = (url: string, headers: Record<string, string> = {}, pathAsWritten?: string) =>
    nsFetch(ns, url, { caFile: k.endpoints.caFile, headers, pathAsWritten });
  const getAll = (requests: NsRequest[]) => nsFetchAll(ns, k.endpoints.caFile, requests);

  before(async () => {
    ns = createNetns(hostsFileLines('127.0.0.1'));
    dataDir = mkdtempSync(join(tmpdir(), 'kentra-hostnames-'));
    k = await startKentraIn(ns, {
      dataDir,
      seed: clientSeed({ certificatePem: (await createSelfSignedCertificate({ commonName: 'x' })).certPem }),
    });
    mainPort = new URL(k.endpoints.authority).port;
  });
  after(async () => {
    await k?.stop();
    await ns?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a Host header does not carry a request to another name's routes: each refusal names host and path, in that name's protocol", async () => {
    const cases: [string, string, (body: any) => unknown][] = [
      ['graph.microsoft.com', `/subscriptions?api-version=2022-12-01`, (b) => b.error.code],
      ['graph.microsoft.com', `/${CLIENTS_TENANT}/oauth2/v2.0/token`, (b) => b.error.code],
      ['management.azure.com', '/v1.0/users', (b) => b.error.code],
      ['management.azure.com', '/common/discovery/instance', (b) => b.error.code],
      ['login.microsoftonline.com', '/v1.0/users', (b) => b.error],
      ['login.microsoftonline.com', '/subscriptions?api-version=2022-12-01', (b) => b.error],
      ['sts.windows.net', '/v1.0/me', (b) => b.error],
    ];
    // The connection goes to login.microsoftonline.com (the same listener); the Host header names another service.
    const responses = await getAll(cases.map(([host, path]) => ({ url: `https://login.microsoftonline.com${path}`, headers: { host } })));
    for (const [i, [host, path, codeOf]] of cases.entries()) {
      const r = responses[i]!;
      assert.equal(r.status, 404, `${host}${path}: ${r.text}`);
      assert.ok(['NotImplementedByKentra', 'invalid_request'].includes(String(codeOf(r.json()))), r.text);
      assert.match(
        r.text,
        new RegExp(`Kentra does not implement GET https://${host.replace(/\./g, '\\.')}${path.split('?')[0]!.replace(/[.?]/g, '\\$&')}`),
      );
    }
  });

  it('encoded and dotted paths are judged by the route they reach, not by their spelling', async () => {
    const paths = ['/x/oauth2/../../v1.0/users', '/%76%31.0/users', '/V1.0/users', '//v1.0//users'];
    const responses = await getAll(paths.map((path) => ({ url: 'https://login.microsoftonline.com/', pathAsWritten: path })));
    for (const [i, path] of paths.entries()) {
      const r = responses[i]!;
      assert.ok([400, 404].includes(r.status), `${path}: ${r.status} ${r.text}`);
      assert.ok(!('value' in (JSON.parse(r.text) as object)), `${path} reached Graph: ${r.text}`);
    }
    // The same on Graph's name: the dotted path cannot reach ARM.
    const r = await get('https://graph.microsoft.com/', {}, '/v1.0/../subscriptions?api-version=2022-12-01');
    assert.ok([400, 404].includes(r.status), r.text);
    assert.doesNotMatch(r.text, /AuthenticationFailed/, 'ARM never answered');
  });

  it("Kentra's own endpoints (/metrics, /healthz, the cluster API, the webhooks) are not served under Microsoft's names", async () => {
    const cases = [
      ['management.azure.com', '/metrics'],
      ['login.microsoftonline.com', '/healthz'],
      ['graph.microsoft.com', '/readyz'],
      ['management.azure.com', '/clusters/x/api'],
      ['login.microsoftonline.com', '/clusters/x/webhooks/tokenreviews'],
    ] as const;
    const responses = await getAll(cases.map(([host, path]) => ({ url: `https://${host}${path}` })));
    for (const [i, [host, path]] of cases.entries()) {
      const r = responses[i]!;
      assert.equal(r.status, 404, `${host}${path}: ${r.text.slice(0, 200)}`);
      assert.doesNotMatch(r.text, /# HELP|^ok$/m);
      assert.match(r.text, /Kentra does not implement/);
    }
    // The webhooks as the kube-apiserver posts them (the server's direct way, which skips fastify's router),
    // under each of Microsoft's names: refused the same, never reviewed.
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'a.b.c' } });
    const posts = ['login.microsoftonline.com', 'management.azure.com', 'graph.microsoft.com'].flatMap((host) =>
      ['tokenreviews', 'subjectaccessreviews'].map((review_) => ({ host, path: `/clusters/x/webhooks/${review_}` })),
    );
    const answers = await getAll(
      posts.map(({ host, path }) => ({
        url: `https://${host}${path}`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: review,
      })),
    );
    for (const [i, { host, path }] of posts.entries()) {
      const r = answers[i]!;
      assert.equal(r.status, 404, `POST ${host}${path}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /Kentra does not implement POST/);
      assert.doesNotMatch(r.text, /TokenReview|SubjectAccessReview|client certificate/);
    }
  });

  it('a webhook request is judged by Host and listener together: a Host the main listener serves is still refused on 443', async () => {
    // The direct way remembers its verdict per Host, listener and route: the same Host on the other listener is judged anew.
    const post = (url: string) => ({
      url,
      method: 'POST',
      headers: { host: 'attacker.example', 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'a.b.c' } }),
    });
    const main = `https://localhost:${mainPort}/clusters/x/webhooks/tokenreviews`;
    const onHostnames = 'https://login.microsoftonline.com/clusters/x/webhooks/tokenreviews';
    const [first, second, third] = await getAll([post(main), post(onHostnames), post(main)]);
    for (const r of [first!, third!]) {
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /Missing client certificate/);
    }
    assert.equal(second!.status, 421, second!.text);
    assert.match(second!.text, /does not serve the host attacker\.example/);
    assert.doesNotMatch(second!.text, /client certificate|TokenReview/);
  });

  it("Microsoft's names on another port, names Kentra does not serve, and unknown names on 443 are 421 naming the host", async () => {
    const wrongPort = await get(`https://localhost:${mainPort}/v1.0/users`, { host: `graph.microsoft.com:${mainPort}` });
    assert.equal(wrongPort.status, 421, wrongPort.text);
    assert.match(wrongPort.json().error.message, new RegExp(`serves graph\\.microsoft\\.com on port 443 only, not on port ${mainPort}`));
    const hosts = ['vault.azure.net', 'graph.windows.net', 'management.usgovcloudapi.net'];
    const responses = await getAll(
      hosts.map((host) => ({ url: 'https://login.microsoftonline.com/common/discovery/instance', headers: { host } })),
    );
    for (const [i, host] of hosts.entries()) {
      const r = responses[i]!;
      assert.equal(r.status, 421, `${host}: ${r.text}`);
      assert.match(r.text, new RegExp(`does not serve the host ${host.replace(/\./g, '\\.')}`));
    }
    const unknown = await get('https://login.microsoftonline.com/healthz', { host: 'attacker.example' });
    assert.equal(unknown.status, 421, unknown.text);
    assert.match(unknown.text, /does not serve the host attacker\.example/);
    // Kentra's own names still reach everything on its own port.
    assert.equal((await get(`https://localhost:${mainPort}/healthz`)).status, 200);
  });

  it('a v2 token issued as login.microsoftonline.com is accepted in that mode, and refused by the same Kentra restarted without it', async () => {
    const form = new URLSearchParams({
      grant_type: 'password',
      client_id: CLI_APP,
      scope: 'api://orders-api/access_as_user openid profile',
      username: ALICE.username,
      password: ALICE.password,
    }).toString();
    const issued = await nsFetch(ns, `https://login.microsoftonline.com/${CLIENTS_TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      caFile: k.endpoints.caFile,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    assert.equal(issued.status, 200, issued.text);
    const token = issued.json().access_token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.iss, `https://login.microsoftonline.com/${CLIENTS_TENANT}/v2.0`);
    assert.equal(claims.aud, API_APP);
    const userinfo = (origin: string) =>
      nsFetch(ns, `${origin}/oidc/userinfo`, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${token}` } });
    assert.equal((await userinfo('https://login.microsoftonline.com')).status, 200);
    await k.stop();
    k = await startKentraIn(ns, { dataDir, azureHostnames: false });
    const refused = await userinfo(k.endpoints.authority);
    assert.equal(refused.status, 401, refused.text);
    assert.match(
      String(refused.headers['www-authenticate']),
      /invalid_token.*issuer 'https:\/\/login\.microsoftonline\.com\/[^']+\/v2\.0' is not this server's/,
    );
    // And Microsoft's names are not answered at all now, not even on 443 of the namespace.
    const notServing = await get(
      `https://localhost:${new URL(k.endpoints.authority).port}/${CLIENTS_TENANT}/v2.0/.well-known/openid-configuration`,
      { host: 'login.microsoftonline.com' },
    );
    assert.equal(notServing.status, 421, notServing.text);
    assert.match(notServing.json().error_description, /not serving Microsoft's host names/);
  });
});

/** A GET to Kentra's own listener (its certificate checked as localhost) whose Host header names another host. */
function withHost(k: TestKentra, path: string, host: string): Promise<{ status: number; text: string }> {
  const { port } = new URL(k.endpoints.authority);
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      { hostname: '127.0.0.1', port, path, headers: { host }, ca: readFileSync(k.endpoints.caFile), servername: 'localhost' },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('Microsoft host names sent to a Kentra without --azure-hostnames', { timeout: 60_000 }, () => {
  let k: TestKentra;
  before(async () => {
    k = await startTestKentra();
  });
  after(async () => k?.close());

  it("are refused with 421 in the protocol's shape, never answered as if Kentra were that host", async () => {
    const { port } = new URL(k.endpoints.authority);
    for (const [host, path, shape] of [
      ['login.microsoftonline.com', `/${k.endpoints.tenantId}/v2.0/.well-known/openid-configuration`, 'aad'],
      ['graph.microsoft.com', '/v1.0/users', 'graph'],
      [`management.azure.com:${port}`, '/subscriptions?api-version=2022-12-01', 'arm'],
    ] as const) {
      const r = await withHost(k, path, host);
      assert.equal(r.status, 421, `${host}: ${r.text}`);
      const body = JSON.parse(r.text);
      if (shape === 'aad') assert.equal(body.error, 'invalid_request');
      else assert.equal(body.error.code, 'MisdirectedRequest');
      assert.match(r.text, /only answered by `kentra up --azure-hostnames`/);
    }
  });
});
