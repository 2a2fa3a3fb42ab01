import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { storeMatrix } from '../support/postgres.js';

// What the 100,000-request fuzzing run found (npm run fuzz): a URL whose tenant segment is empty, and
// percent-escapes that do not decode, answered 500. Each is the client's mistake: a 4xx in the protocol's shape.

const stores = storeMatrix(after);
for (const store of stores)
  describe(
    `Malformed URLs and escapes are the client's mistake, never a 5xx (found by npm run fuzz), on ${store.name}`,
    { timeout: 120_000 },
    () => {
      let k: TestKentra;
      let graph: string;
      before(async () => {
        k = await startTestKentra({ store: store.url ? await store.url() : undefined });
        const res = await postForm(
          `${k.endpoints.authority}/organizations/oauth2/v2.0/token`,
          {
            grant_type: 'password',
            client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
            scope: 'https://graph.microsoft.com/.default',
            username: k.endpoints.admin.userPrincipalName,
            password: k.endpoints.admin.password,
          },
          k.endpoints.caFile,
        );
        assert.equal(res.status, 200, res.text);
        graph = res.json().access_token;
      });
      after(async () => k?.close());

      it('an empty tenant segment (GET //v2.0/.well-known/openid-configuration) is a 4xx in the AADSTS shape', async () => {
        for (const path of [
          '//v2.0/.well-known/openid-configuration',
          '//v2.0/.well-known/openid-configuration?appid=x',
          '//oauth2/v2.0/authorize?client_id=x',
        ]) {
          const res = await httpsFetch(`${k.endpoints.authority}${path}`, { caFile: k.endpoints.caFile });
          assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      });

      it('a Graph object key whose escape does not decode (%ZZ, a lone %), or decodes again to U+0000 (%2500), is 404 Request_ResourceNotFound on both stores', async () => {
        for (const [method, key] of [
          ['DELETE', '%25ZZ'],
          ['GET', '%25'],
          ['PATCH', 'a%25%3A'],
          ['DELETE', '%2500'],
          ['GET', 'a%2500b'],
        ] as const) {
          const res = await httpsFetch(`${k.endpoints.graphEndpoint}v1.0/users/${key}`, {
            method,
            caFile: k.endpoints.caFile,
            headers: { authorization: `Bearer ${graph}`, 'content-type': 'application/json' },
            body: method === 'PATCH' ? '{"displayName":"x"}' : undefined,
          });
          assert.equal(res.status, 404, `${method} ${key}: ${res.text}`);
          assert.equal(res.json().error.code, 'Request_ResourceNotFound');
        }
      });

      it('HTTP Basic client credentials with an escape that does not decode name an unknown client (AADSTS700016), not a 5xx', async () => {
        const res = await postForm(
          `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
          { grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' },
          k.endpoints.caFile,
          { authorization: `Basic ${Buffer.from('%ZZ:%ZZ').toString('base64')}` },
        );
        assert.ok(res.status === 400 || res.status === 401, `${res.status} ${res.text}`);
        assert.equal(res.json().error, 'unauthorized_client', res.text);
        assert.match(res.json().error_description, /^AADSTS700016: Application with identifier '%zz' was not found/i);
      });
    },
  );
