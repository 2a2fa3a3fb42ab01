import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sealerForDataDir } from '../../src/shared/key-sealing.js';
import { openStore } from '../../src/store/index.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Graph reads its caller (the user, its directory roles, its tenant) through the instance's directory
// cache (src/identity/oauth/directory-cache.ts). A token outlives the account it names: a user disabled
// or deleted, or a role granted, must count from the very next request, however warm the cache, whether
// the change came through this instance's Graph or straight into the store (as another instance's would).

const DOMAIN = 'revoke.onmicrosoft.com';
const PASSWORD = 'Revoke-Passw0rd!2026';
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const USER_ADMINISTRATOR = 'fe930be7-5e62-47db-91af-98c3a49a38b1';
const SEED = `
tenants:
  - domain: ${DOMAIN}
    users:
      - { userPrincipalName: ga@${DOMAIN}, password: '${PASSWORD}', directoryRoles: ['Global Administrator'] }
      - { userPrincipalName: leaver@${DOMAIN}, password: '${PASSWORD}' }
      - { userPrincipalName: climber@${DOMAIN}, password: '${PASSWORD}' }
      - { userPrincipalName: target@${DOMAIN}, password: '${PASSWORD}' }
`;

describe('Graph: a changed caller counts from the next request, however warm the cache', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let tenantId: string;
  let admin: string;
  const tokenOf = async (username: string, password: string) => {
    const res = await postForm(
      `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
      { grant_type: 'password', client_id: AZURE_CLI, username, password, scope: 'https://graph.microsoft.com/.default' },
      k.endpoints.caFile,
    );
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const graph = (token: string, method: string, path: string, json?: unknown): Promise<HttpResponse> =>
    httpsFetch(`${k.endpoints.authority}/v1.0${path}`, {
      method,
      caFile: k.endpoints.caFile,
      headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
  const userId = async (upn: string) => (await graph(admin, 'GET', `/users/${upn}`)).json().id as string;
  /** A security group made by the Global Administrator through Graph: its id. */
  const newGroup = async (name: string) => {
    const created = await graph(admin, 'POST', '/groups', {
      displayName: name,
      mailNickname: name,
      securityEnabled: true,
      mailEnabled: false,
    });
    assert.equal(created.status, 201, created.text);
    return created.json().id as string;
  };

  before(async () => {
    k = await startTestKentra({ seed: SEED });
    tenantId = (
      await httpsFetch(`${k.endpoints.authority}/${DOMAIN}/v2.0/.well-known/openid-configuration`, { caFile: k.endpoints.caFile })
    )
      .json()
      .issuer.split('/')[3];
    admin = await tokenOf(`ga@${DOMAIN}`, PASSWORD);
  });
  after(async () => k?.close());

  it("a disabled user is refused at once with its still valid token (a group's members too), served again when enabled, and refused for good once deleted", async () => {
    const token = await tokenOf(`leaver@${DOMAIN}`, PASSWORD);
    const id = await userId(`leaver@${DOMAIN}`);
    const group = await newGroup('leavers');
    const calls = () => [
      graph(token, 'GET', '/me'),
      graph(token, 'POST', '/me/getMemberGroups', { securityEnabledOnly: false }),
      graph(token, 'POST', `/users/${id}/checkMemberGroups`, { groupIds: [id] }),
      graph(token, 'GET', '/me/memberOf'),
      graph(token, 'GET', `/users/${id}/transitiveMemberOf`),
      graph(token, 'GET', `/groups/${group}/members`),
      graph(token, 'GET', `/groups/${group}/transitiveMembers`),
    ];
    for (let i = 0; i < 2; i++) for (const res of await Promise.all(calls())) assert.equal(res.status, 200, res.text);

    assert.equal((await graph(admin, 'PATCH', `/users/${id}`, { accountEnabled: false })).status, 204);
    for (const res of await Promise.all(calls())) {
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json().error.code, 'InvalidAuthenticationToken');
      assert.match(res.json().error.message, /disabled or was deleted/);
    }
    assert.equal((await graph(admin, 'PATCH', `/users/${id}`, { accountEnabled: true })).status, 204);
    for (const res of await Promise.all(calls())) assert.equal(res.status, 200, res.text);

    assert.equal((await graph(admin, 'DELETE', `/users/${id}`)).status, 204);
    for (const res of await Promise.all(calls())) assert.equal(res.status, 401, res.text);
  });

  it("the caller's own profile changed straight in the store (as another instance would) shows at the next /me", async () => {
    const token = await tokenOf(`target@${DOMAIN}`, PASSWORD);
    const target = await userId(`target@${DOMAIN}`);
    const me = async () => {
      const res = await graph(token, 'GET', '/me?$select=id,displayName,mail');
      assert.equal(res.status, 200, res.text);
      return res.json();
    };
    const before = await me();
    assert.equal(before.id, target);
    assert.deepEqual(await me(), before, 'the second answer, from the cache, is the same');
    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    try {
      await store.updateUser(tenantId, target, (u) => ({ ...u, displayName: 'Renamed elsewhere', mail: `moved@${DOMAIN}` }));
    } finally {
      await store.close();
    }
    for (let i = 0; i < 2; i++) {
      const after = await me();
      assert.equal(after.displayName, 'Renamed elsewhere');
      assert.equal(after.mail, `moved@${DOMAIN}`);
    }
  });

  it('a user, a group, a service principal and an application changed or deleted straight in the store show at the next GET by id and GET /directoryObjects/{id} (read through the cache)', async () => {
    const target = await userId(`target@${DOMAIN}`);
    const group = await newGroup('readers');
    const application = await graph(admin, 'POST', '/applications', { displayName: 'cached-app' });
    assert.equal(application.status, 201, application.text);
    const sp = await graph(admin, 'POST', '/servicePrincipals', { appId: application.json().appId });
    assert.equal(sp.status, 201, sp.text);
    const spId = sp.json().id as string;
    const appObjectId = application.json().id as string;
    const read = async () => {
      const answers = await Promise.all([
        graph(admin, 'GET', `/users/${target}?$select=displayName`),
        graph(admin, 'GET', `/users/target@${DOMAIN}?$select=displayName`),
        graph(admin, 'GET', `/groups/${group}?$select=displayName`),
        graph(admin, 'GET', `/servicePrincipals/${spId}?$select=displayName,accountEnabled`),
        graph(admin, 'GET', `/applications/${appObjectId}?$select=displayName`),
        graph(admin, 'GET', `/applications/(appId='${application.json().appId}')?$select=displayName`),
        ...[target, group, spId, appObjectId].map((id) => graph(admin, 'GET', `/directoryObjects/${id}`)),
      ]);
      // GET /directoryObjects/{id} answers the whole object: its type and display name are compared.
      return answers.map((a, i) =>
        a.status !== 200
          ? a.status
          : i < 6
            ? { ...a.json(), '@odata.context': undefined }
            : `${a.json()['@odata.type']} ${a.json().displayName}${a.json().accountEnabled === false ? ' (disabled)' : ''}`,
      );
    };
    for (let i = 0; i < 2; i++) {
      const [byId, byUpn, g, s, a, byAppId, ...objects] = await read();
      assert.deepEqual(
        [g, s, a, byAppId, ...objects.slice(1)],
        [
          { '@odata.context': undefined, displayName: 'readers' },
          { '@odata.context': undefined, displayName: 'cached-app', accountEnabled: true },
          { '@odata.context': undefined, displayName: 'cached-app' },
          { '@odata.context': undefined, displayName: 'cached-app' },
          '#microsoft.graph.group readers',
          '#microsoft.graph.servicePrincipal cached-app',
          '#microsoft.graph.application cached-app',
        ],
      );
      assert.deepEqual(byId, byUpn);
      assert.equal(objects[0], `#microsoft.graph.user ${(byId as { displayName: string }).displayName}`);
    }
    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    try {
      await store.updateUser(tenantId, target, (u) => ({ ...u, displayName: 'Target, renamed elsewhere' }));
      await store.updateGroup(tenantId, group, (g) => ({ ...g, displayName: 'readers, renamed elsewhere' }));
      await store.updateServicePrincipal(tenantId, spId, (x) => ({ ...x, displayName: 'sp, renamed elsewhere', accountEnabled: false }));
      await store.updateApplication(tenantId, appObjectId, (x) => ({ ...x, displayName: 'app, renamed elsewhere' }));
      for (let i = 0; i < 2; i++) {
        assert.deepEqual(await read(), [
          { '@odata.context': undefined, displayName: 'Target, renamed elsewhere' },
          { '@odata.context': undefined, displayName: 'Target, renamed elsewhere' },
          { '@odata.context': undefined, displayName: 'readers, renamed elsewhere' },
          { '@odata.context': undefined, displayName: 'sp, renamed elsewhere', accountEnabled: false },
          { '@odata.context': undefined, displayName: 'app, renamed elsewhere' },
          { '@odata.context': undefined, displayName: 'app, renamed elsewhere' },
          '#microsoft.graph.user Target, renamed elsewhere',
          '#microsoft.graph.group readers, renamed elsewhere',
          '#microsoft.graph.servicePrincipal sp, renamed elsewhere (disabled)',
          '#microsoft.graph.application app, renamed elsewhere',
        ]);
      }
      await store.deleteGroup(tenantId, group);
      await store.deleteServicePrincipal(tenantId, spId);
      await store.deleteApplication(tenantId, appObjectId);
      for (let i = 0; i < 2; i++)
        assert.deepEqual((await read()).slice(2), [404, 404, 404, 404, '#microsoft.graph.user Target, renamed elsewhere', 404, 404, 404]);
    } finally {
      await store.close();
    }
    // Reading through the cache still needs the right: an app without Graph permissions is refused, every time.
    const reader = await graph(admin, 'POST', '/applications', { displayName: 'no-graph-permissions' });
    const readerSp = await graph(admin, 'POST', '/servicePrincipals', { appId: reader.json().appId });
    assert.equal(readerSp.status, 201, readerSp.text);
    const secret = await graph(admin, 'POST', `/applications/${reader.json().id}/addPassword`, { passwordCredential: {} });
    assert.equal(secret.status, 200, secret.text);
    const appToken = await postForm(
      `${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`,
      {
        grant_type: 'client_credentials',
        client_id: reader.json().appId,
        client_secret: secret.json().secretText,
        scope: 'https://graph.microsoft.com/.default',
      },
      k.endpoints.caFile,
    );
    assert.equal(appToken.status, 200, appToken.text);
    const other = await newGroup('other');
    for (let i = 0; i < 2; i++) {
      for (const path of [
        `/users/${target}`,
        `/users/target@${DOMAIN}`,
        `/groups/${other}`,
        `/applications/${reader.json().id}`,
        `/servicePrincipals/${readerSp.json().id}`,
        `/directoryObjects/${target}`,
        `/directoryObjects/${other}`,
      ]) {
        const res = await graph(appToken.json().access_token, 'GET', path);
        assert.equal(res.status, 403, `${path}: ${res.text}`);
        assert.equal(res.json().error.code, 'Authorization_RequestDenied');
      }
    }
  });

  it('a directory role written straight into the store (as another instance would) applies to the next request', async () => {
    const token = await tokenOf(`climber@${DOMAIN}`, PASSWORD);
    const climber = await userId(`climber@${DOMAIN}`);
    const target = await userId(`target@${DOMAIN}`);
    const rename = (name: string) => graph(token, 'PATCH', `/users/${target}`, { displayName: name });
    for (let i = 0; i < 2; i++) {
      const denied = await rename(`denied ${i}`);
      assert.equal(denied.status, 403, denied.text);
      assert.equal(denied.json().error.code, 'Authorization_RequestDenied');
    }
    assert.notEqual((await graph(admin, 'GET', `/users/${target}`)).json().displayName, 'denied 1', 'nothing changed');

    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    try {
      await store.addDirectoryRoleAssignment({ tenantId, principalId: climber, roleTemplateId: USER_ADMINISTRATOR });
    } finally {
      await store.close();
    }
    assert.equal((await rename('renamed by a User Administrator')).status, 204);
    assert.equal((await graph(admin, 'GET', `/users/${target}`)).json().displayName, 'renamed by a User Administrator');
  });

  it('a membership written or removed straight in the store shows at the next memberOf and transitiveMemberOf, and at the next members and transitiveMembers of the group; a foreign id is not found', async () => {
    const target = await userId(`target@${DOMAIN}`);
    const groupIds = async (path: string) => {
      const res = await graph(admin, 'GET', path);
      assert.equal(res.status, 200, res.text);
      return res.json().value.map((g: { id: string }) => g.id) as string[];
    };
    const read = async () => [await groupIds(`/users/${target}/memberOf`), await groupIds(`/users/${target}/transitiveMemberOf`)];
    for (let i = 0; i < 2; i++) assert.deepEqual(await read(), [[], []]);

    const inner = randomUUID();
    const outer = randomUUID();
    const store = await openStore({ dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
    const group = (id: string) => ({
      tenantId,
      id,
      displayName: `straight-${id.slice(0, 8)}`,
      mailNickname: `straight-${id.slice(0, 8)}`,
      description: null,
      securityEnabled: true,
      mailEnabled: false,
      createdAt: Date.now(),
    });
    try {
      await store.transaction(async (tx) => {
        await tx.createGroup(group(inner));
        await tx.createGroup(group(outer));
        await tx.addGroupMember({ tenantId, groupId: inner, memberId: target, memberType: 'user' });
        await tx.addGroupMember({ tenantId, groupId: outer, memberId: inner, memberType: 'group' });
      });
      for (let i = 0; i < 2; i++) assert.deepEqual(await read(), [[inner], [inner, outer].sort()]);
      // And the other way, from the groups: members and transitiveMembers (read through the same cache).
      const members = async () => [await groupIds(`/groups/${inner}/members`), await groupIds(`/groups/${outer}/transitiveMembers`)];
      for (let i = 0; i < 2; i++) assert.deepEqual(await members(), [[target], [inner, target].sort()]);
      await store.removeGroupMember(tenantId, inner, target);
      for (let i = 0; i < 2; i++) assert.deepEqual(await read(), [[], []]);
      for (let i = 0; i < 2; i++) assert.deepEqual(await members(), [[], [inner]]);
      await store.addGroupMember({ tenantId, groupId: outer, memberId: target, memberType: 'user' });
      for (let i = 0; i < 2; i++) assert.deepEqual(await members(), [[], [inner, target].sort()]);
      await store.removeGroupMember(tenantId, outer, target);
    } finally {
      await store.close();
    }
    for (const path of [`/users/${randomUUID()}/transitiveMemberOf`, `/users/${randomUUID()}/memberOf`]) {
      const res = await graph(admin, 'GET', path);
      assert.equal(res.status, 404, res.text);
      assert.equal(res.json().error.code, 'Request_ResourceNotFound');
    }
  });
});
