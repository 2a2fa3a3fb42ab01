import assert from 'node:assert/strict';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// ARM's role model as a matrix (issue 12): each built-in role Kentra has × each control-plane action
// Kentra implements × the scope of the assignment (subscription, resource group, cluster, and a
// namespace of the cluster for the AKS RBAC roles). The expectation is written here from Azure's role
// definitions (guard-rbac.md §3, security.md §5.1), not computed by Kentra's code: a refusal is ARM's
// 403 AuthorizationFailed with its message template, and a refused write changes nothing.

type ActionKey =
  | 'rg.read'
  | 'mc.read'
  | 'mc.listUser'
  | 'mc.listAdmin'
  | 'mc.listMonitoring'
  | 'mc.checkAccess'
  | 'ra.list'
  | 'ra.read'
  | 'ra.create'
  | 'ra.delete'
  | 'mc.create'
  | 'mc.update'
  | 'mc.stop'
  | 'mc.delete'
  | 'rg.create'
  | 'rg.delete';
const ALL: ActionKey[] = [
  'rg.read',
  'mc.read',
  'mc.listUser',
  'mc.listAdmin',
  'mc.listMonitoring',
  'mc.checkAccess',
  'ra.list',
  'ra.read',
  'ra.create',
  'ra.delete',
  'mc.create',
  'mc.update',
  'mc.stop',
  'mc.delete',
  'rg.create',
  'rg.delete',
];
const RA_READS: ActionKey[] = ['ra.list', 'ra.read'];

