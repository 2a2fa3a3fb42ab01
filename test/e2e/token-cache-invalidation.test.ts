import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from '../../src/identity/index.js';
import { packageSkip } from '../support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../support/postgres.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Issue 17: each instance caches what a client-credentials token reads (client, service principal,
// secrets, resource, app role assignments), checked against the store's directory revision. A change
// made through one instance must be honoured by the very next token on another instance sharing the
// store: two `kentra up` on one PostgreSQL; B issues tokens (its cache is warm), A changes the
// directory through Graph, and B's next token request sees the change. Graph's caller (user, roles,
// tenant) and its member actions (getMemberGroups, checkMemberGroups) read through the same cache:
// a user disabled or a membership changed on A is seen by B's next Graph request. ARM reads its caller's
// groups and role assignments, and the subscription, through it too: a role assignment or a membership
// changed on A counts at B's next ARM request.

const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');
const D = 'kentra.onmicrosoft.com';
const API_APP = '5e5e5e5e-0000-4000-8000-00000000a001';
const WORKER_APP = '5e5e5e5e-0000-4000-8000-00000000b001';
const ROLE = '5e5e5e5e-0000-4000-8000-00000000c001';
const KEY1 = '5e5e5e5e-0000-4000-8000-00000000d001';
const KEY2 = '5e5e5e5e-0000-4000-8000-00000000d002';
const SECRET1 = 'w1~first-secret-of-the-worker-0123456789';
const SECRET2 = 'w2~second-secret-of-the-worker-012345678';
const SEED = `
tenants:
  - domain: ${D}
    applications:
      - displayName: jobs-api
        appId: ${API_APP}
        identifierUris: [api://jobs]
        appRoles: [{ value: Jobs.Run, id: ${ROLE}, allowedMemberTypes: [Application] }]
        servicePrincipal: true
      - displayName: worker
        appId: ${WORKER_APP}
        secrets: [{ value: '${SECRET1}', keyId: ${KEY1} }, { value: '${SECRET2}', keyId: ${KEY2} }]
        requiredResourceAccess: [{ resourceAppId: ${API_APP}, resourceAccess: [{ id: ${ROLE}, type: Role }] }]
        adminConsent: true
        servicePrincipal: true
`;

interface Res {
  status: number;
  text: string;
  json(): any;
}

