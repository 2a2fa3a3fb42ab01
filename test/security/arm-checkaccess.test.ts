import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { postForm, requestAsWritten } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// ARM's Microsoft.Authorization/checkaccess at a cluster's scope (issue 14: what `kentra webhook`
// asks for Azure RBAC, as Guard does). It tells who may do what, so it is held like a role-assignment
// read at the scope asked about (security.md §5); a namespace scope is not the cluster's; the body
// names the scope it is about and may not name another; bad input is ARM's 400 and decides nothing.

const T = '99999999-0000-4000-8000-';
const ALICE = `${T}000000000001`; // AKS RBAC Reader in namespace dev of c1
const MALLORY = `${T}000000000002`; // Owner of resource group rg-other only
const TEAM = `${T}0000000000a1`; // a group: AKS RBAC Writer on c1
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: alice@kentra.onmicrosoft.com, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: mallory@kentra.onmicrosoft.com, password: 'Mallory-Passw0rd!', id: ${MALLORY} }
    groups:
      - { displayName: team, id: ${TEAM}, members: [${ALICE}] }
`;
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const AKS_READER = '7f6c6a51-bcf8-42ba-9220-52d62157d7db';
const AKS_WRITER = 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb';
const MC = 'Microsoft.ContainerService/managedClusters';

interface Res {
  status: number;
  text: string;
  json(): any;
}

describe('ARM checkaccess at a cluster scope: who may ask, about which scope, with what input (issue 14)', { timeout: 60_000 }, () => {
  let k: TestKentra;
  let ca: Buffer;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const tokens: Record<string, string> = {};
  const sub = () => `/subscriptions/${k.endpoints.subscriptionId}`;
  const c1 = () => `${sub()}/resourceGroups/rg/providers/${MC}/c1`;
  const c2 = () => `${sub()}/resourceGroups/rg/providers/${MC}/c2`;
  const arm = (who: string, method: string, path: string, body?: unknown, apiVersion = '2022-04-01'): Promise<Res> => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return requestAsWritten(k.endpoints.armEndpoint, {
      method,
      path: `${path}?api-version=${apiVersion}`,
      agent,
      ca,
      body: data,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(data ? { 'content-type': 'application/json' } : {}) },
    });
  };
  const question = (scope: string, actions: string[], oid = ALICE, groups: string[] = [], isData = true) => ({
    Subject: { Attributes: { ObjectId: oid, Groups: groups } },
    Actions: actions.map((Id) => ({ Id, IsDataAction: isData })),
    Resource: { Id: scope },
  });
  const ask = (who: string, scope: string, body: unknown) =>
    arm(who, 'POST', `${scope}/providers/Microsoft.Authorization/checkaccess`, body, '2018-09-01-preview');
  const decisions = (res: Res) => {
    assert.equal(res.status, 200, res.text);
    return (res.json() as { accessDecision: string }[]).map((d) => d.accessDecision);
  };
  const error = (res: Res, status: number, code: string, message?: RegExp) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json().error.code, code, res.text);
    if (message) assert.match(res.json().error.message, message);
  };

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
    [tokens.alice, tokens.mallory] = await Promise.all([ropc('alice', 'Alice-Passw0rd!'), ropc('mallory', 'Mallory-Passw0rd!')]);
    for (const rg of ['rg', 'rg-other'])
      assert.equal((await arm('owner', 'PUT', `${sub()}/resourceGroups/${rg}`, { location: 'eastus' })).status, 201);
    for (const c of [c1(), c2()]) {
      const put = await arm(
        'owner',
        'PUT',
        c,
        {
          location: 'eastus',
          properties: {
            dnsPrefix: 'c',
            agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
            aadProfile: { managed: true, enableAzureRBAC: true },
          },
        },
        '2023-08-01',
      );
      assert.equal(put.status, 201, put.text);
    }
    const assign = async (scope: string, role: string, principalId: string, name: string) => {
      const res = await arm('owner', 'PUT', `${scope}/providers/Microsoft.Authorization/roleAssignments/${T}${name}`, {
        properties: { roleDefinitionId: `${sub()}/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId },
      });
      assert.equal(res.status, 201, res.text);
    };
    await assign(`${c1()}/namespaces/dev`, AKS_READER, ALICE, '0000000000f1');
    await assign(c1(), AKS_WRITER, TEAM, '0000000000f2');
    await assign(`${sub()}/resourceGroups/rg-other`, OWNER, MALLORY, '0000000000f3');
  });
  after(async () => {
    agent.destroy();
    await k?.close();
  });

  it('answers per action with the assignment that allowed it; a namespace assignment covers that namespace only; groups count', async () => {
    const read = `${MC}/pods/read`;
    const dev = await ask('owner', `${c1()}/namespaces/dev`, question(`${c1()}/namespaces/dev`, [read, `${MC}/secrets/read`]));
    assert.deepEqual(decisions(dev), ['Allowed', 'NotAllowed'], 'the AKS RBAC Reader cannot read secrets');
    assert.equal(
      dev.json()[0].roleAssignment.id,
      `${c1()}/namespaces/dev/providers/Microsoft.Authorization/roleAssignments/${T}0000000000f1`,
    );
    assert.equal(dev.json()[0].roleAssignment.roleDefinitionId, AKS_READER);
    assert.deepEqual(decisions(await ask('owner', `${c1()}/namespaces/prod`, question(`${c1()}/namespaces/prod`, [read]))), ['NotAllowed']);
    assert.deepEqual(
      decisions(await ask('owner', c1(), question(c1(), [read]))),
      ['NotAllowed'],
      'a namespace assignment is not one at the cluster',
    );
    assert.deepEqual(
      decisions(await ask('owner', c1(), question(c1(), [`${MC}/pods/write`], ALICE, [TEAM, 'not-a-guid']))),
      ['Allowed'],
      'through the group',
    );
    assert.deepEqual(
      decisions(await ask('owner', c2(), question(c2(), [`${MC}/pods/write`], ALICE, [TEAM]))),
      ['NotAllowed'],
      'another cluster',
    );
    assert.deepEqual(
      decisions(await ask('owner', c1(), question(c1(), [`${MC}/read`], ALICE, [TEAM], false))),
      ['NotAllowed'],
      'a data role gives no control-plane action',
    );
  });

  it('is held like a role-assignment read at the scope: no role there is 403, and an Owner elsewhere learns nothing', async () => {
    // alice's roles (through her group, on c1) read role assignments there (Microsoft.Authorization/*/read), as in Azure; not on c2.
    assert.equal((await ask('alice', c1(), question(c1(), [`${MC}/pods/read`]))).status, 200);
    error(
      await ask('alice', c2(), question(c2(), [`${MC}/pods/read`])),
      403,
      'AuthorizationFailed',
      /Microsoft\.Authorization\/roleAssignments\/read/,
    );
    error(
      await ask('alice', `${c2()}/namespaces/dev`, question(`${c2()}/namespaces/dev`, [`${MC}/pods/read`])),
      403,
      'AuthorizationFailed',
    );
    error(await ask('mallory', c1(), question(c1(), [`${MC}/pods/read`])), 403, 'AuthorizationFailed');
    error(
      await ask('mallory', `${sub()}/resourceGroups/rg-other/providers/${MC}/c1`, question(c1(), [`${MC}/pods/read`])),
      404,
      'ResourceNotFound',
      /was not found/,
    );
  });

  it("the body may not name another scope than the URL, and bad input is ARM's 400 that decides nothing", async () => {
    error(
      await ask('owner', `${c1()}/namespaces/dev`, question(c2(), [`${MC}/pods/read`])),
      400,
      'InvalidRequestContent',
      /is not the scope of the request/,
    );
    error(
      await ask('owner', c1(), question(c1(), [`${MC}/pods/read`], 'alice@kentra.onmicrosoft.com')),
      400,
      'InvalidRequestContent',
      /ObjectId/,
    );
    error(await ask('owner', c1(), question(c1(), [])), 400, 'InvalidRequestContent', /from 1 to 200/);
    error(
      await ask(
        'owner',
        c1(),
        question(
          c1(),
          Array.from({ length: 201 }, () => `${MC}/pods/read`),
        ),
      ),
      400,
      'InvalidRequestContent',
      /from 1 to 200/,
    );
    error(
      await ask('owner', c1(), { ...question(c1(), []), Actions: [{ IsDataAction: true }] }),
      400,
      'InvalidRequestContent',
      /needs an Id/,
    );
    error(await ask('owner', c1(), { Subject: 'alice', Actions: 'all' }), 400, 'InvalidRequestContent');
    error(
      await ask('owner', c1(), { ...question(c1(), [`${MC}/pods/read`]), Subject: { Attributes: { ObjectId: ALICE, Groups: [7] } } }),
      400,
      'InvalidRequestContent',
    );
    error(
      await ask(
        'owner',
        `${sub()}/resourceGroups/rg/providers/${MC}/nope`,
        question(`${sub()}/resourceGroups/rg/providers/${MC}/nope`, [`${MC}/pods/read`]),
      ),
      404,
      'ResourceNotFound',
    );
    error(
      await ask(
        'owner',
        `${sub()}/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1`,
        question(c1(), [`${MC}/pods/read`]),
      ),
      404,
      'ResourceNotFound',
      /connectedClusters\/c1/,
    );
  });
});