/** What each built-in role allows of these actions, from Azure's published definitions. */
const ROLES: { name: string; id: string | null; grants: ActionKey[]; namespaceScope?: boolean }[] = [
  { name: 'Owner', id: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', grants: ALL },
  // NotActions Microsoft.Authorization/*/Write, */Delete.
  { name: 'Contributor', id: 'b24988ac-6180-42a0-ab88-20f7382dd24c', grants: ALL.filter((a) => a !== 'ra.create' && a !== 'ra.delete') },
  { name: 'Reader', id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', grants: ['rg.read', 'mc.read', ...RA_READS] },
  {
    name: 'User Access Administrator',
    id: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    grants: ['rg.read', 'mc.read', ...RA_READS, 'ra.create', 'ra.delete'],
  },
  { name: 'Azure Kubernetes Service Cluster Admin Role', id: '0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8', grants: ['mc.read', 'mc.listAdmin'] },
  { name: 'Azure Kubernetes Service Cluster User Role', id: '4abbcc35-e782-43d8-92c5-2d3f1bd2253f', grants: ['mc.read', 'mc.listUser'] },
  {
    name: 'Azure Kubernetes Service Cluster Monitoring User',
    id: '1afdec4b-e479-420e-99e7-f82237c7c5e6',
    grants: ['mc.read', 'mc.listMonitoring'],
  },
  // managedClusters/read and /write only: no delete.
  {
    name: 'Azure Kubernetes Service Contributor Role',
    id: 'ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8',
    grants: ['mc.read', 'mc.create', 'mc.update'],
  },
  // Microsoft.Authorization/*/read, subscriptions and resourceGroups read, listClusterUserCredential; no managedClusters/read.
  {
    name: 'Azure Kubernetes Service RBAC Cluster Admin',
    id: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b',
    grants: ['rg.read', ...RA_READS, 'mc.listUser'],
    namespaceScope: true,
  },
  {
    name: 'Azure Kubernetes Service RBAC Admin',
    id: '3498e952-d568-435e-9b2c-8d77e338d7f7',
    grants: ['rg.read', ...RA_READS, 'mc.listUser'],
    namespaceScope: true,
  },
  {
    name: 'Azure Kubernetes Service RBAC Writer',
    id: 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb',
    grants: ['rg.read', ...RA_READS],
    namespaceScope: true,
  },
  {
    name: 'Azure Kubernetes Service RBAC Reader',
    id: '7f6c6a51-bcf8-42ba-9220-52d62157d7db',
    grants: ['rg.read', ...RA_READS],
    namespaceScope: true,
  },
  // The Arc roles act on Microsoft.HybridContainerService and Microsoft.Kubernetes, not on managed clusters.
  { name: 'Azure Kubernetes Service Arc Cluster User Role', id: '233ca253-b031-42ff-9fba-87ef12d6b55f', grants: [] },
  { name: 'Azure Kubernetes Service Arc Cluster Admin Role', id: 'b29efa5f-7782-4dc3-9537-4d5bc70a5e9f', grants: [] },
  { name: 'Azure Kubernetes Service Arc Contributor Role', id: '5d3f1697-4507-4d08-bb4a-477695db5f82', grants: ['rg.read'] },
];
type ScopeLevel = 'subscription' | 'resourceGroup' | 'cluster' | 'namespace' | 'none';

// One user per role: the scope levels of a role run one after another, its assignment moved between them.
interface Cell {
  index: number;
  role: (typeof ROLES)[number] | null;
  level: ScopeLevel;
  upn: string;
  objectId: string;
}
const principal = (roleIndex: number) => ({
  upn: `m${roleIndex}@kentra.onmicrosoft.com`,
  objectId: `99990000-0000-4000-8000-${String(roleIndex).padStart(12, '0')}`,
});
const cells: Cell[] = [];
ROLES.forEach((role, r) => {
  for (const level of ['subscription', 'resourceGroup', 'cluster', ...(role.namespaceScope ? ['namespace'] : [])] as ScopeLevel[]) {
    cells.push({ index: cells.length, role, level, ...principal(r) });
  }
});
cells.push({ index: cells.length, role: null, level: 'none', ...principal(ROLES.length) });
const users = [...new Map(cells.map((c) => [c.upn, c])).values()];
const BYSTANDER = '99990000-0000-4000-8000-ffffffffffff';
const PASSWORD = 'Matrix-Passw0rd!';
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
${[...users.map((c) => `      - { userPrincipalName: ${c.upn}, password: '${PASSWORD}', id: ${c.objectId} }`), `      - { userPrincipalName: bystander@kentra.onmicrosoft.com, password: '${PASSWORD}', id: ${BYSTANDER} }`].join('\n')}
`;

interface Res {
  status: number;
  text: string;
  json(): any;
}

describe('ARM role matrix: built-in role × control-plane action × scope (issue 12)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let ca: Buffer;
  const agent = new Agent({ keepAlive: true, maxSockets: 6 });
  const tokens = new Map<string, string>();
  const S = () => `/subscriptions/${k.endpoints.subscriptionId}`;
  const rgId = (c: Cell) => `${S()}/resourceGroups/mx-${c.index}`;
  const mcId = (c: Cell, name = 'c') => `${rgId(c)}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const guid = (c: Cell, n: number) => `99991111-000${n}-4000-8000-${String(c.index).padStart(12, '0')}`;
  const raId = (c: Cell, n: number) => `${mcId(c)}/providers/Microsoft.Authorization/roleAssignments/${guid(c, n)}`;
  const roleDef = (id: string) => `${S()}/providers/Microsoft.Authorization/roleDefinitions/${id}`;
  const scopeOf = (c: Cell): string =>
    ({ subscription: S(), resourceGroup: rgId(c), cluster: mcId(c), namespace: `${mcId(c)}/namespaces/team`, none: '' })[c.level];
  // Local accounts disabled: a granted admin or monitoring credential is then AKS's 400 BadRequest after the
  // authorization passed, so the matrix does not wait for a certificate authority per cluster.
  const clusterBody = (tags: Record<string, string> = {}) => ({
    location: 'eastus',
    tags,
    properties: {
      dnsPrefix: 'mx',
      disableLocalAccounts: true,
      agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
      aadProfile: { managed: true, adminGroupObjectIDs: [] },
    },
  });
  const LOCAL_ACCOUNTS_DISABLED = 'Getting static credential is not allowed because this cluster is set to disable local accounts.';

  const arm = (who: string, method: string, path: string, body?: unknown): Promise<Res> =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(k.endpoints.armEndpoint);
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          hostname,
          port,
          path: `${path}?api-version=2022-11-01`,
          method,
          agent,
          ca,
          headers: { authorization: `Bearer ${tokens.get(who)}`, ...(data ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (ch: Buffer) => chunks.push(ch));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const owner = (method: string, path: string, body?: unknown) => arm('owner', method, path, body);

  /** Each action: the request, the Azure action and scope ARM checks, the success status, and what a refusal must leave as it was. */
  const ACTIONS: Record<
    ActionKey,
    (c: Cell) => {
      method: string;
      path: string;
      body?: unknown;
      action: string;
      scope: string;
      ok: number;
      okMessage?: string;
      unchanged?: () => Promise<string | null>;
    }
  > = {
    'rg.read': (c) => ({
      method: 'GET',
      path: rgId(c),
      action: 'Microsoft.Resources/subscriptions/resourceGroups/read',
      scope: rgId(c),
      ok: 200,
    }),
    'mc.read': (c) => ({
      method: 'GET',
      path: mcId(c),
      action: 'Microsoft.ContainerService/managedClusters/read',
      scope: mcId(c),
      ok: 200,
    }),
    'mc.listUser': (c) => ({
      method: 'POST',
      path: `${mcId(c)}/listClusterUserCredential`,
      action: 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
      scope: mcId(c),
      ok: 200,
    }),
    'mc.listAdmin': (c) => ({
      method: 'POST',
      path: `${mcId(c)}/listClusterAdminCredential`,
      action: 'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action',
      scope: mcId(c),
      ok: 400,
      okMessage: LOCAL_ACCOUNTS_DISABLED,
    }),
    'mc.listMonitoring': (c) => ({
      method: 'POST',
      path: `${mcId(c)}/listClusterMonitoringUserCredential`,
      action: 'Microsoft.ContainerService/managedClusters/listClusterMonitoringUserCredential/action',
      scope: mcId(c),
      ok: 400,
      okMessage: LOCAL_ACCOUNTS_DISABLED,
    }),
    // Kentra's own action (held like listWebhookCredential: Owner and Contributor). An empty question is
    // refused after the authorization passed, which is all the matrix needs to see.
    'mc.checkAccess': (c) => ({
      method: 'POST',
      path: `${mcId(c)}/checkAccess`,
      body: {},
      action: 'Microsoft.ContainerService/managedClusters/checkAccess/action',
      scope: mcId(c),
      ok: 400,
    }),
    'ra.list': (c) => ({
      method: 'GET',
      path: `${mcId(c)}/providers/Microsoft.Authorization/roleAssignments`,
      action: 'Microsoft.Authorization/roleAssignments/read',
      scope: mcId(c),
      ok: 200,
    }),
    'ra.read': (c) => ({
      method: 'GET',
      path: raId(c, 1),
      action: 'Microsoft.Authorization/roleAssignments/read',
      scope: raId(c, 1),
      ok: 200,
    }),
    'ra.create': (c) => ({
      method: 'PUT',
      path: raId(c, 2),
      body: { properties: { roleDefinitionId: roleDef('4abbcc35-e782-43d8-92c5-2d3f1bd2253f'), principalId: BYSTANDER } },
      action: 'Microsoft.Authorization/roleAssignments/write',
      scope: raId(c, 2),
      ok: 201,
      unchanged: async () => {
        const r = await owner('GET', raId(c, 2));
        return r.status === 404 ? null : `the assignment exists: ${r.status}`;
      },
    }),
    'ra.delete': (c) => ({
      method: 'DELETE',
      path: raId(c, 1),
      action: 'Microsoft.Authorization/roleAssignments/delete',
      scope: raId(c, 1),
      ok: 200,
      unchanged: async () => {
        const r = await owner('GET', raId(c, 1));
        return r.status === 200 ? null : `the assignment is gone: ${r.status}`;
      },
    }),
    'mc.create': (c) => ({
      method: 'PUT',
      path: mcId(c, 'c-new'),
      body: clusterBody(),
      action: 'Microsoft.ContainerService/managedClusters/write',
      scope: mcId(c, 'c-new'),
      ok: 201,
      unchanged: async () => {
        const r = await owner('GET', mcId(c, 'c-new'));
        return r.status === 404 ? null : `the cluster exists: ${r.status}`;
      },
    }),
    'mc.update': (c) => ({
      method: 'PUT',
      path: mcId(c),
      body: clusterBody({ changed: 'yes' }),
      action: 'Microsoft.ContainerService/managedClusters/write',
      scope: mcId(c),
      ok: 200,
      unchanged: async () => {
        const r = (await owner('GET', mcId(c))).json();
        return r.tags?.changed === undefined && r.properties.provisioningState === 'Succeeded'
          ? null
          : `the cluster changed: ${JSON.stringify(r.tags)} ${r.properties.provisioningState}`;
      },
    }),
    'mc.stop': (c) => ({
      method: 'POST',
      path: `${mcId(c)}/stop`,
      action: 'Microsoft.ContainerService/managedClusters/stop/action',
      scope: mcId(c),
      ok: 202,
      unchanged: async () => {
        const r = (await owner('GET', mcId(c))).json();
        return r.properties.powerState?.code === 'Running' ? null : `the cluster is ${JSON.stringify(r.properties.powerState)}`;
      },
    }),
    'mc.delete': (c) => ({
      method: 'DELETE',
      path: mcId(c),
      action: 'Microsoft.ContainerService/managedClusters/delete',
      scope: mcId(c),
      ok: 202,
      unchanged: async () => {
        const r = await owner('GET', mcId(c));
        return r.status === 200 && r.json().properties.provisioningState !== 'Deleting'
          ? null
          : `the cluster is going: ${r.status} ${r.text.slice(0, 100)}`;
      },
    }),
    'rg.create': (c) => ({
      method: 'PUT',
      path: `${rgId(c)}-new`,
      body: { location: 'eastus' },
      action: 'Microsoft.Resources/subscriptions/resourceGroups/write',
      scope: `${rgId(c)}-new`,
      ok: 201,
      unchanged: async () => {
        const r = await owner('GET', `${rgId(c)}-new`);
        return r.status === 404 ? null : `the group exists: ${r.status}`;
      },
    }),
    'rg.delete': (c) => ({
      method: 'DELETE',
      path: rgId(c),
      action: 'Microsoft.Resources/subscriptions/resourceGroups/delete',
      scope: rgId(c),
      ok: 202,
      unchanged: async () => {
        const r = await owner('GET', rgId(c));
        return r.status === 200 && r.json().properties.provisioningState === 'Succeeded' ? null : `the group is going: ${r.status}`;
      },
    }),
  };
  const covers = (ancestor: string, scope: string) =>
    ancestor !== '' && (scope.toLowerCase() === ancestor.toLowerCase() || scope.toLowerCase().startsWith(`${ancestor.toLowerCase()}/`));

  const inBatches = async <T>(items: T[], size: number, fn: (item: T) => Promise<void>) => {
    for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
  };

  let started = 0;
  before(async () => {
    started = Date.now();
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0'] });
    console.log(`ARM role matrix: kentra up in ${Date.now() - started} ms`);
    ca = readFileSync(k.endpoints.caFile);
    const token = async (fields: Record<string, string>) => {
      const res = await postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        { scope: 'https://management.azure.com/.default', ...fields },
        k.endpoints.caFile,
      );
      assert.equal(res.status, 200, res.text);
      return res.json().access_token as string;
    };
    tokens.set(
      'owner',
      await token({
        client_id: k.endpoints.servicePrincipal.appId,
        client_secret: k.endpoints.servicePrincipal.secret,
        grant_type: 'client_credentials',
      }),
    );
    await inBatches(users, 8, async (u) => {
      tokens.set(
        u.upn,
        await token({ client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', grant_type: 'password', username: u.upn, password: PASSWORD }),
      );
    });
    await inBatches(cells, 8, async (c) => {
      const ok = (res: Res, status: number, what: string) => assert.equal(res.status, status, `${what}: ${res.text}`);
      ok(await owner('PUT', rgId(c), { location: 'eastus' }), 201, 'group');
      ok(await owner('PUT', mcId(c), clusterBody()), 201, 'cluster');
      ok(
        await owner('PUT', raId(c, 1), {
          properties: { roleDefinitionId: roleDef('acdd72a7-3385-48ef-bd42-f606fba81ae7'), principalId: BYSTANDER },
        }),
        201,
        'the assignment to read and delete',
      );
    });
  });
  after(async () => {
    agent.destroy();
    await k?.close();
  });

  /** Runs one cell's actions in order (reads, then writes, the destructive ones last) and lists what differs from Azure. */
  const runCell = async (c: Cell): Promise<string[]> => {
    const mismatches: string[] = [];
    const roleAt = c.role ? `${scopeOf(c)}/providers/Microsoft.Authorization/roleAssignments/${guid(c, 9)}` : null;
    if (roleAt) {
      const given = await owner('PUT', roleAt, { properties: { roleDefinitionId: roleDef(c.role!.id!), principalId: c.objectId } });
      assert.equal(given.status, 201, `the role under test: ${given.text}`);
    }
    for (const key of ALL) {
      const a = ACTIONS[key](c);
      const granted = !!c.role?.grants.includes(key) && covers(scopeOf(c), a.scope);
      const res = await arm(c.upn, a.method, a.path, a.body);
      requests++;
      const cell = `${key} (${a.method} ${a.path.replace(S(), '…')})`;
      const body = (() => {
        try {
          return res.json();
        } catch {
          return {};
        }
      })();
      if (granted) {
        if (res.status !== a.ok) mismatches.push(`${cell}: expected ${a.ok}, got ${res.status} ${res.text.slice(0, 160)}`);
        else if (a.okMessage && body.error?.message !== a.okMessage)
          mismatches.push(`${cell}: expected "${a.okMessage}", got ${res.text.slice(0, 160)}`);
        continue;
      }
      const expected = `The client '${c.upn}' with object id '${c.objectId}' does not have authorization or an ABAC condition not fulfilled to perform action '${a.action}' over scope '${a.scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;
      if (res.status !== 403 || body.error?.code !== 'AuthorizationFailed')
        mismatches.push(`${cell}: expected 403 AuthorizationFailed, got ${res.status} ${res.text.slice(0, 160)}`);
      else if (body.error.message !== expected)
        mismatches.push(`${cell}: message\n    got      ${body.error.message}\n    expected ${expected}`);
      const changed = await a.unchanged?.();
      if (changed) mismatches.push(`${cell}: refused, yet ${changed}`);
    }
    if (roleAt) assert.equal((await owner('DELETE', roleAt)).status, 200, 'the role under test is taken back');
    return mismatches;
  };
  let requests = 0;
  const results = new Map<Cell, string[]>();
  before(async () => {
    // The cells are independent (each has its own group, cluster and assignments): run them side by side.
    const setUp = Date.now();
    for (const level of ['subscription', 'resourceGroup', 'cluster', 'namespace', 'none'] as ScopeLevel[]) {
      await inBatches(
        cells.filter((c) => c.level === level),
        8,
        async (c) => {
          results.set(c, await runCell(c));
        },
      );
    }
    console.log(`ARM role matrix: set up in ${setUp - started} ms, ${requests} requests in ${Date.now() - setUp} ms`);
  });
  for (const c of cells) {
    it(`${c.role?.name ?? 'no role'} at ${c.level} scope`, () => {
      const mismatches = results.get(c)!;
      // assert.fail, not deepEqual: a diff of long messages takes the runner minutes.
      if (mismatches.length)
        assert.fail(
          `${c.role?.name ?? 'no role'} at ${c.level}, ${mismatches.length} of ${ALL.length} actions differ from Azure:\n  ${mismatches.join('\n  ')}`,
        );
    });
  }
  it('covered every cell', () => {
    console.log(`ARM role matrix: ${cells.length} role × scope cells × ${ALL.length} actions = ${requests} requests`);
    assert.equal(requests, cells.length * ALL.length);
  });
});