function call(url: string, ca: string, opts: { method?: string; json?: unknown; form?: Record<string, string>; token?: string } = {}) {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.json !== undefined ? JSON.stringify(opts.json) : undefined;
  const headers: Record<string, string> = {
    ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
  return new Promise<Res>((resolve, reject) => {
    const req = httpsRequest(url, { method: opts.method ?? (body ? 'POST' : 'GET'), headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe(
  "a directory change on one instance is honoured by the next token on another (issue 17's token cache)",
  { skip, timeout: 120_000 },
  () => {
    let pg: TestPostgres;
    let a: TestKentra;
    let b: TestKentra;
    let dataDir: string;
    let ca: string;
    let admin: string;
    const origin = (k: TestKentra) => `https://localhost:${k.port}`;
    const workerToken = (k: TestKentra, secret: string) =>
      call(`${origin(k)}/${k.endpoints.tenantId}/oauth2/v2.0/token`, ca, {
        form: { grant_type: 'client_credentials', client_id: WORKER_APP, client_secret: secret, scope: 'api://jobs/.default' },
      });
    const graph = (method: string, path: string, json?: unknown) => call(`${origin(a)}/v1.0${path}`, ca, { method, json, token: admin });
    /** A user made through Graph on A, with a password for its own sign-in; its object id. */
    const newUser = async (nickname: string, displayName: string, password: string) => {
      const created = await graph('POST', '/users', {
        accountEnabled: true,
        displayName,
        mailNickname: nickname,
        userPrincipalName: `${nickname}@${D}`,
        passwordProfile: { password, forceChangePasswordNextSignIn: false },
      });
      assert.equal(created.status, 201, created.text);
      return created.json().id as string;
    };
    /** A security group made through Graph on A; its object id. */
    const newGroup = async (name: string) => {
      const g = await graph('POST', '/groups', { displayName: name, mailNickname: name, securityEnabled: true, mailEnabled: false });
      assert.equal(g.status, 201, g.text);
      return g.json().id as string;
    };

    before(async () => {
      if (skip) return;
      pg = await startPostgres();
      const store = await pg.newDatabase();
      dataDir = mkdtempSync(join(tmpdir(), 'kentra-token-cache-'));
      a = await startTestKentra({ store, dataDir, seed: SEED });
      b = await startTestKentra({ store, dataDir });
      ca = readFileSync(a.endpoints.caFile, 'utf8');
      const res = await call(`${origin(a)}/${a.endpoints.tenantId}/oauth2/v2.0/token`, ca, {
        form: {
          grant_type: 'password',
          client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
          username: a.endpoints.admin.userPrincipalName,
          password: a.endpoints.admin.password,
          scope: 'https://graph.microsoft.com/.default',
        },
      });
      assert.equal(res.status, 200, res.text);
      admin = res.json().access_token;
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await pg?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('removing an app role assignment, a secret, and disabling the service principal on A: the next token on B reflects each', async () => {
      // B serves the worker twice per secret: everything the token reads is now in B's cache.
      for (const secret of [SECRET1, SECRET2, SECRET1, SECRET2]) {
        const res = await workerToken(b, secret);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(decodeJwt(res.json().access_token).payload.roles, ['Jobs.Run']);
      }
      const sp = (await graph('GET', `/servicePrincipals/(appId='${WORKER_APP}')`)).json();
      assert.ok(sp.id, 'the worker has a service principal');

      // 1. The app role assignment goes (on A): B's next token carries no role.
      const assignments = (await graph('GET', `/servicePrincipals/${sp.id}/appRoleAssignments`)).json().value as { id: string }[];
      assert.equal(assignments.length, 1);
      assert.equal((await graph('DELETE', `/servicePrincipals/${sp.id}/appRoleAssignments/${assignments[0]!.id}`)).status, 204);
      const noRole = await workerToken(b, SECRET1);
      assert.equal(noRole.status, 200, noRole.text);
      assert.equal(decodeJwt(noRole.json().access_token).payload.roles, undefined, 'the removed role is not in the token');

      // 2. The first secret is removed from the application (on A): B refuses it at once, the other still works.
      const app = (await graph('GET', `/applications/(appId='${WORKER_APP}')`)).json();
      assert.equal((await graph('POST', `/applications/${app.id}/removePassword`, { keyId: KEY1 })).status, 204);
      const removed = await workerToken(b, SECRET1);
      assert.equal(removed.status, 401, removed.text);
      assert.equal(removed.json().error, 'invalid_client');
      assert.match(removed.json().error_description, /^AADSTS7000215:/);
      assert.equal((await workerToken(b, SECRET2)).status, 200);

      // 3. The service principal is disabled (on A): B refuses the worker, with Entra's error.
      assert.equal((await graph('PATCH', `/servicePrincipals/${sp.id}`, { accountEnabled: false })).status, 204);
      const disabled = await workerToken(b, SECRET2);
      assert.equal(disabled.status, 400, disabled.text);
      assert.equal(disabled.json().error, 'unauthorized_client');
      assert.match(disabled.json().error_description, /^AADSTS7000112:/);

      // And back: enabled again on A, B issues again.
      assert.equal((await graph('PATCH', `/servicePrincipals/${sp.id}`, { accountEnabled: true })).status, 204);
      assert.equal((await workerToken(b, SECRET2)).status, 200);
    });

    it("Graph on B: a membership changed and a user disabled on A are seen by B's next request", async () => {
      const onB = (method: string, path: string, json?: unknown, token = admin) =>
        call(`${origin(b)}/v1.0${path}`, ca, { method, json, token });
      const password = 'Cache-Passw0rd!2026';
      const userId = await newUser('cachedmember', 'Cached Member', password);
      const [g1, g2] = [await newGroup('cache-one'), await newGroup('cache-two')];
      const add = async (groupId: string) =>
        assert.equal(
          (
            await graph('POST', `/groups/${groupId}/members/$ref`, {
              '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}`,
            })
          ).status,
          204,
        );
      await add(g1);
      const groupsOnB = async () => {
        const res = await onB('POST', `/users/${userId}/getMemberGroups`, { securityEnabledOnly: false });
        assert.equal(res.status, 200, res.text);
        return (res.json().value as string[]).sort();
      };
      // Twice: the second answer comes from B's cache.
      assert.deepEqual(await groupsOnB(), [g1]);
      assert.deepEqual(await groupsOnB(), [g1]);

      await add(g2);
      assert.deepEqual(await groupsOnB(), [g1, g2].sort(), "a membership added on A is in B's next answer");
      assert.equal((await graph('DELETE', `/groups/${g1}/members/${userId}/$ref`)).status, 204);
      assert.deepEqual(await groupsOnB(), [g2], "a membership removed on A is gone from B's next answer");
      const check = await onB('POST', `/users/${userId}/checkMemberGroups`, { groupIds: [g1, g2] });
      assert.deepEqual(check.json().value, [g2]);

      // The user calls Graph on B with a token of its own, twice (B caches the user), then is disabled on A.
      const token = await call(`${origin(a)}/${a.endpoints.tenantId}/oauth2/v2.0/token`, ca, {
        form: {
          grant_type: 'password',
          client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
          username: `cachedmember@${D}`,
          password,
          scope: 'https://graph.microsoft.com/.default',
        },
      });
      assert.equal(token.status, 200, token.text);
      const userToken = token.json().access_token as string;
      for (let i = 0; i < 2; i++) {
        const me = await onB('POST', '/me/getMemberGroups', { securityEnabledOnly: false }, userToken);
        assert.equal(me.status, 200, me.text);
        assert.deepEqual(me.json().value, [g2]);
      }
      assert.equal((await graph('PATCH', `/users/${userId}`, { accountEnabled: false })).status, 204);
      const refused = await onB('POST', '/me/getMemberGroups', { securityEnabledOnly: false }, userToken);
      assert.equal(refused.status, 401, refused.text);
      assert.equal(refused.json().error.code, 'InvalidAuthenticationToken');
      assert.match(refused.json().error.message, /disabled or was deleted/);
    });

    it("ARM on B: a group's role assignment and the user's membership in it, each changed on A, count at B's next request", async () => {
      const password = 'Arm-Cache-Passw0rd!2026';
      const userId = await newUser('armreader', 'ARM Reader', password);
      const groupId = await newGroup('arm-readers');
      const armToken = async (form: Record<string, string>) => {
        const res = await call(`${origin(a)}/${a.endpoints.tenantId}/oauth2/v2.0/token`, ca, {
          form: { scope: 'https://management.azure.com/.default', ...form },
        });
        assert.equal(res.status, 200, res.text);
        return res.json().access_token as string;
      };
      const owner = await armToken({
        grant_type: 'client_credentials',
        client_id: a.endpoints.servicePrincipal.appId,
        client_secret: a.endpoints.servicePrincipal.secret,
      });
      const reader = await armToken({
        grant_type: 'password',
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        username: `armreader@${D}`,
        password,
      });
      const sub = `/subscriptions/${a.endpoints.subscriptionId}`;
      const rg = `${sub}/resourceGroups/rg-cache`;
      const assignment = `${rg}/providers/Microsoft.Authorization/roleAssignments/5e5e5e5e-0000-4000-8000-00000000e001`;
      const arm = (k: TestKentra, token: string, method: string, path: string, json?: unknown) =>
        call(`${origin(k)}${path}?api-version=2022-04-01`, ca, { method, json, token });
      assert.equal((await arm(a, owner, 'PUT', rg, { location: 'eastus' })).status, 201);
      const readOnB = async (expected: 200 | 403) => {
        // Twice: the second answer is from B's cache.
        for (let i = 0; i < 2; i++) {
          const res = await arm(b, reader, 'GET', rg);
          assert.equal(res.status, expected, res.text);
          if (expected === 403) assert.equal(res.json().error.code, 'AuthorizationFailed');
          else assert.equal(res.json().id, rg);
        }
      };
      const membership = (method: 'POST' | 'DELETE') =>
        method === 'POST'
          ? graph('POST', `/groups/${groupId}/members/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}` })
          : graph('DELETE', `/groups/${groupId}/members/${userId}/$ref`);
      await readOnB(403);
      const readerRole = `${sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`;
      const put = await arm(a, owner, 'PUT', assignment, { properties: { roleDefinitionId: readerRole, principalId: groupId } });
      assert.equal(put.status, 201, put.text);
      await readOnB(403); // the group may read, the user is not in it yet
      assert.equal((await membership('POST')).status, 204);
      await readOnB(200);
      assert.equal((await membership('DELETE')).status, 204);
      await readOnB(403);
      assert.equal((await membership('POST')).status, 204);
      await readOnB(200);
      assert.equal((await arm(a, owner, 'DELETE', assignment)).status, 200);
      await readOnB(403);
    });
  },
);
