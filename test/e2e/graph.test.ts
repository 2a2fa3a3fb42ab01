import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { storeMatrix } from '../support/postgres.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Kentra's Microsoft Graph over HTTPS with real tokens: shapes, OData queries, paging, authorization
// and Graph's error envelope. Runs on the embedded SQLite store and on PostgreSQL.

const SEED = `
tenants:
  - domain: graphtest.onmicrosoft.com
    id: 55555555-5555-4555-8555-555555555555
    users:
      - { userPrincipalName: gadmin@graphtest.onmicrosoft.com, password: 'Gadmin-Passw0rd!', directoryRoles: [Global Administrator] }
      - { userPrincipalName: member@graphtest.onmicrosoft.com, password: 'Member-Passw0rd!', id: 55555555-0000-4000-8000-000000000002 }
    groups:
      - { displayName: parent, id: 55555555-0000-4000-8000-0000000000a1, members: ['group:child'] }
      - { displayName: child, id: 55555555-0000-4000-8000-0000000000a2, members: [member@graphtest.onmicrosoft.com] }
    groupSets:
      - { prefix: paged-, count: 7 }
    applications:
      - displayName: reader-daemon
        appId: 55555555-0000-4000-8000-0000000000c1
        secrets: ['reader-daemon-secret-0123456789']
        graphPermissions: { application: [Directory.Read.All] }
        adminConsent: true
`;

const stores = storeMatrix(after);

