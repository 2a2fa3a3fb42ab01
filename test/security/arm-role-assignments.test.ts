import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sealerForDataDir } from '../../src/shared/key-sealing.js';
import { openStore } from '../../src/store/index.js';
import { postForm, requestAsWritten } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// ARM role assignments (security.md §5): an assignment lives at exactly one scope, is looked up by
// (scope, name) with the scope taken from the URL, and every read, write and delete of it is
// authorized at its own full path. Issue 12, finding 3 and the rules of §5.3.

const T = '88888888-0000-4000-8000-';
const MALLORY = `${T}000000000001`; // Owner of resource group rg-a only
const VICTIM = `${T}000000000002`; // Reader at the subscription
const CONTRIB = `${T}000000000003`; // Contributor at the subscription
const BYSTANDER = `${T}000000000004`;
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: mallory@kentra.onmicrosoft.com, password: 'Mallory-Passw0rd!', id: ${MALLORY} }
      - { userPrincipalName: victim@kentra.onmicrosoft.com, password: 'Victim-Passw0rd!', id: ${VICTIM} }
      - { userPrincipalName: contrib@kentra.onmicrosoft.com, password: 'Contrib-Passw0rd!', id: ${CONTRIB} }
      - { userPrincipalName: bystander@kentra.onmicrosoft.com, password: 'Bystander-Passw0rd!', id: ${BYSTANDER} }
