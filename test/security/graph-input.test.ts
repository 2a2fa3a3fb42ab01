import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { sealerForDataDir } from '../../src/shared/key-sealing.js';
import { openStore } from '../../src/store/index.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { storeMatrix } from '../support/postgres.js';

// Bad input to Graph gets Graph's 400 and changes nothing, never a 5xx (issue 12 finding 11, issue 16).

const TENANT = '77777777-7777-4777-8777-777777777777';
const DOMAIN = 'input.onmicrosoft.com';
const MEMBER = '77777777-0000-4000-8000-000000000002';
const OTHER = '77777777-0000-4000-8000-000000000003';
/** An application with no Graph permission at all. */
const NO_GRAPH_APP = '77777777-0000-4000-8000-0000000000c9';
const NO_GRAPH_SECRET = 'no-graph-secret-0123456789abcdef';
const SEED = `
tenants:
  - domain: ${DOMAIN}
    id: ${TENANT}
    users:
      - { userPrincipalName: admin@${DOMAIN}, password: 'Admin-Passw0rd!', directoryRoles: [Global Administrator] }
      - { userPrincipalName: member@${DOMAIN}, password: 'Member-Passw0rd!', id: ${MEMBER} }
      - { userPrincipalName: other@${DOMAIN}, password: 'Other-Passw0rd!', id: ${OTHER} }
    groups:
      - { displayName: existing, id: 77777777-0000-4000-8000-0000000000a1 }
    applications:
      - { displayName: no-graph, appId: ${NO_GRAPH_APP}, secrets: ['${NO_GRAPH_SECRET}'] }
  - domain: elsewhere.onmicrosoft.com
    users:
      - { userPrincipalName: someone@elsewhere.onmicrosoft.com, password: 'Someone-Passw0rd!' }
`;

const stores = storeMatrix(after);

