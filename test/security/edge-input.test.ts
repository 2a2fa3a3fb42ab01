import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import type { CertificateAndKey } from '../../src/pki/index.js';
import { MAX_JSON_DEPTH } from '../../src/server/app.js';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { postForm, requestAsWritten, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { storeMatrix } from '../support/postgres.js';

// Bad input at the HTTP edge (src/server/app.ts), found by an attack battery: a JSON body nested thousands
// of levels deep answered 500, or was stored and made every later read of it 500; a path whose
// percent-escapes do not decode got fastify's own FST_ERR_BAD_URL answer. Each is now the protocol's own
// 400, with the headers of every edge error, and changes nothing. The webhooks are tried on both of the
// server's ways (the direct way, and fastify's with a trailing slash).

const ADMINS = '00000000-0000-4000-8000-00000000ed01';
const DEPTH_MESSAGE = `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`;
/** The edge's message for a path that does not decode: the path as the client sent it, without the query. */
const pathMessage = (path: string) =>
  `The request path ${path.split('?')[0]} is not a valid URL path: its percent-escapes must decode to UTF-8 text.`;

/** JSON text of `levels` arrays nested in one another (as text: JSON.stringify itself overflows on thousands). */
const nestedArrays = (levels: number) => `${'['.repeat(levels)}"x"${']'.repeat(levels)}`;
/** JSON text of `levels` objects nested in one another. */
const nestedObjects = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
/** Values that make a body nest deeper than the limit when they are a property of its top-level object. */
const tooDeep: [string, string][] = [
  ['4,500 arrays', nestedArrays(4500)],
  ['3,000 objects', nestedObjects(3000)],
  ['one level over the limit', nestedObjects(MAX_JSON_DEPTH)],
];
/**
 * A property value that makes a body exactly MAX_JSON_DEPTH deep (its top-level object is the first level),
 * with more brackets in all than the limit.
 */
const atTheLimit = `{"b":[],"c":${nestedObjects(MAX_JSON_DEPTH - 2)}}`;
/** A string full of brackets, an escaped quote among them and an escaped backslash before its end: text, at depth one. */
const bracketsInText = `"${'['.repeat(100)}\\"${'{'.repeat(100)}\\\\"`;

const stores = storeMatrix(after);
for (const store of stores)
  describe(`Edge input on ${store.name}: deep JSON bodies and undecodable paths are the protocol's 400`, { timeout: 180_000 }, () => {
    let k: TestKentra;
    let ca: Buffer;
    let graphToken: string;
    let armToken: string;
    let uid: string;
    let webhookClient: CertificateAndKey;

    const send = (origin: string, token: string, method: string, path: string, body?: string): Promise<HttpResponse> =>
      requestAsWritten(origin, {
        method,
        path,
        ca,
        body,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      });
    const graph = (method: string, path: string, body?: string) =>
      send(k.endpoints.graphEndpoint, graphToken, method, `/v1.0${path}`, body);
    const sub = () => `/subscriptions/${k.endpoints.subscriptionId}`;
    const arm = (method: string, path: string, body?: string) =>
      send(k.endpoints.armEndpoint, armToken, method, `${sub()}${path}?api-version=2022-11-01`, body);
    /** A kube-apiserver's webhook POST of a JSON text over mutual TLS, with the path as written. */
    const webhook = (path: string, body: string): Promise<HttpResponse> =>
      new Promise((resolve, reject) => {
        const { hostname, port } = new URL(k.endpoints.authority);
        const req = request(
          {
            hostname,
            port,
            path,
            method: 'POST',
            ca,
            cert: webhookClient.certPem,
            key: webhookClient.keyPem,
            headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    /** The same webhook request both ways; the direct way's answer, after checking fastify's is the same. */
    const bothWays = async (body: string): Promise<HttpResponse> => {
      const path = `/clusters/${uid}/webhooks/tokenreviews`;
      const direct = await webhook(path, body);
      const viaFastify = await webhook(`${path}/`, body);
      const comparable = (r: HttpResponse) => {
        const { date: _d, 'x-ms-request-id': _id, ...headers } = r.headers;
        return { status: r.status, headers, text: r.text };
      };
      assert.deepEqual(comparable(direct), comparable(viaFastify), 'the direct way and fastify answer alike');
      return direct;
    };
    const tokenReview = (extra: string) =>
      `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"a.b.c"},"status":${extra}}`;

    /** Graph's 400: its error shape, the request id of the answer in innerError. */
    const graphRefusal = (res: HttpResponse, message: string | RegExp, what: string) => {
      assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 300)}`);
      const e = res.json().error;
      assert.deepEqual(Object.keys(res.json()), ['error']);
      assert.equal(e.code, 'Request_BadRequest', what);
      if (typeof message === 'string') assert.equal(e.message, message, what);
      else assert.match(e.message, message, what);
      assert.match(String(res.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/, what);
      assert.equal(e.innerError['request-id'], res.headers['x-ms-request-id'], what);
    };
    /** ARM's 400: `{error: {code, message}}` and nothing else, with the request id header. */
    const armRefusal = (res: HttpResponse, message: string | RegExp, what: string) => {
      assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 300)}`);
      assert.deepEqual(Object.keys(res.json().error).sort(), ['code', 'message'], what);
      assert.equal(res.json().error.code, 'InvalidRequestContent', what);
      if (typeof message === 'string') assert.equal(res.json().error.message, message, what);
      else assert.match(res.json().error.message, message, what);
      assert.match(String(res.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/, what);
    };
    /** AAD's 400 (invalid_request), never cached, its trace id the request id. */
    const aadRefusal = (res: HttpResponse, message: string | RegExp, what: string) => {
      assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 300)}`);
      const body = res.json();
      assert.equal(body.error, 'invalid_request', what);
      if (typeof message === 'string') assert.equal(body.error_description, message, what);
      else assert.match(body.error_description, message, what);
      assert.equal(body.trace_id, res.headers['x-ms-request-id'], what);
      assert.equal(res.headers['cache-control'], 'no-store, no-cache', what);
      assert.equal(res.headers.pragma, 'no-cache', what);
    };
    /** The edge's 400 on a path without a protocol of its own (the webhooks): `{error, message}`. */
    const plainRefusal = (res: HttpResponse, message: string | RegExp, what: string) => {
      assert.equal(res.status, 400, `${what}: ${res.text.slice(0, 300)}`);
      assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'message'], what);
      assert.equal(res.json().error, 'BadRequest', what);
      if (typeof message === 'string') assert.equal(res.json().message, message, what);
      else assert.match(res.json().message, message, what);
      assert.match(String(res.headers['x-ms-request-id']), /^[0-9a-f-]{36}$/, what);
    };
    const applicationIds = async () => {
      const res = await graph('GET', '/applications?$select=id&$top=999');
      assert.equal(res.status, 200, res.text);
      return (res.json().value as { id: string }[]).map((a) => a.id).sort();
    };
    const resourceGroups = async () => {
      const res = await arm('GET', '/resourcegroups');
      assert.equal(res.status, 200, res.text);
      return (res.json().value as { name: string }[]).map((g) => g.name).sort();
    };

    before(async () => {
      k = await startTestKentra({ store: store.url ? await store.url() : undefined, extraArgs: ['--provisioning-delay', '0'] });
      ca = readFileSync(k.endpoints.caFile);
      const token = async (fields: Record<string, string>) => {
        const res = await postForm(`${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
        assert.equal(res.status, 200, res.text);
        return res.json().access_token as string;
      };
      graphToken = await token({
        grant_type: 'password',
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        scope: 'https://graph.microsoft.com/.default',
        username: k.endpoints.admin.userPrincipalName,
        password: k.endpoints.admin.password,
      });
      armToken = await token({
        grant_type: 'client_credentials',
        client_id: k.endpoints.servicePrincipal.appId,
        client_secret: k.endpoints.servicePrincipal.secret,
        scope: 'https://management.azure.com/.default',
      });
      ({ uid, webhookClient } = await clusterWithWebhookClient(
        k,
        (method, path, body) => arm(method, path, body === undefined ? undefined : JSON.stringify(body)),
        ADMINS,
      ));
    });
    after(async () => k?.close());

    it(`Graph: a body nested more than ${MAX_JSON_DEPTH} levels deep is Request_BadRequest and creates or changes nothing`, async () => {
      const target = await graph('POST', '/applications', '{"displayName":"edge-target","notes":"kept"}');
      assert.equal(target.status, 201, target.text);
      const id = target.json().id as string;
      const before = await applicationIds();
      for (const [what, value] of tooDeep) {
        graphRefusal(
          await graph('POST', '/applications', `{"displayName":"edge-too-deep","notes":${value}}`),
          DEPTH_MESSAGE,
          `create, ${what}`,
        );
        graphRefusal(await graph('PATCH', `/applications/${id}`, `{"notes":${value}}`), DEPTH_MESSAGE, `update, ${what}`);
      }
      assert.deepEqual(await applicationIds(), before, 'no application created');
      const read = await graph('GET', `/applications/${id}`);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.json().notes, 'kept', 'the application is unchanged');
    });

    it(`Graph: a body exactly ${MAX_JSON_DEPTH} levels deep reaches Graph's own checks, and brackets inside strings are text`, async () => {
      // At the limit the body is parsed and the route answers: notes is a string in Graph, so its own 400, not the depth's.
      const before = await applicationIds();
      graphRefusal(
        await graph('POST', '/applications', `{"displayName":"edge-at-the-limit","notes":${atTheLimit}}`),
        "Property 'notes' must be a string.",
        'at the limit',
      );
      assert.deepEqual(await applicationIds(), before, 'no application created');
      const created = await graph('POST', '/applications', `{"displayName":"edge-brackets","notes":${bracketsInText}}`);
      assert.equal(created.status, 201, created.text.slice(0, 300));
      const read = await graph('GET', `/applications/${created.json().id}`);
      assert.equal(read.status, 200, read.text.slice(0, 300));
      assert.deepEqual(read.json().notes, JSON.parse(bracketsInText));
    });

    it(`ARM: a body nested more than ${MAX_JSON_DEPTH} levels deep is InvalidRequestContent and creates nothing; one at the limit reaches ARM's own checks`, async () => {
      const before = await resourceGroups();
      for (const [what, value] of tooDeep)
        armRefusal(await arm('PUT', '/resourcegroups/edge-deep', `{"location":"eastus","properties":${value}}`), DEPTH_MESSAGE, what);
      assert.equal((await arm('GET', '/resourcegroups/edge-deep')).status, 404);
      // ARM refuses more than 32 levels itself, in its own words: the edge let the body through to it.
      armRefusal(
        await arm('PUT', '/resourcegroups/edge-deep', `{"location":"eastus","properties":${atTheLimit}}`),
        /^The request content was invalid and could not be deserialized: 'The content is nested deeper than 32 levels\./,
        'at the limit',
      );
      assert.deepEqual(await resourceGroups(), before, 'no resource group created');
      const text = await arm('PUT', '/resourcegroups/edge-brackets', `{"location":"eastus","tags":{"note":${bracketsInText}}}`);
      assert.equal(text.status, 201, text.text);
      assert.deepEqual(text.json().tags, { note: JSON.parse(bracketsInText) });
    });

    it(`AAD: a JSON body nested more than ${MAX_JSON_DEPTH} levels deep is invalid_request, never cached; one at the limit reaches the token endpoint`, async () => {
      const token = `/${k.endpoints.tenantId}/oauth2/v2.0/token`;
      for (const [what, value] of tooDeep)
        aadRefusal(await send(k.endpoints.authority, '', 'POST', token, `{"grant_type":${value}}`), DEPTH_MESSAGE, what);
      // The token endpoint takes forms: a JSON body at the limit gets its own answer, not the edge's.
      const atLimit = await send(k.endpoints.authority, '', 'POST', token, `{"grant_type":${atTheLimit}}`);
      assert.deepEqual([atLimit.status, atLimit.json().error], [400, 'invalid_request'], atLimit.text);
      assert.match(atLimit.json().error_description, /^AADSTS9002313: .*The request body must be 'application\/x-www-form-urlencoded'/);
    });

    it(`the TokenReview webhook: a body nested more than ${MAX_JSON_DEPTH} levels deep is a 400 on both ways; one at the limit is reviewed`, async () => {
      for (const [what, value] of tooDeep) {
        const res = await bothWays(tokenReview(value));
        plainRefusal(res, DEPTH_MESSAGE, what);
        assert.equal(res.headers.connection, 'close', `${what}: the connection is closed after a body that does not parse`);
      }
      for (const [what, value] of [
        ['at the limit', atTheLimit],
        ['brackets in a string', bracketsInText],
      ]) {
        const res = await bothWays(tokenReview(value));
        assert.equal(res.status, 200, `${what}: ${res.text}`);
        assert.deepEqual([res.json().kind, res.json().status], ['TokenReview', { authenticated: false, user: {} }], what);
      }
    });

    it("undecodable percent-escapes in the path are a 400 in each protocol's shape, with its headers, and create nothing", async () => {
      const tenant = k.endpoints.tenantId;
      const apps = await applicationIds();
      const groups = await resourceGroups();
      for (const [method, path, body] of [
        ['GET', '/v1.0/users/%FF'],
        ['GET', '/v1.0/users/%C0%AF'],
        ['GET', "/v1.0/applications(uniqueName='%ED%A0%80')"],
        ['PATCH', "/v1.0/applications(uniqueName='%ED%A0%80')", '{"displayName":"x"}'],
        ['POST', '/v1.0/applications/%FF/addPassword', '{}'],
      ] as const)
        graphRefusal(await send(k.endpoints.graphEndpoint, graphToken, method, path, body), pathMessage(path), `${method} ${path}`);
      for (const [method, path, body] of [
        ['GET', '/subscriptions/%FF/resourcegroups?api-version=2022-11-01'],
        ['PUT', `${sub()}/resourcegroups/%ED%A0%80?api-version=2022-11-01`, '{"location":"eastus"}'],
        ['PUT', `${sub()}/resourcegroups/edge%C0%AF?api-version=2022-11-01`, '{"location":"eastus"}'],
      ] as const)
        armRefusal(await send(k.endpoints.armEndpoint, armToken, method, path, body), pathMessage(path), `${method} ${path}`);
      for (const path of [`/${tenant}/oauth2/v2.0/token%FF`, '/%C0%AF/oauth2/v2.0/token', `/${tenant}/oauth2/v2.0/%ED%A0%80/token`]) {
        const res = await requestAsWritten(k.endpoints.authority, {
          method: 'POST',
          path,
          ca,
          body: 'grant_type=client_credentials',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        aadRefusal(res, pathMessage(path), `POST ${path}`);
      }
      const discovery = '/%FF/v2.0/.well-known/openid-configuration';
      aadRefusal(await send(k.endpoints.authority, '', 'GET', discovery), pathMessage(discovery), `GET ${discovery}`);
      for (const path of ['/clusters/%FF/webhooks/tokenreviews', `/clusters/${uid}/webhooks/tokenreviews%C0%AF`])
        plainRefusal(await webhook(path, tokenReview('{}')), pathMessage(path), `POST ${path}`);
      assert.deepEqual(await applicationIds(), apps, 'no application created');
      assert.deepEqual(await resourceGroups(), groups, 'no resource group created');
    });
  });
