import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import { postForm, requestAsWritten } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { storeMatrix } from '../support/postgres.js';

// Bad input on ARM (issue 16, item 4): every body is checked for its shape at the edge, a client's
// mistake is ARM's 400 and stores nothing, and no body makes the server answer 5xx.

interface Res {
  status: number;
  text: string;
  json(): any;
}

/** Fuzz runs per property and store; `KENTRA_FUZZ_RUNS=5000` for a long run. */
const RUNS = Number(process.env.KENTRA_FUZZ_RUNS ?? 100);
const stores = storeMatrix(after);

for (const store of stores)
  describe(`ARM request bodies on ${store.name}: bad input is a 400 that stores nothing (issue 16.4)`, { timeout: 120_000 }, () => {
    let k: TestKentra;
    let ca: Buffer;
    let owner: string;
    let count: (table: string) => Promise<number>;
    let closeDb: () => Promise<void> = async () => {};
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const sub = () => `/subscriptions/${k.endpoints.subscriptionId}`;
    const rg = (name: string) => `${sub()}/resourcegroups/${name}`;
    const mc = (name: string) => `${sub()}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/${name}`;
    const arm = (method: string, path: string, body?: unknown, raw?: string): Promise<Res> => {
      const data = raw ?? (body === undefined ? undefined : JSON.stringify(body));
      return requestAsWritten(k.endpoints.armEndpoint, {
        method,
        path: `${path}?api-version=2022-11-01`,
        agent,
        ca,
        body: data,
        headers: { authorization: `Bearer ${owner}`, ...(data !== undefined ? { 'content-type': 'application/json' } : {}) },
      });
    };
    /** Rows of the ARM tables, read from the store itself: a refused request adds none. */
    const rows = async () => ({ resources: await count('arm_resources'), operations: await count('arm_operations') });
    const refused = async (res: Res, code: RegExp, what: string) => {
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
      assert.match(res.json().error.code, code, `${what}: ${res.text}`);
      assert.equal(typeof res.json().error.message, 'string');
    };
    const cluster = (properties: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
      location: 'eastus',
      ...top,
      properties: { dnsPrefix: 'fz', agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], ...properties },
    });

    before(async () => {
      const url = store.url ? await store.url() : undefined;
      k = await startTestKentra({ store: url, extraArgs: ['--provisioning-delay', '0'] });
      ca = readFileSync(k.endpoints.caFile);
      const res = await postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        {
          scope: 'https://management.azure.com/.default',
          client_id: k.endpoints.servicePrincipal.appId,
          client_secret: k.endpoints.servicePrincipal.secret,
          grant_type: 'client_credentials',
        },
        k.endpoints.caFile,
      );
      owner = res.json().access_token;
      assert.equal((await arm('PUT', rg('rg1'), { location: 'eastus' })).status, 201);
      if (url) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        count = async (table) => Number((await client.query(`select count(*) as n from ${table}`)).rows[0].n);
        closeDb = () => client.end();
      } else {
        const db = new Database(join(k.dataDir, 'kentra.db'), { readonly: true, fileMustExist: true });
        count = async (table) => (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
        closeDb = async () => {
          db.close();
        };
      }
    });
    after(async () => {
      await closeDb();
      agent.destroy();
      await k?.close();
    });

    it('issue 16.4: agentPoolProfiles [null] on a managedCluster PUT is 400 InvalidRequestContent and stores nothing', async () => {
      const before = await rows();
      await refused(
        await arm('PUT', mc('nullpool'), cluster({ agentPoolProfiles: [null] })),
        /^InvalidRequestContent$/,
        'agentPoolProfiles [null]',
      );
      await refused(
        await arm('PUT', mc('nullpool'), cluster({ agentPoolProfiles: [1, 'x'] })),
        /^InvalidRequestContent$/,
        'agentPoolProfiles of scalars',
      );
      await refused(
        await arm('PUT', mc('nullpool'), cluster({ agentPoolProfiles: { name: 'x' } })),
        /^InvalidRequestContent$/,
        'agentPoolProfiles an object',
      );
      assert.equal((await arm('GET', mc('nullpool'))).status, 404);
      assert.deepEqual(await rows(), before);
    });

    it('issue 16.4: a resource group location that is an object or an array is 400 InvalidRequestContent and stores nothing', async () => {
      const before = await rows();
      for (const location of [{ name: 'eastus' }, ['eastus'], 42, true]) {
        await refused(
          await arm('PUT', rg('rg-bad-location'), { location }),
          /^InvalidRequestContent$/,
          `location ${JSON.stringify(location)}`,
        );
      }
      await refused(
        await arm('PUT', rg('rg-bad-location'), { location: 'eastus', tags: { team: { nested: 1 } } }),
        /^InvalidRequestContent$/,
        'a tag value that is an object',
      );
      await refused(await arm('PUT', rg('rg-bad-location'), ['eastus']), /^InvalidRequestContent$/, 'a body that is an array');
      assert.equal((await arm('GET', rg('rg-bad-location'))).status, 404);
      assert.deepEqual(await rows(), before);
    });

    it('issue 16.4: a location containing U+0000 (or other characters no region has) is 400 and stores nothing, for groups and clusters', async () => {
      const before = await rows();
      for (const location of ['east\u0000us', 'east\nus', 'eastus\u0101', '../eastus']) {
        await refused(
          await arm('PUT', rg('rg-nul'), { location }),
          /^(LocationNotAvailableForResourceGroup|InvalidRequestContent)$/,
          `group location ${JSON.stringify(location)}`,
        );
        await refused(
          await arm('PUT', mc('nul'), cluster({}, { location })),
          /^(LocationNotAvailableForResourceType|InvalidRequestContent)$/,
          `cluster location ${JSON.stringify(location)}`,
        );
      }
      await refused(
        await arm('PUT', mc('nul'), cluster({ dnsPrefix: 'a\u0000b' })),
        /^InvalidRequestContent$/,
        'a NUL anywhere in the body',
      );
      assert.equal((await arm('GET', rg('rg-nul'))).status, 404);
      assert.equal((await arm('GET', mc('nul'))).status, 404, 'the cluster was not committed');
      assert.deepEqual(await rows(), before, 'no resource and no operation row');
    });

    it('issue 16.4: values of the wrong type anywhere in a managedCluster or role assignment body are 400, never 5xx', async () => {
      const before = await rows();
      const cases: [string, unknown][] = [
        ['adminGroupObjectIDs a number', cluster({ aadProfile: { managed: true, adminGroupObjectIDs: 5 } })],
        ['tenantID an object', cluster({ aadProfile: { managed: true, tenantID: {} } })],
        ['dnsPrefix a number', cluster({ dnsPrefix: 7 })],
        ['enableRBAC a string', cluster({ enableRBAC: 'yes' })],
        ['count a string', cluster({ agentPoolProfiles: [{ name: 'p', count: '3' }] })],
        ['properties an array', { location: 'eastus', properties: [] }],
        ['tags an array', cluster({}, { tags: ['a'] })],
      ];
      for (const [what, body] of cases) await refused(await arm('PUT', mc('typed'), body), /^InvalidRequestContent$/, what);
      await refused(await arm('PATCH', mc('typed'), { tags: 'x' }), /^InvalidRequestContent$/, 'PATCH tags a string');
      const ra = `${sub()}/providers/Microsoft.Authorization/roleAssignments/99999999-0000-4000-8000-000000000001`;
      await refused(
        await arm('PUT', ra, { properties: { roleDefinitionId: 5, principalId: k.endpoints.servicePrincipal.objectId } }),
        /^InvalidRequestContent$/,
        'roleDefinitionId a number',
      );
      await refused(await arm('PUT', ra, { properties: 'x' }), /^InvalidRequestContent$/, 'role assignment properties a string');
      assert.deepEqual(await rows(), before);
    });

    it('issue 16.4: a control character or U+0000 in a name of the path is 400, never 5xx, and stores nothing', async () => {
      const before = await rows();
      const paths: [string, string][] = [
        ['GET', `${sub()}%00/resourcegroups/rg1`],
        ['GET', rg('rg%00x')],
        ['PUT', rg('rg%00x')],
        ['DELETE', rg('rg%00x')],
        ['GET', mc('c%00x')],
        ['PUT', `${sub()}/resourceGroups/rg%00x/providers/Microsoft.ContainerService/managedClusters/c1`],
        ['POST', `${mc('c%01x')}/listClusterUserCredential`],
        ['GET', `${sub()}/providers/Microsoft.ContainerService/locations/eastus/operations/op%00x`],
        ['GET', `${sub()}/providers/Microsoft.Authorization/roleAssignments/a%00b`],
        ['DELETE', `${sub()}/providers/Microsoft.Authorization/roleAssignments/a%00b`],
      ];
      for (const [method, path] of paths) {
        const res = await arm(method, path, method === 'PUT' ? cluster() : undefined);
        assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${res.text}`);
        // U+0000 anywhere in a request is refused at the edge, before routing (InvalidRequestContent); other control characters by the name's check.
        assert.match(
          res.json().error.code,
          path.includes('%00')
            ? /^InvalidRequestContent$/
            : /^(InvalidSubscriptionId|InvalidResourceName|InvalidScope|InvalidResourceGroup)$/,
          res.text,
        );
      }
      assert.deepEqual(await rows(), before);
    });

    it('issue 16.4: random JSON bodies on resource group and managedCluster PUT: no 5xx, nothing stored from a refused request, the server alive after', async () => {
      let requests = 0;
      let fiveXx = 0;
      let accepted = 0;
      let n = 0;
      const anyJson = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });
      const odd = fc.oneof(
        anyJson,
        fc.constantFrom<unknown>('\u0000', 'east\u0000us', '\ud800', 'x'.repeat(5000), -1, 1e308, '', ' ', [], {}, [null], null),
      );
      /** A valid body with one place replaced by something random. */
      const mutated = (base: Record<string, any>, paths: string[][]) =>
        fc.tuple(fc.constantFrom(...paths), odd).map(([path, value]) => {
          const body = structuredClone(base);
          let at: any = body;
          for (const key of path.slice(0, -1)) at = at[key] ??= {};
          at[path.at(-1)!] = value;
          return body;
        });
      const rgBase = { location: 'eastus', tags: { team: 'blue' } };
      const mcBase = cluster(
        {
          kubernetesVersion: '1.32.7',
          enableRBAC: true,
          aadProfile: { managed: true, enableAzureRBAC: false, adminGroupObjectIDs: [], tenantID: k.endpoints.tenantId },
        },
        { tags: { a: 'b' }, sku: { name: 'Base', tier: 'Free' } },
      );
      const rgPaths = [['location'], ['tags'], ['tags', 'team'], ['managedBy'], ['properties']];
      const mcPaths = [
        ['location'],
        ['tags'],
        ['tags', 'a'],
        ['sku'],
        ['sku', 'name'],
        ['identity'],
        ['properties'],
        ['properties', 'dnsPrefix'],
        ['properties', 'kubernetesVersion'],
        ['properties', 'enableRBAC'],
        ['properties', 'disableLocalAccounts'],
        ['properties', 'agentPoolProfiles'],
        ['properties', 'agentPoolProfiles', '0'],
        ['properties', 'agentPoolProfiles', '0', 'count'],
        ['properties', 'agentPoolProfiles', '0', 'name'],
        ['properties', 'aadProfile'],
        ['properties', 'aadProfile', 'managed'],
        ['properties', 'aadProfile', 'adminGroupObjectIDs'],
        ['properties', 'aadProfile', 'adminGroupObjectIDs', '0'],
        ['properties', 'aadProfile', 'tenantID'],
        ['properties', 'aadProfile', 'serverAppID'],
        ['properties', 'networkProfile'],
        ['properties', 'attachedClusterProfile'],
        ['properties', 'linuxProfile'],
      ];

      const send = async (kind: 'rg' | 'mc', body: unknown) => {
        const path = kind === 'rg' ? rg(`fz-rg-${++n}`) : mc(`fz-mc-${++n}`);
        const before = await rows();
        const res = await arm('PUT', path, body);
        requests++;
        if (res.status >= 500) fiveXx++;
        assert.ok(res.status < 500, `${JSON.stringify(body).slice(0, 300)} → ${res.status} ${res.text}`);
        assert.doesNotThrow(() => res.json().error ?? res.json().id, `an ARM JSON body: ${res.text.slice(0, 200)}`);
        if (res.status >= 400) {
          assert.ok(res.json().error?.code, res.text);
          assert.deepEqual(await rows(), before, `a refused request stored nothing: ${JSON.stringify(body).slice(0, 300)}`);
          const after = await arm('GET', path);
          requests++;
          assert.equal(after.status, 404, after.text);
        } else accepted++;
      };
      for (const [kind, arbitrary] of [
        ['rg', anyJson],
        ['rg', mutated(rgBase, rgPaths)],
        ['mc', anyJson],
        ['mc', mutated(mcBase, mcPaths)],
      ] as const) {
        await fc.assert(
          fc.asyncProperty(arbitrary, (body) => send(kind, body)),
          { numRuns: RUNS },
        );
      }
      const health = (await requestAsWritten(k.endpoints.armEndpoint, { method: 'GET', path: '/healthz', agent, ca })).status;
      console.log(`issue 16.4 ARM fuzz on ${store.name}: ${requests} requests, ${fiveXx} 5xx, ${accepted} accepted PUTs`);
      assert.equal(health, 200, 'the server is alive after');
      assert.equal(k.process.exitCode, null);
      assert.equal(fiveXx, 0);
    });
  });