`;
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const SUB_READER_NAME = `${T}0000000000f1`; // the victim's Reader assignment at the subscription
const RG_OWNER_NAME = `${T}0000000000f2`; // mallory's Owner assignment at rg-a
const SUB_CONTRIB_NAME = `${T}0000000000f3`;

interface Res {
  status: number;
  text: string;
  json(): any;
}

describe('ARM role assignments: scope of every read, write and delete (issue 12.3, security.md §5)', { timeout: 60_000 }, () => {
  let k: TestKentra;
  let ca: Buffer;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const tokens: Record<string, string> = {};
  const sub = () => `/subscriptions/${k.endpoints.subscriptionId}`;
  const rgA = () => `${sub()}/resourceGroups/rg-a`;
  const raPath = (scope: string, name: string) => `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const roleDef = (id: string) => `${sub()}/providers/Microsoft.Authorization/roleDefinitions/${id}`;
  const arm = (who: string, method: string, path: string, body?: unknown): Promise<Res> => {
    // The path goes as written (no URL parsing, which would resolve dot segments).
    const data = body === undefined ? undefined : JSON.stringify(body);
    return requestAsWritten(k.endpoints.armEndpoint, {
      method,
      path: `${path}${path.includes('?') ? '&' : '?'}api-version=2022-04-01`,
      agent,
      ca,
      body: data,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(data ? { 'content-type': 'application/json' } : {}) },
    });
  };
  const assignBody = (principalId: string, roleId: string, extra: Record<string, unknown> = {}) => ({
    properties: { roleDefinitionId: roleDef(roleId), principalId, ...extra },
  });
  const error = (res: Res, status: number, code: string, message?: string | RegExp) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json().error.code, code, res.text);
    if (typeof message === 'string') assert.equal(res.json().error.message, message);
    else if (message) assert.match(res.json().error.message, message);
  };
  /** A Reader assignment of the bystander's, to be written straight into the store. */
  const bystanderReader = (id: string, scope: string) => ({
    id,
    tenantId: k.endpoints.tenantId,
    scope,
    roleDefinitionId: roleDef(READER),
    principalId: BYSTANDER,
    principalType: 'User' as const,
    createdAt: Date.now(),
  });
  /** The assignment as the subscription's Owner sees it: proof that a refused request changed nothing. */
  const stored = async (scope: string, name: string) => arm('owner', 'GET', raPath(scope, name));

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '0'] });
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
    tokens.owner = await token({
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
    });
    const ropc = (user: string, password: string) =>
      token({
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        grant_type: 'password',
        username: `${user}@kentra.onmicrosoft.com`,
        password,
      });
    [tokens.mallory, tokens.victim, tokens.contrib, tokens.bystander] = await Promise.all([
      ropc('mallory', 'Mallory-Passw0rd!'),
      ropc('victim', 'Victim-Passw0rd!'),
      ropc('contrib', 'Contrib-Passw0rd!'),
      ropc('bystander', 'Bystander-Passw0rd!'),
    ]);
    assert.equal((await arm('owner', 'PUT', rgA(), { location: 'eastus' })).status, 201);
    assert.equal((await arm('owner', 'PUT', `${sub()}/resourceGroups/rg-b`, { location: 'eastus' })).status, 201);
    for (const [scope, name, principal, role] of [
      [sub(), SUB_READER_NAME, VICTIM, READER],
      [rgA(), RG_OWNER_NAME, MALLORY, OWNER],
      [sub(), SUB_CONTRIB_NAME, CONTRIB, CONTRIBUTOR],
    ] as const) {
      const res = await arm('owner', 'PUT', raPath(scope, name), assignBody(principal, role));
      assert.equal(res.status, 201, res.text);
    }
  });
  after(async () => {
    agent.destroy();
    await k?.close();
  });

  it('issue 12.3: an Owner of one resource group cannot delete a subscription-level assignment by addressing its id under his group (204, nothing deleted)', async () => {
    const res = await arm('mallory', 'DELETE', raPath(rgA(), SUB_READER_NAME));
    assert.equal(res.status, 204, `a name that exists only at another scope is "not found here": ${res.status} ${res.text}`);
    const still = await stored(sub(), SUB_READER_NAME);
    assert.equal(still.status, 200, 'the subscription-level assignment is still there');
    assert.equal(still.json().properties.scope, sub());
    assert.equal((await arm('victim', 'GET', rgA())).status, 200, 'and the victim still reads through it');
  });

  it("issue 12.3: the same delete at the assignment's own scope is refused with AuthorizationFailed over its full path", async () => {
    const who = 'mallory@kentra.onmicrosoft.com';
    error(
      await arm('mallory', 'DELETE', raPath(sub(), SUB_READER_NAME)),
      403,
      'AuthorizationFailed',
      `The client '${who}' with object id '${MALLORY}' does not have authorization or an ABAC condition not fulfilled to perform action 'Microsoft.Authorization/roleAssignments/delete' over scope '${raPath(sub(), SUB_READER_NAME)}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    assert.equal((await stored(sub(), SUB_READER_NAME)).status, 200);
  });

  it("issue 12.3: a GET by a name that lives at another scope is RoleAssignmentNotFound, never the other scope's assignment", async () => {
    const res = await arm('mallory', 'GET', raPath(rgA(), SUB_READER_NAME));
    error(res, 404, 'RoleAssignmentNotFound');
    assert.doesNotMatch(res.text, new RegExp(VICTIM), 'nothing of the other assignment is shown');
    // Under a group the reader does not own either: same answer from the Owner of the subscription.
    error(await arm('owner', 'GET', raPath(`${sub()}/resourceGroups/rg-b`, RG_OWNER_NAME)), 404, 'RoleAssignmentNotFound');
    const own = await arm('mallory', 'GET', raPath(rgA(), RG_OWNER_NAME));
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json().id, raPath(rgA(), RG_OWNER_NAME));
  });

  it('issue 12.3: a PUT of an existing name at another scope is RoleAssignmentUpdateNotPermitted and changes nothing', async () => {
    error(
      await arm('mallory', 'PUT', raPath(rgA(), SUB_READER_NAME), assignBody(MALLORY, OWNER)),
      400,
      'RoleAssignmentUpdateNotPermitted',
      'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
    );
    const still = (await stored(sub(), SUB_READER_NAME)).json();
    assert.equal(still.properties.principalId, VICTIM);
    assert.equal(still.properties.scope, sub());
    assert.match(still.properties.roleDefinitionId, new RegExp(`${READER}$`));
    error(await arm('owner', 'GET', raPath(rgA(), SUB_READER_NAME)), 404, 'RoleAssignmentNotFound', undefined);
    // At its own scope, another principal or role under the same name is refused too.
    error(
      await arm('owner', 'PUT', raPath(sub(), SUB_READER_NAME), assignBody(BYSTANDER, READER)),
      400,
      'RoleAssignmentUpdateNotPermitted',
    );
    error(await arm('owner', 'PUT', raPath(sub(), SUB_READER_NAME), assignBody(VICTIM, OWNER)), 400, 'RoleAssignmentUpdateNotPermitted');
    assert.equal((await stored(sub(), SUB_READER_NAME)).json().properties.principalId, VICTIM);
    // The identical PUT again is idempotent.
    const again = await arm('owner', 'PUT', raPath(sub(), SUB_READER_NAME), assignBody(VICTIM, READER));
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json().properties.scope, sub());
  });

  it('issue 12.3: body properties.scope must equal the URL scope', async () => {
    const name = `${T}0000000000a1`;
    error(
      await arm('mallory', 'PUT', raPath(rgA(), name), assignBody(BYSTANDER, READER, { scope: sub() })),
      400,
      'InvalidCreateRoleAssignmentRequest',
      `The request to create role assignment '${name}' is not valid. Role assignment scope '${sub()}' must match the scope specified on the URI '${rgA()}'.`,
    );
    error(await stored(rgA(), name), 404, 'RoleAssignmentNotFound');
    const ok = await arm('mallory', 'PUT', raPath(rgA(), name), assignBody(BYSTANDER, READER, { scope: rgA() }));
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await arm('mallory', 'DELETE', raPath(rgA(), name))).status, 200);
  });

  it('issue 12.3: the same principal, role and scope under a new name is RoleAssignmentExists (409)', async () => {
    error(
      await arm('owner', 'PUT', raPath(sub(), `${T}0000000000a2`), assignBody(VICTIM, READER)),
      409,
      'RoleAssignmentExists',
      /^The role assignment already exists\./,
    );
    error(await stored(sub(), `${T}0000000000a2`), 404, 'RoleAssignmentNotFound');
  });

  it('issue 12.3: an unknown principal is PrincipalNotFound', async () => {
    const ghost = `${T}00000000dead`;
    error(
      await arm('owner', 'PUT', raPath(rgA(), `${T}0000000000a3`), assignBody(ghost, READER)),
      400,
      'PrincipalNotFound',
      new RegExp(`^Principal ${ghost.replace(/-/g, '')} does not exist in the directory ${k.endpoints.tenantId}\\.`),
    );
    error(await stored(rgA(), `${T}0000000000a3`), 404, 'RoleAssignmentNotFound');
  });

  it('issue 12.3: a Contributor can neither create nor delete assignments (NotActions Microsoft.Authorization/*/Write|Delete)', async () => {
    const name = `${T}0000000000a4`;
    error(
      await arm('contrib', 'PUT', raPath(rgA(), name), assignBody(CONTRIB, OWNER)),
      403,
      'AuthorizationFailed',
      /'Microsoft.Authorization\/roleAssignments\/write' over scope/,
    );
    error(await stored(rgA(), name), 404, 'RoleAssignmentNotFound');
    error(
      await arm('contrib', 'DELETE', raPath(rgA(), RG_OWNER_NAME)),
      403,
      'AuthorizationFailed',
      /'Microsoft.Authorization\/roleAssignments\/delete' over scope/,
    );
    assert.equal((await stored(rgA(), RG_OWNER_NAME)).status, 200);
    assert.equal((await arm('contrib', 'GET', raPath(rgA(), RG_OWNER_NAME))).status, 200, 'but reads them (*)');
  });

  it('issue 12.3: a scope that is not a resource path (dot segments, empty segments) is refused and stores nothing', async () => {
    const name = `${T}0000000000a5`;
    for (const scope of [`${rgA()}/..`, `${rgA()}/%2e%2e`, `${rgA()}//x`]) {
      const res = await arm('mallory', 'PUT', raPath(scope, name), assignBody(BYSTANDER, OWNER));
      assert.ok([400, 403, 404].includes(res.status), `${scope}: ${res.status} ${res.text}`);
      assert.ok(res.json().error.code, res.text);
    }
    const all = (await arm('owner', 'GET', `${sub()}/providers/Microsoft.Authorization/roleAssignments`)).json().value as {
      name: string;
    }[];
    assert.ok(!all.some((a) => a.name === name), 'no assignment was stored');
  });

  it("issue 17: a caller's assignments and the subscription are read through the instance's cache, yet a change counts from the next request, also one written straight into the store (as another instance's would)", async () => {
    const rgB = `${sub()}/resourceGroups/rg-b`;
    const readRgB = () => arm('bystander', 'GET', rgB);
    const refused = async () => {
      // Twice: the second answer is the cache's.
      for (let i = 0; i < 2; i++)
        error(await readRgB(), 403, 'AuthorizationFailed', /'Microsoft\.Resources\/subscriptions\/resourceGroups\/read'/);
    };
    const served = async () => {
      for (let i = 0; i < 2; i++) {
        const res = await readRgB();
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().id, rgB);
      }
    };
    await refused();
    // Through this instance's ARM.
    const name = `${T}0000000000b1`;
    assert.equal((await arm('owner', 'PUT', raPath(rgB, name), assignBody(BYSTANDER, READER))).status, 201);
    await served();
    assert.equal((await arm('owner', 'DELETE', raPath(rgB, name))).status, 200);
    await refused();

    // Straight into the store: a Reader assignment, then its removal, then a new subscription.
    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    const newSub = 'b1b1b1b1-0000-4000-8000-000000000017';
    const inNewSub = () => arm('owner', 'GET', `/subscriptions/${newSub}/resourcegroups`);
    try {
      await store.createRoleAssignment(bystanderReader(`${T}0000000000b2`, rgB));
      await served();
      assert.equal(await store.deleteRoleAssignment(`${T}0000000000b2`), true);
      await refused();

      for (let i = 0; i < 2; i++) error(await inNewSub(), 404, 'SubscriptionNotFound');
      await store.createSubscription({
        id: newSub,
        tenantId: k.endpoints.tenantId,
        displayName: 'written by another instance',
        state: 'Enabled',
        createdAt: Date.now(),
      });
      // Found now: an empty list (nothing in it yet), no longer SubscriptionNotFound.
      const found = await inNewSub();
      assert.equal(found.status, 200, found.text);
      assert.deepEqual(found.json().value, []);
    } finally {
      await store.close();
    }
  });

  it("issue 17: a managed cluster's GET and listClusterUserCredential read it with the directory revision before authorizing, yet answer only those allowed, and a change written straight into the store counts from the next request", async () => {
    const mc = `${sub()}/resourceGroups/rg-b/providers/Microsoft.ContainerService/managedClusters/named`;
    const created = await arm('owner', 'PUT', mc, {
      location: 'eastus',
      properties: { agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true } },
    });
    assert.equal(created.status, 201, created.text);
    const read = /'Microsoft\.ContainerService\/managedClusters\/read' over scope '[^']*\/managedClusters\/named'/;
    const credentials = /'Microsoft\.ContainerService\/managedClusters\/listClusterUserCredential\/action'/;
    const refused = async () => {
      for (let i = 0; i < 2; i++) {
        error(await arm('bystander', 'GET', mc), 403, 'AuthorizationFailed', read);
        error(await arm('bystander', 'POST', `${mc}/listClusterUserCredential`), 403, 'AuthorizationFailed', credentials);
      }
    };
    // No role anywhere, or Owner of another resource group only: refused, and a missing cluster alike
    // (the answer does not tell whether it exists).
    await refused();
    error(await arm('mallory', 'GET', mc), 403, 'AuthorizationFailed', read);
    error(await arm('bystander', 'GET', `${mc}-missing`), 403, 'AuthorizationFailed');
    error(await arm('mallory', 'POST', `${mc}/listClusterUserCredential`), 403, 'AuthorizationFailed', credentials);
    // Reader at the subscription: the cluster, by any case of its path; no user credentials.
    for (const path of [mc, mc.replace('rg-b', 'RG-B').replace('/named', '/NAMED')]) {
      const res = await arm('victim', 'GET', path);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().id, mc);
    }
    error(await arm('victim', 'POST', `${mc}/listClusterUserCredential`), 403, 'AuthorizationFailed', credentials);
    const owner = await arm('owner', 'POST', `${mc}/listClusterUserCredential`);
    assert.equal(owner.status, 200, owner.text);
    assert.equal(owner.json().kubeconfigs[0].name, 'clusterUser');

    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    try {
      // An assignment at the cluster's scope, written and removed straight in the store.
      await store.createRoleAssignment(bystanderReader(`${T}0000000000c1`, mc));
      for (let i = 0; i < 2; i++) {
        const res = await arm('bystander', 'GET', mc);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().id, mc);
      }
      assert.equal(await store.deleteRoleAssignment(`${T}0000000000c1`), true);
      await refused();
      // The cluster itself, changed and then deleted straight in the store.
      await store.updateResource(mc, (r) => ({ ...r, tags: { changed: 'elsewhere' } }));
      assert.deepEqual((await arm('victim', 'GET', mc)).json().tags, { changed: 'elsewhere' });
      assert.equal(await store.deleteResource(mc), true);
      error(await arm('victim', 'GET', mc), 404, 'ResourceNotFound');
      error(await arm('bystander', 'GET', mc), 403, 'AuthorizationFailed', read);
    } finally {
      await store.close();
    }
  });

  it('issue 12.3: the last Owner at the subscription scope cannot be deleted (412 CannotDeleteLastRbacAdminAssignment)', async () => {
    const ownersAtSub = async () =>
      (
        (await arm('owner', 'GET', `${sub()}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`)).json().value as any[]
      ).filter((a) => a.properties.scope === sub() && a.properties.roleDefinitionId.endsWith(OWNER));
    // Kentra's bootstrap administrator and service principal are the Owners: the others go first.
    const sp = k.endpoints.servicePrincipal.objectId;
    for (const other of (await ownersAtSub()).filter((a) => a.properties.principalId !== sp)) {
      assert.equal((await arm('owner', 'DELETE', other.id)).status, 200, 'an Owner that is not the last one can be deleted');
    }
    const last = await ownersAtSub();
    assert.equal(last.length, 1);
    error(
      await arm('owner', 'DELETE', last[0].id),
      412,
      'CannotDeleteLastRbacAdminAssignment',
      /^Cannot delete the last RBAC admin assignment/,
    );
    assert.equal((await arm('owner', 'GET', last[0].id)).status, 200, 'it is still there');
    // With a second Owner it can go (and the second one then is the last).
    const second = await arm('owner', 'PUT', raPath(sub(), `${T}0000000000a6`), assignBody(BYSTANDER, OWNER));
    assert.equal(second.status, 201, second.text);
    error(await arm('mallory', 'DELETE', raPath(sub(), `${T}0000000000a6`)), 403, 'AuthorizationFailed');
    assert.equal((await arm('owner', 'DELETE', raPath(sub(), `${T}0000000000a6`))).status, 200);
    error(await arm('owner', 'DELETE', last[0].id), 412, 'CannotDeleteLastRbacAdminAssignment');
  });
});
