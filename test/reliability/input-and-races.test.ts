import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { storeMatrix } from '../support/postgres.js';
import { bootstrapToken, call, closeAgents, countInStore, jsonHeaders, type Answer } from './load.js';

// Issue 16 item 2 (membership cycles raced in at the same moment) and issue 12 finding 11 / issue 16
// item 4's store part (U+0000 and invalid UTF-8 reaching the store), on each store.

const stores = storeMatrix(after);
after(() => closeAgents());

for (const store of stores) {
  describe(
    `reliability on ${store.name}: refused input stores nothing, and membership cycles cannot be raced in`,
    { timeout: 180_000 },
    () => {
      let k: TestKentra;
      let graphToken: string;
      let armToken: string;
      let url: string | undefined;
      before(async () => {
        url = store.url ? await store.url() : undefined;
        k = await startTestKentra({ store: url });
        graphToken = await bootstrapToken(k, 'graph');
        armToken = await bootstrapToken(k, 'arm');
      });
      after(async () => k?.close());

      const graph = (method: string, path: string, body?: string | Buffer) =>
        call(k, method, `/v1.0${path}`, { body, headers: jsonHeaders(graphToken) });
      const arm = (method: string, path: string, body?: string | Buffer) =>
        call(k, method, `/subscriptions/${k.endpoints.subscriptionId}${path}${path.includes('?') ? '&' : '?'}api-version=2022-09-01`, {
          body,
          headers: jsonHeaders(armToken),
        });
      const groupsNamed = async (prefix: string) =>
        (await graph('GET', `/groups?$filter=${encodeURIComponent(`startswith(displayName,'${prefix}')`)}`)).json().value.length as number;
      const shown = (a: Answer) => `${a.status} ${a.text.slice(0, 200)}`;

      it('issue 16.2: "A member of B" and "B member of A" sent at the same moment are never both accepted', async () => {
        const pairs = 60;
        const ids: string[] = [];
        for (let i = 0; i < pairs * 2; i += 10) {
          const made = await Promise.all(
            Array.from({ length: 10 }, (_, j) =>
              graph(
                'POST',
                '/groups',
                JSON.stringify({ displayName: `cyc-${i + j}`, mailNickname: `cyc${i + j}`, securityEnabled: true, mailEnabled: false }),
              ),
            ),
          );
          for (const m of made) {
            assert.equal(m.status, 201, m.text);
            ids.push(m.json().id);
          }
        }
        const ref = (id: string) => JSON.stringify({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
        const results = await Promise.all(
          Array.from({ length: pairs }, (_, p) => {
            const [a, b] = [ids[2 * p]!, ids[2 * p + 1]!];
            return Promise.all([graph('POST', `/groups/${b}/members/$ref`, ref(a)), graph('POST', `/groups/${a}/members/$ref`, ref(b))]);
          }),
        );
        const both = results.filter(([x, y]) => x.status === 204 && y.status === 204).length;
        const one = results.filter(([x, y]) => (x.status === 204) !== (y.status === 204)).length;
        const refusals = results.flat().filter((r) => r.status !== 204);
        const fiveXx = refusals.filter((r) => r.status >= 500);
        console.log(
          `issue 16.2 figure (${store.name}): ${pairs} pairs raced, both accepted in ${both}, exactly one in ${one}; refusals ${refusals.length} (${fiveXx.length} 5xx)${refusals[0] ? `, e.g. ${shown(refusals[0])}` : ''}`,
        );
        assert.equal(both, 0, `a membership cycle got in on ${both} of ${pairs} pairs`);
        assert.equal(one, pairs, 'each pair: one accepted, the other refused');
        for (const r of refusals) {
          assert.equal(r.status, 400, shown(r));
          assert.equal(r.json().error.code, 'Request_BadRequest');
          assert.match(r.json().error.message, /cycle/, shown(r));
        }
      });

      it('issue 16.5: concurrent PUTs creating one cluster: the losers get 409, never 5xx, and leave no operation row behind', async () => {
        assert.equal((await arm('PUT', '/resourcegroups/rg-race', JSON.stringify({ location: 'eastus' }))).status, 201);
        const path = '/resourceGroups/rg-race/providers/Microsoft.ContainerService/managedClusters/raced';
        const body = JSON.stringify({
          location: 'eastus',
          properties: { dnsPrefix: 'raced', agentPoolProfiles: [{ name: 'nodepool1', count: 1 }] },
        });
        const answers = await Promise.all(
          Array.from({ length: 8 }, () =>
            call(k, 'PUT', `/subscriptions/${k.endpoints.subscriptionId}${path}?api-version=2022-11-01`, {
              body,
              headers: jsonHeaders(armToken),
            }),
          ),
        );
        const accepted = answers.filter((a) => a.status === 200 || a.status === 201).length;
        const operations = await countInStore(k.dataDir, url, 'SELECT count(*) AS n FROM arm_operations WHERE lower(resource_id) = $1', [
          `/subscriptions/${k.endpoints.subscriptionId}${path}`.toLowerCase(),
        ]);
        console.log(
          `issue 16.5 figure (${store.name}): 8 concurrent PUTs of one new cluster → ${answers.map((a) => a.status).join(' ')}; ${accepted} accepted, ${operations} operation rows`,
        );
        for (const a of answers) assert.ok([200, 201, 409].includes(a.status), shown(a));
        for (const a of answers.filter((x) => x.status === 409))
          assert.ok(['Conflict', 'OperationNotAllowed'].includes(a.json().error.code), shown(a));
        assert.ok(accepted >= 1);
        assert.equal(operations, accepted, 'one operation row per accepted PUT, none for a refused one');
      });

      it('issue 12.11: U+0000 in a Graph displayName, an ARM resource group name or location, or the tenant path segment is refused with 400 and nothing is stored', async () => {
        const answers: Record<string, Answer> = {};
        answers.graphDisplayName = await graph(
          'POST',
          '/groups',
          JSON.stringify({ displayName: 'nul-\u0000-group', mailNickname: 'nulgroup', securityEnabled: true, mailEnabled: false }),
        );
        answers.graphKey = await graph(
          'POST',
          '/groups',
          JSON.stringify({
            displayName: 'nul-key-group',
            mailNickname: 'nulkey',
            securityEnabled: true,
            mailEnabled: false,
            'desc\u0000ription': 'x',
          }),
        );
        answers.armName = await arm('PUT', '/resourcegroups/rg-nul%00name', JSON.stringify({ location: 'eastus' }));
        answers.armLocation = await arm('PUT', '/resourcegroups/rg-nul-location', JSON.stringify({ location: 'east\u0000us' }));
        answers.tenantSegment = await call(k, 'POST', '/nul%00tenant/oauth2/v2.0/token', {
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            client_id: k.endpoints.servicePrincipal.appId,
            client_secret: k.endpoints.servicePrincipal.secret,
            scope: 'https://graph.microsoft.com/.default',
          }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        answers.formValue = await call(k, 'POST', `/${k.endpoints.tenantId}/oauth2/v2.0/token`, {
          body: `grant_type=client_credentials&client_id=${k.endpoints.servicePrincipal.appId}&client_secret=x%00y&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        console.log(
          `issue 12.11 figure (${store.name}, U+0000): ${Object.entries(answers)
            .map(([name, a]) => `${name} ${a.status}`)
            .join(', ')}`,
        );
        for (const [name, a] of Object.entries(answers)) assert.equal(a.status, 400, `${name}: ${shown(a)}`);
        assert.equal(answers.graphDisplayName!.json().error.code, 'Request_BadRequest');
        assert.ok(answers.graphDisplayName!.json().error.innerError, "Graph's envelope");
        assert.equal(answers.armName!.json().error.code, 'InvalidRequestContent');
        assert.equal(answers.armLocation!.json().error.code, 'InvalidRequestContent');
        assert.equal(answers.tenantSegment!.json().error, 'invalid_request');
        assert.equal(answers.formValue!.json().error, 'invalid_request');
        assert.equal(await groupsNamed('nul-'), 0, 'no group stored');
        const rgs = (await arm('GET', '/resourcegroups')).json().value.map((g: { name: string }) => g.name);
        assert.ok(!rgs.some((n: string) => n.startsWith('rg-nul')), `no resource group stored: ${rgs.join(', ')}`);
      });

      it("issue 12.11: invalid UTF-8 in a JSON body is refused with 400 in the protocol's shape and nothing is stored", async () => {
        const bad = (json: string) =>
          Buffer.concat([Buffer.from(json.split('@@')[0]!), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(json.split('@@')[1]!)]);
        const g = await graph(
          'POST',
          '/groups',
          bad('{"displayName":"utf8-@@","mailNickname":"utf8bad","securityEnabled":true,"mailEnabled":false}'),
        );
        const a = await arm('PUT', '/resourcegroups/rg-utf8', bad('{"location":"east@@us"}'));
        console.log(`issue 12.11 figure (${store.name}, invalid UTF-8): graph ${g.status}, arm ${a.status}`);
        assert.equal(g.status, 400, shown(g));
        assert.equal(g.json().error.code, 'Request_BadRequest');
        assert.match(g.json().error.message, /UTF-8/);
        assert.equal(a.status, 400, shown(a));
        assert.equal(a.json().error.code, 'InvalidRequestContent');
        assert.equal(await groupsNamed('utf8-'), 0, 'no group stored');
        assert.equal((await arm('GET', '/resourcegroups/rg-utf8')).status, 404, 'no resource group stored');
      });
    },
  );
}