// On each store: a group created with a bad reference must roll back on both backends.
for (const store of stores)
  describe(`Graph input on ${store.name} (security suite)`, { timeout: 180_000 }, () => {
    let k: TestKentra;
    let storeUrl: string | undefined;
    const tokens: Record<string, string> = {};
    const token = async (username: string, password: string, scope = 'https://graph.microsoft.com/.default') => {
      const res = await postForm(
        `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
        {
          client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
          grant_type: 'password',
          username,
          password,
          scope,
        },
        k.endpoints.caFile,
      );
      assert.equal(res.status, 200, res.text);
      return res.json().access_token as string;
    };
    const graph = (who: string, method: string, path: string, body?: unknown): Promise<HttpResponse> =>
      httpsFetch(`${k.endpoints.authority}/v1.0${path}`, {
        method,
        caFile: k.endpoints.caFile,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${tokens[who]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      });
    const badRequest = (res: HttpResponse, message: RegExp) => {
      assert.equal(res.status, 400, res.text);
      const e = res.json().error;
      assert.equal(e.code, 'Request_BadRequest');
      assert.match(e.message, message);
      assert.ok(e.innerError?.['request-id'], 'Graph errors carry innerError');
    };
    const groupsNamed = async (name: string) =>
      (await graph('admin', 'GET', `/groups?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`)).json().value as any[];

    before(async () => {
      storeUrl = store.url ? await store.url() : undefined;
      k = await startTestKentra({ seed: SEED, store: storeUrl });
      tokens.admin = await token(`admin@${DOMAIN}`, 'Admin-Passw0rd!');
      tokens.member = await token(`member@${DOMAIN}`, 'Member-Passw0rd!');
    });
    after(async () => k?.close());

    // ---- $filter ---------------------------------------------------------------------------------
    it('Graph input: $filter with thousands of nested parentheses is a 400 Invalid filter clause, not a 500 (issue 12 finding 11)', async () => {
      const deep = `${'('.repeat(5000)}displayName eq 'x'${')'.repeat(5000)}`;
      badRequest(await graph('admin', 'GET', `/users?$filter=${encodeURIComponent(deep)}`), /^Invalid filter clause/);
      const nots = `${'not('.repeat(2000)}displayName eq 'x'${')'.repeat(2000)}`;
      badRequest(await graph('admin', 'GET', `/groups?$filter=${encodeURIComponent(nots)}`), /^Invalid filter clause/);
      // Nesting a person writes still works.
      const fine = await graph(
        'admin',
        'GET',
        `/users?$filter=${encodeURIComponent("((displayName eq 'x') or (not (userPrincipalName eq 'y')))")}`,
      );
      assert.equal(fine.status, 200, fine.text);
      assert.equal((await graph('admin', 'GET', '/users')).status, 200, 'Kentra still serves');
    });

    it('Graph input: an overlong $filter is a 400 Invalid filter clause', async () => {
      // Over Kentra's 4096 characters, well under the HTTP server's 16 KB header limit.
      const long = Array.from({ length: 170 }, (_, i) => `displayName eq 'n${i}'`).join(' or ');
      badRequest(await graph('admin', 'GET', `/users?$filter=${encodeURIComponent(long)}`), /^Invalid filter clause/);
    });

    it('Graph input: arbitrary $filter text never gets a 5xx (fast-check over HTTP)', async () => {
      const piece = fc.constantFrom(
        '(',
        ')',
        ' ',
        "'",
        'not ',
        ' and ',
        ' or ',
        'displayName',
        ' eq ',
        ' ne ',
        ' in ',
        'startswith(',
        ',',
        ':',
        'x/any(',
        '1',
        'true',
        'null',
        "'a'",
        '$',
        '\u0000',
        '\uffff',
        '%',
      );
      const filterText = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.array(piece, { maxLength: 40 }).map((xs) => xs.join('')),
      );
      let requests = 0;
      await fc.assert(
        fc.asyncProperty(filterText, async (text) => {
          requests++;
          const res = await graph('admin', 'GET', `/groups?$filter=${encodeURIComponent(text)}`);
          assert.ok(res.status === 200 || res.status === 400, `${res.status} for ${JSON.stringify(text)}: ${res.text}`);
          if (res.status === 400) assert.match(res.json().error.code, /^Request_(BadRequest|UnsupportedQuery)$/);
        }),
        { numRuns: 150, seed: 20261205, verbose: 2 },
      );
      assert.equal(requests >= 150, true);
    });

    it("Graph input: /applications(appId='…') and /servicePrincipals(appId='…') keep every check of the routes they reach, and any key is a 4xx, never a 5xx", async () => {
      const app = await graph('admin', 'POST', '/applications', { displayName: 'keyed' });
      assert.equal(app.status, 201, app.text);
      const { appId } = app.json();
      assert.equal((await graph('admin', 'POST', '/servicePrincipals', { appId })).status, 201);
      const key = `(appId='${appId}')`;
      // No token, and a token for another audience: Graph's 401, as on /applications/{id}.
      for (const path of [`/applications${key}`, `/servicePrincipals${key}`]) {
        const anonymous = await httpsFetch(`${k.endpoints.authority}/v1.0${path}`, { caFile: k.endpoints.caFile });
        assert.equal(anonymous.status, 401, anonymous.text);
        assert.equal(anonymous.json().error.code, 'InvalidAuthenticationToken');
      }
      const arm = await token(`member@${DOMAIN}`, 'Member-Passw0rd!', 'https://management.azure.com/.default');
      const wrongAudience = await httpsFetch(`${k.endpoints.authority}/v1.0/applications${key}`, {
        caFile: k.endpoints.caFile,
        headers: { authorization: `Bearer ${arm}` },
      });
      assert.equal(wrongAudience.status, 401, wrongAudience.text);
      // A member who does not own it may read it but not change, delete or add a secret to it.
      assert.equal((await graph('member', 'GET', `/applications${key}`)).status, 200);
      for (const [method, path, body] of [
        ['PATCH', `/applications${key}`, { displayName: 'taken over' }],
        ['POST', `/applications${key}/addPassword`, {}],
        ['POST', `/applications${key}/owners/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${MEMBER}` }],
        ['DELETE', `/applications${key}`, undefined],
        ['PATCH', `/servicePrincipals${key}`, { displayName: 'taken over' }],
        ['DELETE', `/servicePrincipals${key}`, undefined],
      ] as const) {
        const res = await graph('member', method, path, body);
        assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
        assert.equal(res.json().error.code, 'Authorization_RequestDenied');
      }
      const after = (await graph('admin', 'GET', `/applications${key}`)).json();
      assert.equal(after.displayName, 'keyed');
      assert.deepEqual(after.passwordCredentials, []);
      // Its creator still its only owner.
      assert.deepEqual(
        (await graph('admin', 'GET', `/applications${key}/owners`))
          .json()
          .value.map((o: { userPrincipalName: string }) => o.userPrincipalName),
        [`admin@${DOMAIN}`],
      );
      // Any text after the parenthesis, percent-encoded: this object, or a 400 or a 404 in Graph's shape.
      await fc.assert(
        fc.asyncProperty(
          fc
            .oneof(fc.string({ maxLength: 40 }), fc.constantFrom("appId='", "appId=''", `appId='${appId}'`, "')/../users", '%28', "'"))
            .map((t) => encodeURIComponent(t)),
          fc.constantFrom('applications', 'servicePrincipals'),
          fc.constantFrom('', ')', "')", "')/owners"),
          async (text, collection, tail) => {
            const res = await graph('admin', 'GET', `/${collection}(${text}${tail}`);
            // The one key that names it (the constant above, closed) reads this object; anything else is refused.
            if (res.status === 200) assert.equal(res.json().appId, appId, `${collection}(${text}${tail}`);
            else {
              assert.ok(res.status === 400 || res.status === 404, `${res.status} for ${collection}(${text}${tail}: ${res.text}`);
              assert.match(res.json().error.code, /^Request_(BadRequest|ResourceNotFound)$/);
            }
          },
        ),
        { numRuns: 120, seed: 20261207 },
      );
    });

    it("Graph input: an upsert by uniqueName (PATCH /applications(uniqueName='…')) keeps the checks of POST and PATCH, and a bad name is a 400", async () => {
      const upsert = (authorization: string | null, name: string, body: unknown, prefer = true) =>
        httpsFetch(`${k.endpoints.authority}/v1.0/applications(uniqueName='${name}')`, {
          method: 'PATCH',
          caFile: k.endpoints.caFile,
          body: JSON.stringify(body),
          headers: {
            'content-type': 'application/json',
            ...(authorization ? { authorization: `Bearer ${authorization}` } : {}),
            ...(prefer ? { prefer: 'create-if-missing' } : {}),
          },
        });
      const named = async (name: string) => {
        const res = await graph('admin', 'GET', `/applications(uniqueName='${name}')`);
        return res.status === 200 ? res.json() : res.status;
      };
      // No token: Graph's 401, and nothing is created.
      const anonymous = await upsert(null, 'sec-upsert', { displayName: 'nobody' });
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.equal(await named('sec-upsert'), 404);
      // The administrator creates it (201), and it is the same application in any case of its name (204).
      const created = await upsert(tokens.admin!, 'sec-upsert', { displayName: 'admin app' });
      assert.equal(created.status, 201, created.text);
      assert.equal((await upsert(tokens.admin!, 'SEC-UPSERT', { notes: 'again' })).status, 204);
      // A member who does not own it: the upsert is an update, refused; so are its paths by name.
      for (const res of [
        await upsert(tokens.member!, 'sec-upsert', { displayName: 'taken over' }),
        await upsert(tokens.member!, 'Sec-Upsert', { displayName: 'taken over' }, false),
        await graph('member', 'POST', "/applications(uniqueName='sec-upsert')/addPassword", {}),
        await graph('member', 'DELETE', "/applications(uniqueName='sec-upsert')"),
      ]) {
        assert.equal(res.status, 403, res.text);
        assert.equal(res.json().error.code, 'Authorization_RequestDenied');
      }
      const kept = await named('sec-upsert');
      assert.deepEqual([kept.id, kept.displayName, kept.notes, kept.passwordCredentials], [created.json().id, 'admin app', 'again', []]);
      // A member may create an application of their own (default user permissions), and owns it.
      const mine = await upsert(tokens.member!, 'sec-member', { displayName: 'mine' });
      assert.equal(mine.status, 201, mine.text);
      assert.deepEqual(
        (await graph('admin', 'GET', `/applications/${mine.json().id}/owners`)).json().value.map((o: { id: string }) => o.id),
        [MEMBER],
      );
      assert.equal((await upsert(tokens.member!, 'sec-member', { displayName: 'mine, renamed' })).status, 204);
      // An application without Graph permissions may not create one.
      const bare = (await graph('admin', 'POST', '/applications', { displayName: 'no-graph-permissions' })).json();
      assert.equal((await graph('admin', 'POST', '/servicePrincipals', { appId: bare.appId })).status, 201);
      const secret = (await graph('admin', 'POST', `/applications/${bare.id}/addPassword`, {})).json().secretText as string;
      const appToken = await postForm(
        `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
        { grant_type: 'client_credentials', client_id: bare.appId, client_secret: secret, scope: 'https://graph.microsoft.com/.default' },
        k.endpoints.caFile,
      );
      assert.equal(appToken.status, 200, appToken.text);
      const refused = await upsert(appToken.json().access_token, 'sec-daemon', { displayName: 'daemon app' });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(await named('sec-daemon'), 404);
      // The name is read-only, and a bad name (or a body POST would refuse) creates nothing.
      badRequest(await graph('admin', 'PATCH', `/applications/${created.json().id}`, { uniqueName: 'sec-other' }), /read-only/);
      badRequest(await graph('admin', 'POST', '/applications', { displayName: 'x', uniqueName: 'sec-post' }), /read-only/);
      badRequest(await upsert(tokens.admin!, 'sec-mismatch', { displayName: 'x', uniqueName: 'sec-else' }), /read-only/);
      badRequest(await upsert(tokens.admin!, '', { displayName: 'x' }), /uniqueName is 1 to 120 characters/);
      badRequest(await upsert(tokens.admin!, 'a'.repeat(121), { displayName: 'x' }), /uniqueName is 1 to 120 characters/);
      badRequest(await upsert(tokens.admin!, '%01', { displayName: 'x' }), /control/);
      // Names that look like another: a C1 control, a bidi override, a zero-width space, a line separator, spaces around it.
      for (const name of ['m%C2%851', '%E2%80%AEm1', 'm%E2%80%8B1', 'm%E2%80%A81', '%20m1', 'm1%20', '%20'])
        badRequest(await upsert(tokens.admin!, name, { displayName: 'x' }), /uniqueName is 1 to 120 characters/);
      assert.equal((await upsert(tokens.admin!, 'sec-nameless', { notes: 'no displayName' })).status, 400);
      for (const name of ['sec-post', 'sec-mismatch', 'sec-else', 'sec-nameless']) assert.equal(await named(name), 404, name);
      // Without create-if-missing a name nobody has is Graph's 404.
      const missing = await upsert(tokens.admin!, 'sec-missing', { displayName: 'x' }, false);
      assert.equal(missing.status, 404, missing.text);
      assert.equal(missing.json().error.code, 'Request_ResourceNotFound');
      assert.equal(await named('sec-missing'), 404);
    });

    it("Graph input: an app role assignment's path names its principal or its resource, and one is deleted only through its own service principal", async () => {
      const sp = async (name: string) => {
        const app = await graph('admin', 'POST', '/applications', { displayName: name });
        assert.equal(app.status, 201, app.text);
        const made = await graph('admin', 'POST', '/servicePrincipals', { appId: app.json().appId });
        assert.equal(made.status, 201, made.text);
        return made.json() as { id: string; appId: string };
      };
      const [resource, client, third] = [await sp('assign-resource'), await sp('assign-client'), await sp('assign-third')];
      const DEFAULT_ACCESS = '00000000-0000-0000-0000-000000000000';
      const assignment = (principalId: string) => ({ principalId, resourceId: resource.id, appRoleId: DEFAULT_ACCESS });
      const heldBy = async (id: string) =>
        (await graph('admin', 'GET', `/servicePrincipals/${id}/appRoleAssignments`)).json().value as { id: string }[];

      // A path that names neither the principal nor the resource: Graph's 400, and nothing is assigned.
      for (const path of [
        `/servicePrincipals/${third.id}/appRoleAssignedTo`,
        `/servicePrincipals/${third.id}/appRoleAssignments`,
        `/servicePrincipals(appId='${third.appId}')/appRoleAssignments`,
        `/users/${MEMBER}/appRoleAssignments`,
        `/groups/77777777-0000-4000-8000-0000000000a1/appRoleAssignments`,
      ]) {
        const res = await graph('admin', 'POST', path, assignment(client.id));
        badRequest(res, /^Not a valid reference update\.$/);
      }
      assert.deepEqual(await heldBy(client.id), []);
      // A path that does not name an object of the tenant is a 404, before anything is written.
      const missing = await graph('admin', 'POST', `/users/${randomUUID()}/appRoleAssignments`, assignment(MEMBER));
      assert.equal(missing.status, 404, missing.text);

      // The resource's path (appRoleAssignedTo) and the principal's (appRoleAssignments, by appId too) both assign.
      const viaResource = await graph('admin', 'POST', `/servicePrincipals/${resource.id}/appRoleAssignedTo`, assignment(client.id));
      assert.equal(viaResource.status, 201, viaResource.text);
      const viaUser = await graph('admin', 'POST', `/users/${MEMBER}/appRoleAssignments`, assignment(MEMBER));
      assert.equal(viaUser.status, 201, viaUser.text);
      const viaAppId = await graph('admin', 'POST', `/servicePrincipals(appId='${third.appId}')/appRoleAssignments`, assignment(third.id));
      assert.equal(viaAppId.status, 201, viaAppId.text);

      // Deleting through another service principal's path finds nothing and deletes nothing.
      const aid = viaResource.json().id as string;
      const elsewhere = await graph('admin', 'DELETE', `/servicePrincipals/${third.id}/appRoleAssignments/${aid}`);
      assert.equal(elsewhere.status, 404, elsewhere.text);
      assert.equal(elsewhere.json().error.code, 'Request_ResourceNotFound');
      assert.deepEqual(
        (await heldBy(client.id)).map((a) => a.id),
        [aid],
      );
      // A member is refused before any of that is looked at.
      assert.equal((await graph('member', 'DELETE', `/servicePrincipals/${client.id}/appRoleAssignments/${aid}`)).status, 403);
      assert.equal((await graph('admin', 'DELETE', `/servicePrincipals/${client.id}/appRoleAssignments/${aid}`)).status, 204);
      assert.deepEqual(await heldBy(client.id), []);
    });

    it('Graph input: any $skiptoken on the lists read by key is a page or a 400, never a 5xx, and a forged cursor stays in the tenant', async () => {
      // Keyed tokens carry the store's cursor ("after:" + base64url of the last key); forge them freely.
      const cursor = (key: string) => Buffer.from(`after:${Buffer.from(key).toString('base64url')}`).toString('base64url');
      const token = fc.oneof(
        fc.string({ maxLength: 40 }).map((t) => Buffer.from(t).toString('base64url')),
        fc.string({ maxLength: 40 }).map((key) => cursor(key)),
        fc.string({ maxLength: 40 }).map((t) => Buffer.from(`after:${t}`).toString('base64url')),
        fc.string({ maxLength: 20 }),
      );
      await fc.assert(
        fc.asyncProperty(token, fc.constantFrom('users', 'groups', 'applications', 'servicePrincipals'), async (t, collection) => {
          const res = await graph('admin', 'GET', `/${collection}?$top=5&$skiptoken=${encodeURIComponent(t)}`);
          assert.ok(res.status === 200 || res.status === 400, `${res.status} for ${JSON.stringify(t)}: ${res.text}`);
          if (res.status === 400) assert.equal(res.json().error.code, 'Request_BadRequest');
        }),
        { numRuns: 120, seed: 20261206 },
      );
      // From the lowest key, a forged cursor lists this tenant's users only (elsewhere's share the store).
      const listed = await graph('admin', 'GET', `/users?$top=999&$skiptoken=${cursor(' ')}`);
      assert.equal(listed.status, 200, listed.text);
      const upns = listed.json().value.map((u: { userPrincipalName: string }) => u.userPrincipalName);
      assert.ok(upns.length >= 3 && upns.every((upn: string) => upn.endsWith(`@${DOMAIN}`)), upns.join());
      // And a cursor lifts no check: without a token it is a 401, before the token is looked at.
      const anonymous = await httpsFetch(`${k.endpoints.authority}/v1.0/users?$skiptoken=${cursor(' ')}`, { caFile: k.endpoints.caFile });
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.equal(anonymous.json().error.code, 'InvalidAuthenticationToken');
    });

    it("Graph input: a group's members and transitiveMembers list this tenant's objects only, by their type, and bad paging is a 400, never a 5xx", async () => {
      const created = await graph('admin', 'POST', '/groups', {
        displayName: 'roster',
        mailNickname: 'roster',
        securityEnabled: true,
        mailEnabled: false,
      });
      assert.equal(created.status, 201, created.text);
      const id = created.json().id as string;
      const add = await graph('admin', 'POST', `/groups/${id}/members/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${MEMBER}`,
      });
      assert.equal(add.status, 204, add.text);
      // Memberships no Kentra path writes, straight into the store: another tenant's user and group as
      // members, and this tenant's group recorded as a user. None of them may show, on any page.
      const s = await openStore({ url: storeUrl, dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
      const foreignGroup = randomUUID();
      try {
        const elsewhere = (await s.listTenants()).find((t) => t.domains.includes('elsewhere.onmicrosoft.com'))!;
        const someone = (await s.listUsers(elsewhere.id)).items[0]!;
        await s.createGroup({
          tenantId: elsewhere.id,
          id: foreignGroup,
          displayName: 'foreign',
          mailNickname: 'foreign',
          description: null,
          securityEnabled: true,
          mailEnabled: false,
          createdAt: Date.now(),
        });
        await s.addGroupMember({ tenantId: elsewhere.id, groupId: foreignGroup, memberId: someone.id, memberType: 'user' });
        await s.addGroupMember({ tenantId: TENANT, groupId: id, memberId: someone.id, memberType: 'user' });
        await s.addGroupMember({ tenantId: TENANT, groupId: id, memberId: foreignGroup, memberType: 'group' });
        await s.addGroupMember({ tenantId: TENANT, groupId: id, memberId: '77777777-0000-4000-8000-0000000000a1', memberType: 'user' });
      } finally {
        await s.close();
      }
      for (const list of ['members', 'transitiveMembers'])
        for (const query of ['', '?$top=1', '?$top=2', '?$count=true', '?$select=displayName']) {
          const ids: string[] = [];
          let next: string | undefined = `${k.endpoints.authority}/v1.0/groups/${id}/${list}${query}`;
          while (next) {
            const res = await httpsFetch(next, {
              caFile: k.endpoints.caFile,
              headers: { authorization: `Bearer ${tokens.admin}`, consistencylevel: 'eventual' },
            });
            assert.equal(res.status, 200, `${list}${query}: ${res.text}`);
            ids.push(...res.json().value.map((o: { id?: string; displayName?: string }) => o.id ?? o.displayName));
            next = res.json()['@odata.nextLink'];
          }
          assert.deepEqual(ids, [query.includes('$select') ? 'member' : MEMBER], `${list}${query}`);
        }
      // Another tenant's group, named by its id here: not found.
      for (const list of ['members', 'transitiveMembers']) {
        const res = await graph('admin', 'GET', `/groups/${foreignGroup}/${list}`);
        assert.equal(res.status, 404, res.text);
        assert.equal(res.json().error.code, 'Request_ResourceNotFound');
      }
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('$top', '$skiptoken', '$count', '$select'),
          fc.string({ maxLength: 12 }),
          async (option, value) => {
            const res = await graph('admin', 'GET', `/groups/${id}/transitiveMembers?${option}=${encodeURIComponent(value)}`);
            assert.ok(res.status === 200 || res.status === 400, `${res.status} for ${option}=${JSON.stringify(value)}: ${res.text}`);
            if (res.status === 400) assert.equal(res.json().error.code, 'Request_BadRequest');
          },
        ),
        { numRuns: 60, seed: 20261207 },
      );
    });

    // ---- @odata.bind on POST /groups (issue 16 item 3) ---------------------------------------------
    // ---- an attack battery's findings (stop 27) ---------------------------------------------------
    it("Graph input: a value of the wrong type is a 400 in Graph's shape, never a 500, and changes nothing", async () => {
      const a = (await graph('admin', 'POST', '/applications', { displayName: `typed-${randomUUID()}` })).json();
      const credentials = async () => (await graph('admin', 'GET', `/applications/${a.id}`)).json();
      for (const displayName of [{ a: 1 }, ['x'], 12]) {
        const res = await graph('admin', 'POST', `/applications/${a.id}/addPassword`, { passwordCredential: { displayName } });
        badRequest(res, /displayName/);
      }
      for (const description of [{ a: 1 }, ['x']]) {
        const res = await graph('admin', 'POST', `/applications/${a.id}/federatedIdentityCredentials`, {
          name: 'typed',
          issuer: 'https://issuer.example',
          subject: 'repo:x',
          description,
        });
        badRequest(res, /description/);
      }
      badRequest(
        await graph('admin', 'POST', `/applications/${a.id}/federatedIdentityCredentials`, {
          name: 'typed',
          issuer: 'https://issuer.example',
          subject: 'repo:x',
          audiences: [12],
        }),
        /audiences/,
      );
      const after = await credentials();
      assert.equal(after.passwordCredentials.length, 0);
      assert.equal((await graph('admin', 'GET', `/applications/${a.id}/federatedIdentityCredentials`)).json().value.length, 0);
      // An application's properties as Graph types them; each refused body leaves the application as it was.
      const before = (await graph('admin', 'GET', `/applications/${a.id}`)).json();
      for (const body of [
        { tags: 'x' },
        { tags: [1] },
        { notes: {} },
        { description: 123 },
        { info: { marketingUrl: 1 } },
        { info: { someUrl: 'https://x.example' } },
        { optionalClaims: 'x' },
        { optionalClaims: { idToken: [{ name: 1 }] } },
        { web: { implicitGrantSettings: 'yes' } },
        { web: { implicitGrantSettings: { enableIdTokenIssuance: 'yes' } } },
        { web: { homePageUrl: {} } },
        { web: { logoutUrl: [1] } },
        { appRoles: [{ value: 'R', allowedMemberTypes: [1, {}] }] },
        { appRoles: [{ value: 'R', allowedMemberTypes: ['Application'], displayName: { a: 1 } }] },
        { api: { oauth2PermissionScopes: [{ value: 's', adminConsentDisplayName: { a: 1 } }] } },
        { api: { knownClientApplications: ['not-a-guid'] } },
        { api: { preAuthorizedApplications: [{ appId: 'x', delegatedPermissionIds: [] }] } },
      ]) {
        const res = await graph('admin', 'PATCH', `/applications/${a.id}`, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
        assert.equal(res.json().error.code, 'Request_BadRequest');
      }
      assert.deepEqual((await graph('admin', 'GET', `/applications/${a.id}`)).json(), before);
      // The same properties with Graph's types are taken.
      const good = {
        tags: ['t'],
        notes: 'n',
        description: 'd',
        info: { marketingUrl: 'https://x.example', logoUrl: null },
        optionalClaims: { idToken: [{ name: 'email', source: null, essential: false, additionalProperties: [] }] },
        web: { homePageUrl: 'https://x.example', implicitGrantSettings: { enableIdTokenIssuance: true } },
      };
      assert.equal((await graph('admin', 'PATCH', `/applications/${a.id}`, good)).status, 204);
      const now = (await graph('admin', 'GET', `/applications/${a.id}`)).json();
      assert.deepEqual(
        [now.tags, now.notes, now.info.marketingUrl, now.web.implicitGrantSettings.enableIdTokenIssuance],
        [['t'], 'n', 'https://x.example', true],
      );
      for (const types of [[1], [null], 'user', [{}]]) {
        const res = await graph('member', 'POST', '/directoryObjects/getByIds', { ids: [a.id], types });
        badRequest(res, /types/);
      }
      assert.equal(
        (await graph('member', 'POST', '/directoryObjects/getByIds', { ids: [a.id], types: ['Application'] })).json().value.length,
        1,
      );
    });

    it("Graph input: Microsoft's own applications are not found by key, and their service principals take no owners", async () => {
      const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
      for (const path of [`/applications(appId='${GRAPH_APP_ID}')`, `/applications/appId=${GRAPH_APP_ID}`]) {
        const res = await graph('admin', 'GET', path);
        assert.equal(res.status, 404, `${path}: ${res.text}`);
      }
      const s = await openStore({ url: storeUrl, dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
      let graphApp: { id: string } | null;
      try {
        graphApp = await s.findApplicationByAppId(TENANT, GRAPH_APP_ID);
      } finally {
        await s.close();
      }
      assert.ok(graphApp, 'the store keeps it, for its service principal');
      assert.equal((await graph('admin', 'GET', `/applications/${graphApp.id}`)).status, 404);
      assert.equal((await graph('admin', 'GET', `/directoryObjects/${graphApp.id}`)).status, 404);
      assert.deepEqual((await graph('admin', 'POST', '/directoryObjects/getByIds', { ids: [graphApp.id] })).json().value, []);
      const sp = (await graph('admin', 'GET', `/servicePrincipals(appId='${GRAPH_APP_ID}')`)).json();
      const me = (await graph('member', 'GET', '/me')).json();
      const add = await graph('admin', 'POST', `/servicePrincipals/${sp.id}/owners/$ref`, {
        '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${me.id}`,
      });
      assert.equal(add.status, 403, add.text);
      assert.deepEqual((await graph('admin', 'GET', `/servicePrincipals/${sp.id}/owners`)).json().value, []);
    });

    it('Graph input: a caller without any write right is refused before the look-up: 403 for objects that exist and those that do not', async () => {
      const existing = (await graph('admin', 'POST', '/applications', { displayName: `probe-${randomUUID()}` })).json();
      const group = (
        await graph('admin', 'POST', '/groups', {
          displayName: `probe-${randomUUID()}`,
          mailNickname: 'p',
          mailEnabled: false,
          securityEnabled: true,
        })
      ).json();
      const user = (await graph('admin', 'GET', `/users/member@${DOMAIN}`)).json();
      const missing = randomUUID();
      const appToken = await postForm(
        `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
        {
          client_id: NO_GRAPH_APP,
          client_secret: NO_GRAPH_SECRET,
          grant_type: 'client_credentials',
          scope: 'https://graph.microsoft.com/.default',
        },
        k.endpoints.caFile,
      );
      assert.equal(appToken.status, 200, appToken.text);
      tokens.noperm = appToken.json().access_token;
      const writes = (id: string, gid: string, uid: string): [string, string, unknown][] => [
        ['PATCH', `/applications/${id}`, { notes: 'probe' }],
        ['DELETE', `/applications/${id}`, undefined],
        ['POST', `/applications/${id}/addPassword`, {}],
        ['POST', `/applications/${id}/removePassword`, { keyId: randomUUID() }],
        ['POST', `/applications/${id}/federatedIdentityCredentials`, { name: 'p', issuer: 'https://i.example', subject: 's' }],
        ['POST', `/applications/${id}/owners/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${uid}` }],
        ['PATCH', `/servicePrincipals/${id}`, { notes: 'probe' }],
        ['PATCH', `/groups/${gid}`, { description: 'probe' }],
        ['POST', `/groups/${gid}/members/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${uid}` }],
        ['DELETE', `/users/${uid}`, undefined],
        ['PATCH', `/users/${uid}`, { displayName: 'probe' }],
      ];
      for (const [method, path, body] of [...writes(existing.id, group.id, user.id), ...writes(missing, missing, missing)]) {
        const res = await graph('noperm', method, path, body);
        assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
        assert.equal(res.json().error.code, 'Authorization_RequestDenied');
      }
      const after = (await graph('admin', 'GET', `/applications/${existing.id}`)).json();
      assert.equal(after.notes ?? null, null);
      assert.equal(after.passwordCredentials.length, 0);
    });

    // On PostgreSQL a PATCH beside the DELETE deadlocked (503) until every directory update locked the revision's row first.
    it('Graph input: secrets added while their application is deleted are not left behind, and a change beside the delete is no 5xx', async () => {
      const apps = await Promise.all(
        Array.from({ length: 12 }, async () =>
          (await graph('admin', 'POST', '/applications', { displayName: `race-${randomUUID()}` })).json(),
        ),
      );
      const answers = await Promise.all(
        apps.flatMap((a) => [
          graph('admin', 'POST', `/applications/${a.id}/addPassword`, { passwordCredential: { displayName: 'race' } }),
          graph('admin', 'PATCH', `/applications/${a.id}`, { notes: 'race' }),
          graph('admin', 'DELETE', `/applications/${a.id}`),
        ]),
      );
      for (const res of answers) assert.ok([200, 204, 404].includes(res.status), res.text);
      const s = await openStore({ url: storeUrl, dataDir: k.dataDir, sealer: sealerForDataDir(k.dataDir) });
      try {
        for (const a of apps) {
          assert.equal(await s.getApplication(TENANT, a.id), null);
          assert.deepEqual(await s.listPasswordCredentials(TENANT, a.id), [], `no secret of the deleted ${a.displayName} is left`);
        }
      } finally {
        await s.close();
      }
    });

    it('issue 16.3: POST /groups applies owners@odata.bind and members@odata.bind in the same request', async () => {
      const res = await graph('admin', 'POST', '/groups', {
        displayName: 'bound',
        mailNickname: 'bound',
        mailEnabled: false,
        securityEnabled: true,
        'owners@odata.bind': [`https://graph.microsoft.com/v1.0/users/${MEMBER}`],
        'members@odata.bind': [
          `https://graph.microsoft.com/v1.0/directoryObjects/${MEMBER}`,
          `https://graph.microsoft.com/v1.0/users('${OTHER}')`,
          'https://graph.microsoft.com/v1.0/groups/77777777-0000-4000-8000-0000000000a1',
        ],
      });
      assert.equal(res.status, 201, res.text);
      const id = res.json().id;
      const owners = (await graph('admin', 'GET', `/groups/${id}/owners`)).json().value.map((o: any) => o.id);
      assert.deepEqual(owners, [MEMBER]);
      const members = (await graph('admin', 'GET', `/groups/${id}/members`))
        .json()
        .value.map((m: any) => m.id)
        .sort();
      assert.deepEqual(members, ['77777777-0000-4000-8000-0000000000a1', MEMBER, OTHER].sort());
      // The bound owner manages the group.
      assert.equal((await graph('member', 'PATCH', `/groups/${id}`, { description: 'mine' })).status, 204);
    });

    it('issue 16.3: POST /groups with a bound id that does not exist is a 400 and creates no group', async () => {
      const missing = '77777777-0000-4000-8000-0000000000ff';
      badRequest(
        await graph('admin', 'POST', '/groups', {
          displayName: 'not-created',
          mailNickname: 'nc',
          mailEnabled: false,
          securityEnabled: true,
          'members@odata.bind': [
            `https://graph.microsoft.com/v1.0/directoryObjects/${MEMBER}`,
            `https://graph.microsoft.com/v1.0/directoryObjects/${missing}`,
          ],
        }),
        new RegExp(missing),
      );
      badRequest(
        await graph('admin', 'POST', '/groups', {
          displayName: 'not-created',
          mailNickname: 'nc',
          mailEnabled: false,
          securityEnabled: true,
          'owners@odata.bind': [`https://graph.microsoft.com/v1.0/directoryObjects/${missing}`],
        }),
        new RegExp(missing),
      );
      badRequest(
        await graph('admin', 'POST', '/groups', {
          displayName: 'not-created',
          mailNickname: 'nc',
          mailEnabled: false,
          securityEnabled: true,
          'members@odata.bind': 'not-a-list',
        }),
        /members@odata\.bind/,
      );
      badRequest(
        await graph('admin', 'POST', '/groups', {
          displayName: 'not-created',
          mailNickname: 'nc',
          mailEnabled: false,
          securityEnabled: true,
          'owners@odata.bind': ['https://graph.microsoft.com/v1.0/groups/77777777-0000-4000-8000-0000000000a1'],
        }),
        /owners@odata\.bind/,
      );
      assert.deepEqual(await groupsNamed('not-created'), [], 'no group was created');
    });

    it('Graph input: a member without a directory role owns at most 250 objects: the next create is 400 Directory_QuotaExceeded and makes nothing', async () => {
      tokens.other = await token(`other@${DOMAIN}`, 'Other-Passw0rd!');
      const owned = async () => (await graph('other', 'GET', '/me/ownedObjects')).json().value.length as number;
      const ids: string[] = [];
      for (let n = await owned(); n < 250;) {
        const batch = Math.min(10, 250 - n);
        const made = await Promise.all(
          Array.from({ length: batch }, () => graph('other', 'POST', '/applications', { displayName: `quota-${randomUUID()}` })),
        );
        for (const res of made) assert.equal(res.status, 201, res.text);
        ids.push(...made.map((res) => res.json().id as string));
        n += batch;
      }
      assert.equal(await owned(), 250);
      for (const [path, body] of [
        ['/applications', { displayName: 'one too many' }],
        ['/groups', { displayName: 'one too many', mailNickname: 'x', mailEnabled: false, securityEnabled: true }],
      ] as const) {
        const res = await graph('other', 'POST', path, body);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json().error.code, 'Directory_QuotaExceeded');
      }
      assert.equal(await owned(), 250, 'nothing was made');
      // An administrator has no such quota; one object deleted makes room for one.
      assert.equal((await graph('admin', 'POST', '/applications', { displayName: 'admin over quota' })).status, 201);
      assert.equal((await graph('other', 'DELETE', `/applications/${ids[0]}`)).status, 204);
      assert.equal((await graph('other', 'POST', '/applications', { displayName: 'room again' })).status, 201);
    });
  });