for (const store of stores) {
  describe(`Microsoft Graph on ${store.name}`, { timeout: 180_000 }, () => {
    let k: TestKentra;
    let tokens: Record<'admin' | 'member' | 'daemon' | 'bootstrap', string>;
    const tenant = '55555555-5555-4555-8555-555555555555';

    const token = async (fields: Record<string, string>) => {
      const res = await postForm(
        `${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`,
        { scope: 'https://graph.microsoft.com/.default', ...fields },
        k.endpoints.caFile,
      );
      assert.equal(res.status, 200, res.text);
      return res.json().access_token as string;
    };
    const graph = (
      who: keyof typeof tokens,
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ): Promise<HttpResponse> =>
      httpsFetch(`${k.endpoints.authority}/v1.0${path}`, {
        method,
        caFile: k.endpoints.caFile,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        headers: {
          authorization: `Bearer ${tokens[who]}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
      });
    /** Every page of a list through @odata.nextLink, as Graph clients follow it. */
    const pagesOf = async (who: keyof typeof tokens, path: string, headers: Record<string, string> = {}) => {
      const pages: any[] = [];
      let next: string | undefined = `${k.endpoints.authority}/v1.0${path}`;
      while (next) {
        const res = await httpsFetch(next, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${tokens[who]}`, ...headers } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
        pages.push(res.json());
        next = res.json()['@odata.nextLink'];
      }
      return pages;
    };
    const assertGraphError = (res: HttpResponse, status: number, code: string, message?: RegExp) => {
      assert.equal(res.status, status, res.text);
      const e = res.json().error;
      assert.equal(e.code, code);
      assert.ok(e.innerError?.['request-id'] && e.innerError?.date, 'Graph errors carry innerError');
      if (message) assert.match(e.message, message);
    };

    before(async () => {
      k = await startTestKentra({ seed: SEED, store: store.url ? await store.url() : undefined });
      const cli = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
      tokens = {
        admin: await token({
          client_id: cli,
          grant_type: 'password',
          username: 'gadmin@graphtest.onmicrosoft.com',
          password: 'Gadmin-Passw0rd!',
        }),
        member: await token({
          client_id: cli,
          grant_type: 'password',
          username: 'member@graphtest.onmicrosoft.com',
          password: 'Member-Passw0rd!',
        }),
        daemon: await token({
          client_id: '55555555-0000-4000-8000-0000000000c1',
          client_secret: 'reader-daemon-secret-0123456789',
          grant_type: 'client_credentials',
        }),
        bootstrap: '',
      };
    });
    after(async () => k?.close());

    it('serves /me to users and refuses it to applications as Graph does', async () => {
      const me = await graph('member', 'GET', '/me');
      assert.equal(me.status, 200);
      assert.equal(me.json().userPrincipalName, 'member@graphtest.onmicrosoft.com');
      assert.deepEqual(
        Object.keys(me.json())
          .filter((x) => x !== '@odata.context')
          .sort(),
        [
          'businessPhones',
          'displayName',
          'givenName',
          'id',
          'jobTitle',
          'mail',
          'mobilePhone',
          'officeLocation',
          'preferredLanguage',
          'surname',
          'userPrincipalName',
        ],
      );
      assertGraphError(await graph('daemon', 'GET', '/me'), 400, 'Request_BadRequest', /only valid with delegated authentication flow/);
    });

    it('filters, selects, counts and pages collections', async () => {
      const byName = (
        await graph('daemon', 'GET', `/groups?$filter=${encodeURIComponent("displayName eq 'PARENT'")}&$select=id,displayName`)
      ).json();
      assert.deepEqual(byName.value, [{ id: '55555555-0000-4000-8000-0000000000a1', displayName: 'parent' }]);
      const starts = (
        await graph(
          'daemon',
          'GET',
          `/groups?$filter=${encodeURIComponent("startswith(displayName,'paged-') and securityEnabled eq true")}`,
        )
      ).json();
      assert.equal(starts.value.length, 7);
      const first = await graph(
        'daemon',
        'GET',
        `/groups?$top=3&$count=true&$filter=${encodeURIComponent("startswith(displayName,'paged-')")}`,
        undefined,
        { consistencylevel: 'eventual' },
      );
      assert.equal(first.json()['@odata.count'], 7);
      const seen = first.json().value.map((g: any) => g.displayName);
      let next: string | undefined = first.json()['@odata.nextLink'];
      assert.match(next!, /^https:\/\/localhost:\d+\/v1\.0\/groups\?.*\$skiptoken=/);
      while (next) {
        const res = await httpsFetch(next, {
          caFile: k.endpoints.caFile,
          headers: { authorization: `Bearer ${tokens.daemon}`, consistencylevel: 'eventual' },
        });
        seen.push(...res.json().value.map((g: any) => g.displayName));
        next = res.json()['@odata.nextLink'];
      }
      assert.deepEqual(
        [...seen].sort(),
        ['paged-001', 'paged-002', 'paged-003', 'paged-004', 'paged-005', 'paged-006', 'paged-007'],
        'every item once across the pages',
      );
      const sps = (
        await graph(
          'daemon',
          'GET',
          `/servicePrincipals?$filter=${encodeURIComponent("servicePrincipalNames/any(c:c eq 'https://management.azure.com/')")}`,
        )
      ).json();
      assert.equal(sps.value[0].appId, '797f4846-ba00-4fd7-ba43-dac1f8f63013');
      assertGraphError(
        await graph('daemon', 'GET', `/users?$filter=${encodeURIComponent("displayName eq 'unterminated")}`),
        400,
        'Request_BadRequest',
        /unterminated/,
      );
      assertGraphError(
        await graph('daemon', 'GET', `/users?$filter=${encodeURIComponent('shoeSize eq 42')}`),
        400,
        'Request_UnsupportedQuery',
        /property 'shoeSize' of resource 'User'/,
      );
      assertGraphError(await graph('daemon', 'GET', '/users?$top=5000'), 400, 'Request_BadRequest', /page size/);
      assertGraphError(await graph('daemon', 'GET', '/users?$count=true'), 400, 'Request_BadRequest', /ConsistencyLevel/);
    });

    it('resolves nested membership both ways (memberOf, transitiveMemberOf, getMemberGroups, checkMemberGroups)', async () => {
      const member = '55555555-0000-4000-8000-000000000002';
      const direct = (await graph('daemon', 'GET', `/users/${member}/memberOf`)).json().value.map((g: any) => g.displayName);
      assert.deepEqual(direct, ['child']);
      const all = (await graph('daemon', 'GET', `/users/${member}/transitiveMemberOf`))
        .json()
        .value.map((g: any) => g.displayName)
        .sort();
      assert.deepEqual(all, ['child', 'parent']);
      const ids = (await graph('daemon', 'POST', `/users/${member}/getMemberGroups`, { securityEnabledOnly: true })).json().value.sort();
      assert.deepEqual(ids, ['55555555-0000-4000-8000-0000000000a1', '55555555-0000-4000-8000-0000000000a2']);
      // Twice without the filter: the second answer is the shared list's JSON, made once; the same bytes and type.
      const unfiltered: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await graph('daemon', 'POST', `/users/${member}/getMemberGroups`, { securityEnabledOnly: false });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
        assert.match(res.json()['@odata.context'], /^https:\/\/localhost:\d+\/v1\.0\/\$metadata#Collection\(Edm\.String\)$/);
        assert.deepEqual(res.json().value.sort(), ids);
        unfiltered.push(res.text);
      }
      assert.equal(unfiltered[0], unfiltered[1]);
      const check = (
        await graph('daemon', 'POST', `/directoryObjects/${member}/checkMemberGroups`, {
          groupIds: ['55555555-0000-4000-8000-0000000000a1', '55555555-0000-4000-8000-0000000000c9'],
        })
      ).json();
      assert.deepEqual(check.value, ['55555555-0000-4000-8000-0000000000a1']);
      const byUpn = (
        await graph('daemon', 'POST', '/users/member@graphtest.onmicrosoft.com/getMemberObjects', { securityEnabledOnly: false })
      ).json();
      assert.equal(byUpn.value.length, 2);
      const members = (await graph('daemon', 'GET', '/groups/55555555-0000-4000-8000-0000000000a1/transitiveMembers')).json().value;
      assert.deepEqual(members.map((m: any) => m['@odata.type']).sort(), ['#microsoft.graph.group', '#microsoft.graph.user']);
    });

    it('pages memberOf and transitiveMemberOf in id order, and follows membership changes at the next read', async () => {
      const created = await graph('admin', 'POST', '/users', {
        accountEnabled: true,
        displayName: 'Pager',
        mailNickname: 'pager',
        userPrincipalName: 'pager@graphtest.onmicrosoft.com',
        passwordProfile: { password: 'Pager-Passw0rd!' },
      });
      assert.equal(created.status, 201, created.text);
      const userId = created.json().id as string;
      const newGroup = async (name: string) => {
        const res = await graph('admin', 'POST', '/groups', {
          displayName: name,
          mailNickname: name,
          securityEnabled: true,
          mailEnabled: false,
        });
        assert.equal(res.status, 201, res.text);
        return res.json().id as string;
      };
      const addMember = async (groupId: string, memberId: string) =>
        assert.equal(
          (
            await graph('admin', 'POST', `/groups/${groupId}/members/$ref`, {
              '@odata.id': `${k.endpoints.authority}/v1.0/directoryObjects/${memberId}`,
            })
          ).status,
          204,
        );
      const direct = [];
      for (let i = 0; i < 5; i++) direct.push(await newGroup(`pager-direct-${i}`));
      for (const g of direct) await addMember(g, userId);
      const outer = await newGroup('pager-outer');
      await addMember(outer, direct[0]!);
      await addMember(outer, direct[1]!);

      const all = (path: string, headers: Record<string, string> = {}) => pagesOf('daemon', path, headers);
      const byId = (ids: string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const transitive = await all(`/users/${userId}/transitiveMemberOf?$top=2`);
      assert.deepEqual(
        transitive.map((p) => p.value.length),
        [2, 2, 2],
      );
      const listed = transitive.flatMap((p) => p.value);
      assert.deepEqual(
        listed.map((g: any) => g.id),
        byId([...direct, outer]),
        'six groups, each once, in id order across pages',
      );
      assert.ok(listed.every((g: any) => g['@odata.type'] === '#microsoft.graph.group' && g.displayName.startsWith('pager-')));
      assert.deepEqual(
        (await all(`/users/${userId}/memberOf?$top=3`)).flatMap((p) => p.value.map((g: any) => g.id)),
        byId(direct),
      );
      const counted = await all(`/users/${userId}/transitiveMemberOf?$count=true&$top=4&$select=displayName`, {
        consistencylevel: 'eventual',
      });
      assert.deepEqual(
        counted.map((p) => p['@odata.count']),
        [6, 6],
      );
      assert.deepEqual(Object.keys(counted[0].value[0]), ['displayName']);
      const filtered = await all(`/users/${userId}/transitiveMemberOf?$filter=${encodeURIComponent("displayName eq 'pager-outer'")}`);
      assert.deepEqual(
        filtered.flatMap((p) => p.value.map((g: any) => g.id)),
        [outer],
      );

      // Leaving a group, and a group deleted, show at the very next read (the ids are cached per directory revision).
      assert.equal((await graph('admin', 'DELETE', `/groups/${direct[0]}/members/${userId}/$ref`)).status, 204);
      const left = (await all(`/users/${userId}/transitiveMemberOf`)).flatMap((p) => p.value.map((g: any) => g.id));
      assert.deepEqual(left, byId([...direct.slice(1), outer]), 'still in the outer group through the second direct one');
      assert.equal((await graph('admin', 'DELETE', `/groups/${outer}`)).status, 204);
      const afterDelete = (await all(`/users/${userId}/transitiveMemberOf?$top=1`)).flatMap((p) => p.value.map((g: any) => g.id));
      assert.deepEqual(afterDelete, byId(direct.slice(1)));
      assert.equal((await graph('admin', 'DELETE', `/users/${userId}`)).status, 204);
    });

    it("pages a group's members and transitiveMembers in id order (users, nested groups and their members, a service principal), each once, and follows changes at the next read", async () => {
      const post = async (path: string, body: unknown) => {
        const res = await graph('admin', 'POST', path, body);
        assert.ok([201, 204].includes(res.status), res.text);
        return res.status === 201 ? (res.json().id as string) : '';
      };
      const newGroup = (name: string) =>
        post('/groups', { displayName: name, mailNickname: name, securityEnabled: true, mailEnabled: false });
      const newUser = (name: string) =>
        post('/users', {
          accountEnabled: true,
          displayName: name,
          mailNickname: name,
          userPrincipalName: `${name}@graphtest.onmicrosoft.com`,
          passwordProfile: { password: 'Roster-Passw0rd!' },
        });
      const addMember = (groupId: string, memberId: string) =>
        post(`/groups/${groupId}/members/$ref`, { '@odata.id': `${k.endpoints.authority}/v1.0/directoryObjects/${memberId}` });
      const outer = await newGroup('roster-outer');
      const inner = await newGroup('roster-inner');
      const innermost = await newGroup('roster-innermost');
      const users: string[] = [];
      for (let i = 0; i < 4; i++) users.push(await newUser(`roster${i}`));
      const sp = (
        await graph('admin', 'GET', `/servicePrincipals?$filter=${encodeURIComponent("appId eq '55555555-0000-4000-8000-0000000000c1'")}`)
      ).json().value[0].id as string;
      await addMember(outer, users[0]!);
      await addMember(outer, users[1]!);
      await addMember(outer, inner);
      await addMember(outer, sp);
      await addMember(inner, users[1]!); // also a direct member: listed once
      await addMember(inner, users[2]!);
      await addMember(inner, innermost);
      await addMember(innermost, users[3]!);

      const follow = (path: string, headers: Record<string, string> = {}) => pagesOf('daemon', path, headers);
      const byId = (ids: string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const ids = (pages: any[]) => pages.flatMap((p) => p.value.map((o: any) => o.id));
      const direct = await follow(`/groups/${outer}/members?$top=3`);
      assert.deepEqual(
        direct.map((p) => p.value.length),
        [3, 1],
      );
      assert.deepEqual(ids(direct), byId([users[0]!, users[1]!, inner, sp]));
      const transitive = await follow(`/groups/${outer}/transitiveMembers?$top=2`);
      const everyone = byId([...users, inner, innermost, sp]);
      assert.deepEqual(ids(transitive), everyone, 'every member at every depth, each once, in id order across pages');
      assert.deepEqual(
        transitive.map((p) => p.value.length),
        [2, 2, 2, 1],
      );
      const typeOf = new Map(transitive.flatMap((p) => p.value.map((o: any) => [o.id, o['@odata.type']])));
      assert.equal(typeOf.get(sp), '#microsoft.graph.servicePrincipal');
      assert.equal(typeOf.get(innermost), '#microsoft.graph.group');
      assert.equal(typeOf.get(users[3]), '#microsoft.graph.user');
      const named = transitive.flatMap((p) => p.value).find((o: any) => o.id === users[3]);
      assert.equal(named.userPrincipalName, 'roster3@graphtest.onmicrosoft.com');
      const counted = await follow(`/groups/${outer}/transitiveMembers?$count=true&$top=5&$select=id`, { consistencylevel: 'eventual' });
      assert.deepEqual(
        counted.map((p) => p['@odata.count']),
        [7, 7],
      );
      assert.deepEqual(Object.keys(counted[0].value[0]), ['id']);
      const filtered = await follow(`/groups/${outer}/transitiveMembers?$filter=${encodeURIComponent("displayName eq 'roster3'")}`);
      assert.deepEqual(ids(filtered), [users[3]]);

      // A member leaving a nested group, and a user deleted, show at the very next read.
      assert.equal((await graph('admin', 'DELETE', `/groups/${inner}/members/${innermost}/$ref`)).status, 204);
      assert.deepEqual(ids(await follow(`/groups/${outer}/transitiveMembers?$top=3`)), byId([...users.slice(0, 3), inner, sp]));
      assert.equal((await graph('admin', 'DELETE', `/users/${users[0]}`)).status, 204);
      assert.deepEqual(ids(await follow(`/groups/${outer}/members`)), byId([users[1]!, inner, sp]));
      for (const u of users.slice(1)) assert.equal((await graph('admin', 'DELETE', `/users/${u}`)).status, 204);
      for (const g of [outer, inner, innermost]) assert.equal((await graph('admin', 'DELETE', `/groups/${g}`)).status, 204);
    });

    it('pages users, groups, applications and service principals by key: the same objects as one counted read, in order, each once', async () => {
      const follow = async (path: string) => {
        const ids: string[] = [];
        const pages: any[] = [];
        let next: string | undefined = `${k.endpoints.authority}/v1.0${path}`;
        while (next) {
          const res = await httpsFetch(next, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${tokens.admin}` } });
          assert.equal(res.status, 200, res.text);
          pages.push(res.json());
          ids.push(...res.json().value.map((o: any) => o.id));
          next = res.json()['@odata.nextLink'];
          if (next) assert.match(next, /^https:\/\/localhost:\d+\/v1\.0\/[A-Za-z]+\?\$top=\d+(&\$select=[\w%]+)?&\$skiptoken=[\w-]+$/);
        }
        return { ids, pages };
      };
      // One read of everything, counted (ConsistencyLevel: eventual), which reads the whole collection.
      const counted = async (collection: string) => {
        const res = await graph('admin', 'GET', `/${collection}?$count=true&$top=999&$select=id`, undefined, {
          consistencylevel: 'eventual',
        });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json()['@odata.count'], res.json().value.length);
        return res.json().value.map((o: any) => o.id) as string[];
      };
      for (const [collection, top] of [
        ['groups', 2],
        ['users', 1],
        ['applications', 1],
        ['servicePrincipals', 3],
      ] as const) {
        const all = await counted(collection);
        const { ids, pages } = await follow(`/${collection}?$top=${top}`);
        assert.deepEqual(ids, all, `${collection}: every object once, in the store's order`);
        assert.ok(pages.length >= Math.ceil(all.length / top), `${collection}: ${pages.length} pages of ${top}`);
        assert.ok(pages.every((p) => p.value.length <= top));
      }
      // First-party applications are never listed, on any page; their service principals are.
      const firstParty = ['04b07795-8ddb-461a-bbee-02f9e1bf7b46', '00000003-0000-0000-c000-000000000000'];
      const appIds = async (path: string) => (await follow(path)).pages.flatMap((p) => p.value.map((o: any) => o.appId as string));
      const listedApps = await appIds('/applications?$top=1&$select=id,appId');
      assert.ok(listedApps.includes('55555555-0000-4000-8000-0000000000c1'));
      assert.ok(!listedApps.some((a) => firstParty.includes(a)), listedApps.join());
      assert.ok((await appIds('/servicePrincipals?$top=2&$select=id,appId')).some((a) => firstParty.includes(a)));
      // A user page by key keeps Graph's default properties, or $select's.
      const users = await follow('/users?$top=2&$select=id,userPrincipalName');
      assert.ok(users.pages.flatMap((p) => p.value).every((u: any) => Object.keys(u).join() === 'id,userPrincipalName'));
      const byDefault = (await graph('admin', 'GET', '/users?$top=1')).json();
      assert.ok('businessPhones' in byDefault.value[0] && !('accountEnabled' in byDefault.value[0]));

      // A keyed $skiptoken is only taken where it was made; a made-up one is refused.
      const keyed = new URL(byDefault['@odata.nextLink']).searchParams.get('$skiptoken')!;
      const member = '55555555-0000-4000-8000-000000000002';
      for (const path of [
        `/users?$skiptoken=${keyed}&$filter=${encodeURIComponent("startswith(displayName,'a')")}`,
        `/users?$skiptoken=${keyed}&$count=true`,
        `/users/${member}/memberOf?$skiptoken=${keyed}`,
        `/groups?$skiptoken=${Buffer.from('after:').toString('base64url')}`,
        `/groups?$skiptoken=${Buffer.from('12abc').toString('base64url')}`,
        '/groups?$skiptoken=zz9-',
      ]) {
        assertGraphError(
          await graph('admin', 'GET', path, undefined, { consistencylevel: 'eventual' }),
          400,
          'Request_BadRequest',
          /skiptoken is not valid/,
        );
      }
    });

    it('refuses a membership cycle and changes nothing', async () => {
      const res = await graph('admin', 'POST', '/groups/55555555-0000-4000-8000-0000000000a2/members/$ref', {
        '@odata.id': `${k.endpoints.graphEndpoint}v1.0/directoryObjects/55555555-0000-4000-8000-0000000000a1`,
      });
      assertGraphError(res, 400, 'Request_BadRequest', /membership cycle/);
      const members = (await graph('daemon', 'GET', '/groups/55555555-0000-4000-8000-0000000000a2/members')).json().value;
      assert.equal(members.length, 1);
    });

    it('enforces permissions: a reader app cannot write, a plain member cannot create users, an admin can', async () => {
      const user = {
        accountEnabled: true,
        displayName: 'New',
        mailNickname: 'new',
        userPrincipalName: 'new@graphtest.onmicrosoft.com',
        passwordProfile: { password: 'New-Passw0rd!' },
      };
      assertGraphError(await graph('daemon', 'POST', '/users', user), 403, 'Authorization_RequestDenied', /Insufficient privileges/);
      assertGraphError(await graph('member', 'POST', '/users', user), 403, 'Authorization_RequestDenied');
      const created = await graph('admin', 'POST', '/users', user);
      assert.equal(created.status, 201, created.text);
      assert.equal(created.json().userPrincipalName, user.userPrincipalName);
      // A new user can sign in with the password set through Graph.
      const signIn = await postForm(
        `${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`,
        {
          client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
          grant_type: 'password',
          username: user.userPrincipalName,
          password: 'New-Passw0rd!',
          scope: 'https://management.azure.com/.default',
        },
        k.endpoints.caFile,
      );
      assert.equal(signIn.status, 200);
      assertGraphError(await graph('admin', 'POST', '/users', user), 400, 'Request_BadRequest', /userPrincipalName already exists/);
      assertGraphError(
        await graph('admin', 'POST', '/users', { ...user, userPrincipalName: 'x@not-ours.example' }),
        400,
        'Request_BadRequest',
        /not a verified domain/,
      );
      assertGraphError(
        await graph('admin', 'POST', '/users', { ...user, userPrincipalName: 'y@graphtest.onmicrosoft.com', shoeSize: 42 }),
        400,
        'Request_BadRequest',
        /'shoeSize' does not exist/,
      );
      assertGraphError(await graph('admin', 'POST', '/users', '{not json'), 400, 'Request_BadRequest');
      assertGraphError(await graph('admin', 'GET', '/groups/not-a-guid'), 400, 'Request_BadRequest', /Invalid object identifier/);
      assertGraphError(
        await graph('admin', 'GET', '/users/11111111-2222-4333-8444-555555555555'),
        404,
        'Request_ResourceNotFound',
        /does not exist/,
      );
      // Members may create groups and manage the ones they own, as Entra allows by default.
      const mine = await graph('member', 'POST', '/groups', {
        displayName: 'mine',
        mailNickname: 'mine',
        mailEnabled: false,
        securityEnabled: true,
      });
      assert.equal(mine.status, 201, mine.text);
      assert.equal((await graph('member', 'PATCH', `/groups/${mine.json().id}`, { description: 'owned' })).status, 204);
      assertGraphError(
        await graph('member', 'PATCH', '/groups/55555555-0000-4000-8000-0000000000a1', { description: 'not mine' }),
        403,
        'Authorization_RequestDenied',
      );
      const owned = (await graph('member', 'GET', '/me/ownedObjects')).json().value;
      assert.deepEqual(
        owned.map((o: any) => o.displayName),
        ['mine'],
      );
    });

    it("addresses an application and its service principal by appId as Graph documents it: /applications(appId='…')", async () => {
      const created = await graph('admin', 'POST', '/applications', { displayName: 'by-app-id' });
      assert.equal(created.status, 201, created.text);
      const { id, appId } = created.json();
      const sp = await graph('admin', 'POST', '/servicePrincipals', { appId });
      assert.equal(sp.status, 201, sp.text);
      const key = `(appId='${appId}')`;

      // The same object as by its object id, with $select, and with the key's characters percent-encoded.
      const byId = await graph('admin', 'GET', `/applications/${id}`);
      const byAppId = await graph('admin', 'GET', `/applications${key}`);
      assert.equal(byAppId.status, 200, byAppId.text);
      assert.deepEqual(byAppId.json(), byId.json());
      const selected = await graph('daemon', 'GET', `/applications${key}?$select=displayName,appId`);
      assert.equal(selected.status, 200, selected.text);
      assert.deepEqual(
        { displayName: selected.json().displayName, appId: selected.json().appId, id: selected.json().id },
        { displayName: 'by-app-id', appId, id: undefined },
      );
      const encoded = await graph('admin', 'GET', `/applications${encodeURIComponent(key).replace(/'/g, '%27')}`);
      assert.equal(encoded.status, 200, encoded.text);
      assert.equal(encoded.json().id, id);
      const spByAppId = await graph('daemon', 'GET', `/servicePrincipals${key}`);
      assert.equal(spByAppId.status, 200, spByAppId.text);
      assert.deepEqual([spByAppId.json().id, spByAppId.json().appId], [sp.json().id, appId]);

      // Writes and the paths below the key take the same form.
      assert.equal((await graph('admin', 'PATCH', `/applications${key}`, { displayName: 'renamed by appId' })).status, 204);
      assert.equal((await graph('admin', 'GET', `/applications/${id}`)).json().displayName, 'renamed by appId');
      const secret = await graph('admin', 'POST', `/applications${key}/addPassword`, { passwordCredential: { displayName: 'k' } });
      assert.equal(secret.status, 200, secret.text);
      const owners = await graph('admin', 'GET', `/servicePrincipals${key}/owners`);
      assert.equal(owners.status, 200, owners.text);
      assert.deepEqual(owners.json().value, []);

      // An appId nobody has, and a key that is not one, are Graph's 404; never another object.
      const unknown = `(appId='${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}')`;
      assertGraphError(await graph('admin', 'GET', `/applications${unknown}`), 404, 'Request_ResourceNotFound');
      assertGraphError(await graph('admin', 'GET', `/servicePrincipals${unknown}`), 404, 'Request_ResourceNotFound');
      assertGraphError(await graph('admin', 'GET', `/applications(displayName='by-app-id')`), 404, 'Request_ResourceNotFound');

      assert.equal((await graph('admin', 'DELETE', `/servicePrincipals${key}`)).status, 204);
      assert.equal((await graph('admin', 'DELETE', `/applications${key}`)).status, 204);
      assertGraphError(await graph('admin', 'GET', `/applications/${id}`), 404, 'Request_ResourceNotFound');
      assertGraphError(await graph('admin', 'GET', `/applications${key}`), 404, 'Request_ResourceNotFound');
    });

    it("upserts an application by uniqueName as Graph documents it: PATCH /applications(uniqueName='…') with Prefer: create-if-missing", async () => {
      const key = "(uniqueName='Build-Agent''s-app')"; // an OData string: the quote is doubled
      const prefer = { prefer: 'create-if-missing' };
      // Without the preference a name nobody has is Graph's 404, and nothing is created.
      assertGraphError(await graph('admin', 'PATCH', `/applications${key}`, { displayName: 'agent' }), 404, 'Request_ResourceNotFound');
      assertGraphError(await graph('admin', 'GET', `/applications${key}`), 404, 'Request_ResourceNotFound');
      // With it: created (201, the application with its uniqueName), as POST /applications would create it.
      const created = await graph('admin', 'PATCH', `/applications${key}`, { displayName: 'agent', notes: 'first' }, prefer);
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(
        [created.json().displayName, created.json().notes, created.json().uniqueName],
        ['agent', 'first', "Build-Agent's-app"],
      );
      assert.equal(created.json()['@odata.context'], `${k.endpoints.authority}/v1.0/$metadata#applications/$entity`);
      const { id, appId } = created.json();
      // Again: the same application, updated (204); its name found in any case, by GET and the list.
      assert.equal((await graph('admin', 'PATCH', `/applications${key}`, { displayName: 'agent, renamed' }, prefer)).status, 204);
      assert.equal(
        (
          await graph(
            'admin',
            'PATCH',
            "/applications(uniqueName='build-agent''s-APP')",
            { notes: 'second' },
            { prefer: 'return=minimal, create-if-missing' },
          )
        ).status,
        204,
      );
      const byName = await graph('daemon', 'GET', `/applications${key}?$select=id,displayName,notes,uniqueName`);
      assert.equal(byName.status, 200, byName.text);
      assert.deepEqual(
        [byName.json().id, byName.json().displayName, byName.json().notes, byName.json().uniqueName],
        [id, 'agent, renamed', 'second', "Build-Agent's-app"],
      );
      assert.equal((await graph('admin', 'GET', `/applications/${id}`)).json().uniqueName, "Build-Agent's-app");
      assert.equal((await graph('admin', 'GET', `/applications(appId='${appId}')`)).json().uniqueName, "Build-Agent's-app");
      const listed = (await graph('admin', 'GET', '/applications')).json().value as { id: string; uniqueName: string | null }[];
      assert.deepEqual(
        listed.filter((a) => a.uniqueName !== null).map((a) => [a.id, a.uniqueName]),
        [[id, "Build-Agent's-app"]],
      );
      const filtered = await graph('admin', 'GET', `/applications?$filter=${encodeURIComponent("uniqueName eq 'build-agent''s-app'")}`);
      assert.equal(filtered.status, 200, filtered.text);
      assert.deepEqual(
        filtered.json().value.map((a: { id: string }) => a.id),
        [id],
      );
      // The paths below the name take it too; a body may repeat the name, never change it.
      const secret = await graph('admin', 'POST', `/applications${key}/addPassword`, { passwordCredential: { displayName: 'k' } });
      assert.equal(secret.status, 200, secret.text);
      assert.equal((await graph('admin', 'PATCH', `/applications/${id}`, { uniqueName: "BUILD-AGENT'S-APP" })).status, 204);
      assertGraphError(await graph('admin', 'PATCH', `/applications/${id}`, { uniqueName: 'another' }), 400, 'Request_BadRequest');
      // Another name is another application; DELETE by name removes this one.
      const second = await graph('admin', 'PATCH', "/applications(uniqueName='other-agent')", { displayName: 'other' }, prefer);
      assert.equal(second.status, 201, second.text);
      assert.notEqual(second.json().id, id);
      assert.equal((await graph('admin', 'DELETE', `/applications${key}`)).status, 204);
      assertGraphError(await graph('admin', 'GET', `/applications/${id}`), 404, 'Request_ResourceNotFound');
      assert.equal((await graph('admin', 'GET', "/applications(uniqueName='other-agent')")).json().id, second.json().id);
      assert.equal((await graph('admin', 'DELETE', `/applications/${second.json().id}`)).status, 204);

      // Upserts of one new name at once: one creates it (201), the others update it (204); one application.
      const racing = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          graph('admin', 'PATCH', "/applications(uniqueName='raced')", { displayName: 'raced', notes: `upsert ${i}` }, prefer),
        ),
      );
      assert.deepEqual(racing.map((res) => res.status).sort(), [201, 204, 204, 204, 204, 204], racing.map((res) => res.text).join('\n'));
      const raced = (await graph('admin', 'GET', '/applications'))
        .json()
        .value.filter((a: { uniqueName: string | null }) => a.uniqueName === 'raced');
      assert.equal(raced.length, 1);
      assert.match(raced[0].notes, /^upsert [0-5]$/);
      assert.equal((await graph('admin', 'DELETE', "/applications(uniqueName='raced')")).status, 204);
    });

    it('deletes a group an administrator names, and refuses an unauthenticated or foreign token', async () => {
      assert.equal((await graph('admin', 'DELETE', '/groups/55555555-0000-4000-8000-0000000000a2')).status, 204);
      assertGraphError(await graph('daemon', 'GET', '/groups/55555555-0000-4000-8000-0000000000a2'), 404, 'Request_ResourceNotFound');
      const anonymous = await httpsFetch(`${k.endpoints.authority}/v1.0/users`, { caFile: k.endpoints.caFile });
      assertGraphError(anonymous, 401, 'InvalidAuthenticationToken');
      const armToken = await token({
        client_id: '55555555-0000-4000-8000-0000000000c1',
        client_secret: 'reader-daemon-secret-0123456789',
        grant_type: 'client_credentials',
        scope: 'https://management.azure.com/.default',
      });
      const wrongAudience = await httpsFetch(`${k.endpoints.authority}/v1.0/users`, {
        caFile: k.endpoints.caFile,
        headers: { authorization: `Bearer ${armToken}` },
      });
      assertGraphError(wrongAudience, 401, 'InvalidAuthenticationToken', /audience/);
    });
  });
}
