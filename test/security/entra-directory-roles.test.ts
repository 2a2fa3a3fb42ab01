import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Entra's directory role model, as a matrix over the real `kentra up`: each directory role Kentra
// knows (plus a plain member and app-only callers) × each Graph write Kentra implements. Expected
// outcomes are reference/security.md §4 (DOC PRIV, PERMREF, DEFPERM, CONSENT, G-APP). A refusal is
// Graph's 403 Authorization_RequestDenied and changes nothing; an allowed write is seen to happen.

const TENANT = '66666666-6666-4666-8666-666666666666';
const DOMAIN = 'roles.onmicrosoft.com';
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
const GRAPH_USER_READ_ALL_ROLE = 'df021288-bdef-4463-88db-98f22de89214';
const API_APP_ID = '66666666-0000-4000-8000-00000000a0a0';
const API_ROLE_ID = '66666666-0000-4000-8000-00000000a0a1';

/** Directory role template ids (security.md §4.1). */
const ROLE = {
  'Global Administrator': '62e90394-69f5-4237-9190-012177145e10',
  'Privileged Role Administrator': 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  'Privileged Authentication Administrator': '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  'Authentication Administrator': 'c4e39bd9-1100-46d3-8c65-fb160da0071f',
  'User Administrator': 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  'Helpdesk Administrator': '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  'Password Administrator': '966707d0-3269-4727-9be2-8c3a10f19b9d',
  'Application Administrator': '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  'Cloud Application Administrator': '158c047a-c907-4556-b7ef-446551a6b5f7',
  'Groups Administrator': 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  'Directory Readers': '88d8e3e3-8f55-4a1e-953a-9b9898b8876b',
  'Guest Inviter': '95e79109-95c0-4d8e-aee3-d01accf2d47b',
  'Reports Reader': '4a5d8f65-41da-4de4-8968-e035b65339cf',
  'a custom role': '66666666-0000-4000-8000-00000000c0de',
} as const;
type RoleName = keyof typeof ROLE;

// ---- the callers of the matrix ----------------------------------------------------------------

const DELEGATED = [
  'Global Administrator',
  'User Administrator',
  'Application Administrator',
  'Groups Administrator',
  'Directory Readers',
  'plain member',
] as const;
const APP_ONLY = {
  'app with Directory.Read.All only': 'Directory.Read.All',
  'app with User.ReadWrite.All': 'User.ReadWrite.All',
  'app with Group.ReadWrite.All': 'Group.ReadWrite.All',
  'app with Application.ReadWrite.All': 'Application.ReadWrite.All',
  'app with Directory.ReadWrite.All': 'Directory.ReadWrite.All',
  'app with Application.ReadWrite.OwnedBy': 'Application.ReadWrite.OwnedBy',
  'app with AppRoleAssignment.ReadWrite.All': 'AppRoleAssignment.ReadWrite.All',
  'app with DelegatedPermissionGrant.ReadWrite.All': 'DelegatedPermissionGrant.ReadWrite.All',
} as const;
type ActorName = (typeof DELEGATED)[number] | keyof typeof APP_ONLY;
const ACTORS = [...DELEGATED, ...Object.keys(APP_ONLY)] as ActorName[];
const appIdOf = (i: number) => `66666666-0000-4000-8000-0000000000${(0xb0 + i).toString(16)}`;
const upnOf = (name: string) => `${name.toLowerCase().replace(/[^a-z]+/g, '-')}@${DOMAIN}`;
const PASSWORD = 'Roles-Passw0rd!';

// Targets that hold roles can only come from the seed (Kentra's Graph has no role-assignment write).
// (Groups and Application Administrators reset no one's password: the matrix below shows it on a plain user.)
const PASSWORD_ACTORS: RoleName[] = [
  'Password Administrator',
  'Helpdesk Administrator',
  'Authentication Administrator',
  'User Administrator',
  'Privileged Authentication Administrator',
  'Global Administrator',
];
const TARGET_ROLES: (RoleName | 'no role')[] = [
  'no role',
  'Directory Readers',
  'Guest Inviter',
  'Reports Reader',
  'Password Administrator',
  'Helpdesk Administrator',
  'Authentication Administrator',
  'User Administrator',
  'Groups Administrator',
  'Privileged Authentication Administrator',
  'Privileged Role Administrator',
  'Global Administrator',
  'Application Administrator',
  'a custom role',
];
const targetUpn = (role: string) => `target-${role.toLowerCase().replace(/[^a-z]+/g, '-')}@${DOMAIN}`;
const GA_TARGETS = 29;

const SEED = `
tenants:
  - domain: ${DOMAIN}
    id: ${TENANT}
    users:
${DELEGATED.map((name) => `      - { userPrincipalName: ${upnOf(name)}, password: '${PASSWORD}'${name === 'plain member' ? '' : `, directoryRoles: ['${name}']`} }`).join('\n')}
${PASSWORD_ACTORS.filter((r) => !(DELEGATED as readonly string[]).includes(r))
  .map((r) => `      - { userPrincipalName: ${upnOf(r)}, password: '${PASSWORD}', directoryRoles: ['${ROLE[r]}'] }`)
  .join('\n')}
${TARGET_ROLES.map((r) => `      - { userPrincipalName: ${targetUpn(r)}, password: '${PASSWORD}'${r === 'no role' ? '' : `, directoryRoles: ['${ROLE[r]}']`} }`).join('\n')}
${Array.from({ length: GA_TARGETS }, (_, i) => `      - { userPrincipalName: ga-target-${i}@${DOMAIN}, password: '${PASSWORD}', directoryRoles: ['Global Administrator'] }`).join('\n')}
      - { userPrincipalName: ga-shared@${DOMAIN}, password: '${PASSWORD}', directoryRoles: ['Global Administrator'] }
      - { userPrincipalName: member-fodder@${DOMAIN}, password: '${PASSWORD}' }
    applications:
${Object.values(APP_ONLY)
  .map(
    (perm, i) =>
      `      - { displayName: 'daemon ${perm}', appId: ${appIdOf(i)}, secrets: ['daemon-secret-${i}-0123456789abcdef'], graphPermissions: { application: [${perm}] }, adminConsent: true }`,
  )
  .join('\n')}
      - displayName: orders-api
        appId: ${API_APP_ID}
        identifierUris: ['api://orders']
        scopes: [{ value: Orders.Read }]
        appRoles: [{ value: Orders.ReadWrite.All, id: ${API_ROLE_ID}, allowedMemberTypes: [Application] }]
`;

interface Actor {
  name: ActorName | RoleName;
  token: string;
  objectId: string;
  kind: 'user' | 'app';
}

/** A case's result: the response, and whether the write it asked for can be seen afterwards. */
interface Outcome {
  res: HttpResponse;
  happened: () => Promise<boolean>;
}

interface Write {
  /** The action as a test name reads it: "<actor> can|cannot <title>". */
  title: string;
  /** It writes to one shared target: its cases run one at a time. */
  shared?: boolean;
  success: number;
  allowed: readonly ActorName[];
  run(actor: Actor): Promise<Outcome>;
}

const ALL_USERS = DELEGATED;

describe('Entra directory roles × Graph writes (security.md §4)', { timeout: 600_000 }, () => {
  let k: TestKentra;
  const actors = new Map<string, Actor>();
  let ga: Actor;
  let graphSpId: string;
  let memberFodderId: string;
  let apiSpId: string;
  const passwords = new Map<string, string>();
  let seq = 0;
  const unique = (what: string) => `${what}-${process.pid}-${++seq}`;

  // The matrix signs in a few hundred times: the token requests come from several loopback addresses,
  // as from several clients, so that Kentra's per-address sign-in limit (60 per 15 minutes) holds.
  let sourceAddress = 0;
  const tokenRequest = (fields: Record<string, string>): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams({ scope: 'https://graph.microsoft.com/.default', ...fields }).toString();
      const req = httpsRequest(
        `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
        {
          method: 'POST',
          ca: readFileSync(k.endpoints.caFile),
          family: 4,
          localAddress: `127.0.${1 + (sourceAddress >> 5)}.${2 + (sourceAddress++ % 32)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const token = async (fields: Record<string, string>) => {
    const res = await tokenRequest(fields);
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text).access_token as string;
  };
  const userToken = (upn: string) =>
    token({ client_id: AZURE_CLI, grant_type: 'password', username: upn, password: passwords.get(upn) ?? PASSWORD });
  const graph = (who: Actor, method: string, path: string, body?: unknown): Promise<HttpResponse> =>
    httpsFetch(`${k.endpoints.authority}/v1.0${path}`, {
      method,
      caFile: k.endpoints.caFile,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${who.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    });
  const ok = async (res: Promise<HttpResponse>, status = 200) => {
    const r = await res;
    assert.equal(r.status, status, r.text);
    return r.status === 204 ? null : r.json();
  };
  /** Can this user sign in with this password (ROPC)? */
  const signsIn = async (upn: string, password: string) => {
    const res = await tokenRequest({ client_id: AZURE_CLI, grant_type: 'password', username: upn, password });
    assert.ok(res.status === 200 || res.status === 400, `sign-in answered ${res.status}: ${res.text}`);
    return res.status === 200;
  };
  const userId = async (upn: string) => (await ok(graph(ga, 'GET', `/users/${upn}`))).id as string;
  const userState = async (id: string) => {
    const res = await graph(ga, 'GET', `/users/${id}?$select=id,displayName,accountEnabled,userPrincipalName`);
    return res.status === 404 ? null : await ok(Promise.resolve(res));
  };
  const newPlainUser = async () => {
    const upn = `${unique('plain')}@${DOMAIN}`;
    const u = await ok(
      graph(ga, 'POST', '/users', {
        accountEnabled: true,
        displayName: 'plain',
        mailNickname: 'plain',
        userPrincipalName: upn,
        passwordProfile: { password: PASSWORD },
      }),
      201,
    );
    return { id: u.id as string, upn };
  };
  let gaTargets = 0;
  const newGaTarget = async () => {
    assert.ok(gaTargets < GA_TARGETS, 'the seed has enough Global Administrator targets');
    const upn = `ga-target-${gaTargets++}@${DOMAIN}`;
    return { id: await userId(upn), upn };
  };
  /** One Global Administrator for the writes that can be repeated on it (displayName, password, disable). */
  const sharedGaTarget = async () => ({ id: await userId(`ga-shared@${DOMAIN}`), upn: `ga-shared@${DOMAIN}` });
  const newGroup = async (owner?: Actor) => {
    const g = await ok(
      graph(ga, 'POST', '/groups', { displayName: unique('group'), mailNickname: 'g', mailEnabled: false, securityEnabled: true }),
      201,
    );
    if (owner)
      await ok(
        graph(ga, 'POST', `/groups/${g.id}/owners/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${owner.objectId}`,
        }),
        204,
      );
    return g.id as string;
  };
  const members = async (groupId: string) =>
    (await ok(graph(ga, 'GET', `/groups/${groupId}/members`))).value.map((m: any) => m.id as string);
  const newApp = async (owner?: Actor) => {
    const a = await ok(graph(ga, 'POST', '/applications', { displayName: unique('app') }), 201);
    // The Global Administrator who created it is its owner; the case's owner replaces it.
    if (owner?.objectId === ga.objectId) return { id: a.id as string, appId: a.appId as string };
    if (owner) {
      await ok(
        graph(ga, 'POST', `/applications/${a.id}/owners/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${owner.objectId}`,
        }),
        204,
      );
      await ok(graph(ga, 'DELETE', `/applications/${a.id}/owners/${ga.objectId}/$ref`), 204);
    } else {
      await ok(graph(ga, 'DELETE', `/applications/${a.id}/owners/${ga.objectId}/$ref`), 204);
    }
    return { id: a.id as string, appId: a.appId as string };
  };
  const newClientSp = async () => {
    const a = await newApp();
    return (await ok(graph(ga, 'POST', '/servicePrincipals', { appId: a.appId }), 201)).id as string;
  };

  // ---- the writes, each with the callers §4 allows --------------------------------------------
  const userWrite = (
    title: string,
    allowed: readonly ActorName[],
    target: () => Promise<{ id: string; upn: string }>,
    change: 'displayName' | 'password' | 'disable' | 'upn' | 'delete',
  ): Write => ({
    title,
    allowed,
    success: 204,
    shared: target === sharedGaTarget,
    async run(actor) {
      const t = await target();
      if (change === 'disable') await ok(graph(ga, 'PATCH', `/users/${t.id}`, { accountEnabled: true }), 204);
      const before = await userState(t.id);
      const newPassword = `${unique('Pw')}-Aa1!`;
      const newUpn = `${unique('renamed')}@${DOMAIN}`;
      const newName = unique('renamed');
      const res =
        change === 'delete'
          ? await graph(actor, 'DELETE', `/users/${t.id}`)
          : await graph(
              actor,
              'PATCH',
              `/users/${t.id}`,
              change === 'displayName'
                ? { displayName: newName }
                : change === 'password'
                  ? { passwordProfile: { password: newPassword, forceChangePasswordNextSignIn: false } }
                  : change === 'disable'
                    ? { accountEnabled: false }
                    : { userPrincipalName: newUpn },
            );
      return {
        res,
        happened: async () => {
          const now = await userState(t.id);
          if (change === 'delete') return now === null;
          if (change === 'password') {
            if (await signsIn(t.upn, passwords.get(t.upn) ?? PASSWORD)) return false;
            assert.equal(await signsIn(t.upn, newPassword), true, 'the old password fails, the new one works');
            passwords.set(t.upn, newPassword);
            return true;
          }
          assert.deepEqual(
            { ...now, [change === 'disable' ? 'accountEnabled' : change === 'upn' ? 'userPrincipalName' : 'displayName']: undefined },
            { ...before, [change === 'disable' ? 'accountEnabled' : change === 'upn' ? 'userPrincipalName' : 'displayName']: undefined },
            'nothing else changed',
          );
          return change === 'displayName'
            ? now.displayName === newName
            : change === 'disable'
              ? now.accountEnabled === false
              : now.userPrincipalName === newUpn;
        },
      };
    },
  });
  const memberWrite = (title: string, allowed: readonly ActorName[], owned: boolean, remove: boolean): Write => ({
    title,
    allowed,
    success: 204,
    async run(actor) {
      const groupId = await newGroup(owned ? actor : undefined);
      const member = { id: memberFodderId };
      if (remove)
        await ok(
          graph(ga, 'POST', `/groups/${groupId}/members/$ref`, {
            '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${member.id}`,
          }),
          204,
        );
      const res = remove
        ? await graph(actor, 'DELETE', `/groups/${groupId}/members/${member.id}/$ref`)
        : await graph(actor, 'POST', `/groups/${groupId}/members/$ref`, {
            '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${member.id}`,
          });
      return { res, happened: async () => (await members(groupId)).includes(member.id) !== remove };
    },
  });
  const credentialWrite = (title: string, allowed: readonly ActorName[], owned: boolean): Write => ({
    title,
    allowed,
    success: 200,
    async run(actor) {
      const a = await newApp(owned ? actor : undefined);
      const res = await graph(actor, 'POST', `/applications/${a.id}/addPassword`, { passwordCredential: { displayName: 'matrix' } });
      return { res, happened: async () => (await ok(graph(ga, 'GET', `/applications/${a.id}`))).passwordCredentials.length > 0 };
    },
  });
  const spWrite = (title: string, allowed: readonly ActorName[], owned: boolean): Write => ({
    title,
    allowed,
    success: 201,
    async run(actor) {
      const a = await newApp(owned ? actor : undefined);
      const res = await graph(actor, 'POST', '/servicePrincipals', { appId: a.appId });
      return {
        res,
        happened: async () =>
          (await ok(graph(ga, 'GET', `/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${a.appId}'`)}`))).value.length === 1,
      };
    },
  });
  const appRoleWrite = (title: string, allowed: readonly ActorName[], graphRole: boolean): Write => ({
    title,
    allowed,
    success: 201,
    async run(actor) {
      const client = await newClientSp();
      const resourceId = graphRole ? graphSpId : apiSpId;
      const res = await graph(actor, 'POST', `/servicePrincipals/${resourceId}/appRoleAssignedTo`, {
        principalId: client,
        resourceId,
        appRoleId: graphRole ? GRAPH_USER_READ_ALL_ROLE : API_ROLE_ID,
      });
      return {
        res,
        happened: async () => (await ok(graph(ga, 'GET', `/servicePrincipals/${client}/appRoleAssignments`))).value.length > 0,
      };
    },
  });

  const GA = ['Global Administrator'] as const;
  const USER_ADMINS = ['Global Administrator', 'User Administrator'] as const;
  const GROUP_ADMINS = ['Global Administrator', 'User Administrator', 'Groups Administrator'] as const;
  const APP_ADMINS = ['Global Administrator', 'Application Administrator'] as const;
  const WRITES: Write[] = [
    {
      title: 'create a user',
      allowed: [...USER_ADMINS, 'app with User.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      success: 201,
      async run(actor) {
        const upn = `${unique('created')}@${DOMAIN}`;
        const res = await graph(actor, 'POST', '/users', {
          accountEnabled: true,
          displayName: 'created',
          mailNickname: 'created',
          userPrincipalName: upn,
          passwordProfile: { password: PASSWORD },
        });
        return { res, happened: async () => (await graph(ga, 'GET', `/users/${upn}`)).status === 200 };
      },
    },
    userWrite(
      "update a plain user's displayName",
      [...USER_ADMINS, 'app with User.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      newPlainUser,
      'displayName',
    ),
    // App-only password reset needs User.ReadWrite.All and a directory role (Graph's update-user doc); Directory.ReadWrite.All never resets passwords.
    userWrite("reset a plain user's password", USER_ADMINS, newPlainUser, 'password'),
    userWrite(
      'disable a plain user',
      [...USER_ADMINS, 'app with User.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      newPlainUser,
      'disable',
    ),
    // Directory.ReadWrite.All "does not allow the app to delete users or groups, or reset user passwords".
    userWrite('delete a plain user', [...USER_ADMINS, 'app with User.ReadWrite.All'], newPlainUser, 'delete'),
    // Only the sensitive properties of §4.3 are protected by the target's roles; displayName is not one.
    userWrite(
      "update a Global Administrator's displayName",
      [...USER_ADMINS, 'app with User.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      sharedGaTarget,
      'displayName',
    ),
    userWrite("reset a Global Administrator's password", GA, sharedGaTarget, 'password'),
    userWrite('disable a Global Administrator', GA, sharedGaTarget, 'disable'),
    userWrite("change a Global Administrator's userPrincipalName", GA, newGaTarget, 'upn'),
    userWrite('delete a Global Administrator', GA, newGaTarget, 'delete'),
    {
      title: 'create a security group',
      allowed: [...ALL_USERS, 'app with Group.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      success: 201,
      async run(actor) {
        const name = unique('created-group');
        const res = await graph(actor, 'POST', '/groups', {
          displayName: name,
          mailNickname: 'g',
          mailEnabled: false,
          securityEnabled: true,
        });
        return {
          res,
          happened: async () =>
            (await ok(graph(ga, 'GET', `/groups?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`))).value.length === 1,
        };
      },
    },
    memberWrite(
      'add a member to a group it owns',
      [...ALL_USERS, 'app with Group.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      true,
      false,
    ),
    memberWrite(
      'remove a member from a group it owns',
      [...ALL_USERS, 'app with Group.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      true,
      true,
    ),
    memberWrite(
      'add a member to a group it does not own',
      [...GROUP_ADMINS, 'app with Group.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      false,
      false,
    ),
    memberWrite(
      'remove a member from a group it does not own',
      [...GROUP_ADMINS, 'app with Group.ReadWrite.All', 'app with Directory.ReadWrite.All'],
      false,
      true,
    ),
    {
      // Members may register applications by default (allowedToCreateApps); app-only needs Application.ReadWrite.* (G-APP).
      title: 'create an application',
      // Application.ReadWrite.OwnedBy creates applications, and owns what it creates.
      allowed: [...ALL_USERS, 'app with Application.ReadWrite.All', 'app with Application.ReadWrite.OwnedBy'],
      success: 201,
      async run(actor) {
        const name = unique('created-app');
        const res = await graph(actor, 'POST', '/applications', { displayName: name });
        return {
          res,
          happened: async () =>
            (await ok(graph(ga, 'GET', `/applications?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`))).value.length === 1,
        };
      },
    },
    credentialWrite(
      'add a secret to an application it owns',
      [...ALL_USERS, 'app with Application.ReadWrite.All', 'app with Application.ReadWrite.OwnedBy'],
      true,
    ),
    credentialWrite('add a secret to an application it does not own', [...APP_ADMINS, 'app with Application.ReadWrite.All'], false),
    spWrite(
      'create the service principal of an application it owns',
      [...ALL_USERS, 'app with Application.ReadWrite.All', 'app with Application.ReadWrite.OwnedBy'],
      true,
    ),
    spWrite('create the service principal of an application it does not own', [...APP_ADMINS, 'app with Application.ReadWrite.All'], false),
    {
      // Tenant-wide delegated consent: Cloud Application Administrator and above (CONSENT).
      title: 'grant tenant-wide consent to a delegated permission (oauth2PermissionGrants)',
      allowed: [...APP_ADMINS, 'app with Directory.ReadWrite.All', 'app with DelegatedPermissionGrant.ReadWrite.All'],
      success: 201,
      async run(actor) {
        const client = await newClientSp();
        const res = await graph(actor, 'POST', '/oauth2PermissionGrants', {
          clientId: client,
          consentType: 'AllPrincipals',
          resourceId: apiSpId,
          scope: 'Orders.Read',
        });
        return {
          res,
          happened: async () =>
            (await ok(graph(ga, 'GET', `/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq '${client}'`)}`))).value
              .length === 1,
        };
      },
    },
    // App-only, only AppRoleAssignment.ReadWrite.All grants app roles: Graph's table does not list
    // Directory.ReadWrite.All, and an app holding it could otherwise grant itself any Graph app role.
    appRoleWrite(
      'grant an application permission of an API of the tenant (appRoleAssignedTo)',
      [...APP_ADMINS, 'app with AppRoleAssignment.ReadWrite.All'],
      false,
    ),
    // Microsoft Graph's app roles need Privileged Role Administrator or Global Administrator (CONSENT).
    appRoleWrite(
      'grant a Microsoft Graph application permission (appRoleAssignedTo)',
      [...GA, 'app with AppRoleAssignment.ReadWrite.All'],
      true,
    ),
  ];

  before(async () => {
    k = await startTestKentra({ seed: SEED });
    for (const name of DELEGATED) {
      const t = await userToken(upnOf(name));
      actors.set(name, { name, token: t, kind: 'user', objectId: JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).oid });
    }
    ga = actors.get('Global Administrator')!;
    for (const [i, [name]] of Object.entries(APP_ONLY).entries()) {
      const t = await token({
        client_id: appIdOf(i),
        client_secret: `daemon-secret-${i}-0123456789abcdef`,
        grant_type: 'client_credentials',
      });
      actors.set(name, {
        name: name as ActorName,
        token: t,
        kind: 'app',
        objectId: JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).oid,
      });
    }
    const spOf = async (appId: string) =>
      (await ok(graph(ga, 'GET', `/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${appId}'`)}`))).value[0].id as string;
    graphSpId = await spOf(GRAPH_APP_ID);
    memberFodderId = await userId(`member-fodder@${DOMAIN}`);
    for (const role of PASSWORD_ACTORS) {
      if (!actors.has(role)) actors.set(role, { name: role, kind: 'user', objectId: '', token: await userToken(upnOf(role)) });
    }
    apiSpId = await spOf(API_APP_ID);
  });
  after(async () => k?.close());

  const refused = (res: HttpResponse) => {
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json().error.code, 'Authorization_RequestDenied');
    assert.equal(res.json().error.message, 'Insufficient privileges to complete the operation.');
  };

  // ---- finding 2, on its own --------------------------------------------------------------------
  it("Entra roles: User Administrator cannot reset a Global Administrator's password and sign in as them (issue 12 finding 2: 403, password unchanged)", async () => {
    const target = await newGaTarget();
    const res = await graph(actors.get('User Administrator')!, 'PATCH', `/users/${target.id}`, {
      passwordProfile: { password: 'Takeover-Passw0rd!', forceChangePasswordNextSignIn: false },
    });
    refused(res);
    assert.equal(await signsIn(target.upn, 'Takeover-Passw0rd!'), false, 'the attacker cannot sign in as the Global Administrator');
    assert.equal(await signsIn(target.upn, PASSWORD), true, "the Global Administrator's password is unchanged");
  });

  // ---- the matrix -----------------------------------------------------------------------------
  for (const write of WRITES)
    describe(`Entra roles: who may ${write.title}`, { concurrency: write.shared ? 1 : 4 }, () => {
      for (const actorName of ACTORS) {
        const allowed = write.allowed.includes(actorName);
        const expect = allowed ? `(${write.success})` : '(403, nothing changed)';
        it(`Entra roles: ${actorName} ${allowed ? 'can' : 'cannot'} ${write.title} ${expect}`, async () => {
          const { res, happened } = await write.run(actors.get(actorName)!);
          if (allowed) {
            assert.equal(res.status, write.success, res.text);
            assert.equal(await happened(), true, 'the write can be seen afterwards');
          } else {
            refused(res);
            assert.equal(await happened(), false, 'a refused write changes nothing');
          }
        });
      }
    });

  // ---- escalation through app role assignments (an attack battery found it) ----------------------
  it("Entra roles: an app with Directory.ReadWrite.All cannot grant itself Graph's app roles, nor revoke one; AppRoleAssignment.ReadWrite.All can do both", async () => {
    const APPLICATION_READWRITE_ALL = '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9';
    const i = Object.keys(APP_ONLY).indexOf('app with Directory.ReadWrite.All');
    const rolesNow = async () =>
      JSON.parse(
        Buffer.from(
          (
            await token({ client_id: appIdOf(i), client_secret: `daemon-secret-${i}-0123456789abcdef`, grant_type: 'client_credentials' })
          ).split('.')[1]!,
          'base64url',
        ).toString(),
      ).roles as string[];
    const attacker = actors.get('app with Directory.ReadWrite.All')!;
    const own = (await ok(graph(ga, 'GET', `/servicePrincipals/${attacker.objectId}/appRoleAssignments`))).value as { id: string }[];
    for (const path of [
      `/servicePrincipals/${graphSpId}/appRoleAssignedTo`,
      `/servicePrincipals/${attacker.objectId}/appRoleAssignments`,
    ]) {
      const res = await graph(attacker, 'POST', path, {
        principalId: attacker.objectId,
        resourceId: graphSpId,
        appRoleId: APPLICATION_READWRITE_ALL,
      });
      refused(res);
    }
    assert.deepEqual(await rolesNow(), ['Directory.ReadWrite.All'], 'its next token carries no role it granted itself');
    // Revoking its own assignment is refused too (Graph: AppRoleAssignment.ReadWrite.All only).
    refused(await graph(attacker, 'DELETE', `/servicePrincipals/${attacker.objectId}/appRoleAssignments/${own[0]!.id}`));
    assert.equal((await ok(graph(ga, 'GET', `/servicePrincipals/${attacker.objectId}/appRoleAssignments`))).value.length, own.length);
    // The permission that does allow it: grant to another client, then revoke it.
    const granter = actors.get('app with AppRoleAssignment.ReadWrite.All')!;
    const client = await newClientSp();
    const made = await ok(
      graph(granter, 'POST', `/servicePrincipals/${graphSpId}/appRoleAssignedTo`, {
        principalId: client,
        resourceId: graphSpId,
        appRoleId: GRAPH_USER_READ_ALL_ROLE,
      }),
      201,
    );
    await ok(graph(granter, 'DELETE', `/servicePrincipals/${client}/appRoleAssignments/${made.id}`), 204);
    assert.equal((await ok(graph(ga, 'GET', `/servicePrincipals/${client}/appRoleAssignments`))).value.length, 0);
  });

  it("Entra roles: a delegated grant's scope is checked on update as on create: only the resource's own delegated permissions (400, nothing changed)", async () => {
    const client = await newClientSp();
    const grant = await ok(
      graph(ga, 'POST', '/oauth2PermissionGrants', {
        clientId: client,
        consentType: 'AllPrincipals',
        resourceId: apiSpId,
        scope: 'Orders.Read',
      }),
      201,
    );
    const scopeNow = async () => (await ok(graph(ga, 'GET', `/oauth2PermissionGrants/${grant.id}`))).scope as string;
    for (const scope of ['Orders.Read RoleManagement.ReadWrite.Directory', 'Orders.Read <script>', 42, ['Orders.Read']]) {
      const res = await graph(ga, 'PATCH', `/oauth2PermissionGrants/${grant.id}`, { scope });
      assert.equal(res.status, 400, res.text);
      assert.equal(JSON.parse(res.text).error.code, 'Request_BadRequest');
      assert.equal(await scopeNow(), 'Orders.Read', 'a refused update changes nothing');
    }
    const bad = await graph(ga, 'POST', '/oauth2PermissionGrants', { clientId: await newClientSp(), resourceId: apiSpId, scope: 7 });
    assert.equal(bad.status, 400, bad.text);
    await ok(graph(ga, 'PATCH', `/oauth2PermissionGrants/${grant.id}`, { scope: 'orders.read' }), 204);
    assert.equal(await scopeNow(), 'orders.read');
  });

  it('Entra roles: an app with Application.ReadWrite.OwnedBy manages what it creates, and nothing else', async () => {
    const app = actors.get('app with Application.ReadWrite.OwnedBy')!;
    const created = await ok(graph(app, 'POST', '/applications', { displayName: unique('owned-by') }), 201);
    await ok(graph(app, 'PATCH', `/applications/${created.id}`, { displayName: unique('renamed') }), 204);
    await ok(graph(app, 'POST', `/applications/${created.id}/addPassword`, { passwordCredential: { displayName: 'own' } }), 200);
    await ok(graph(app, 'POST', '/servicePrincipals', { appId: created.appId }), 201);
    const other = await newApp();
    for (const [method, path, body] of [
      ['PATCH', `/applications/${other.id}`, { displayName: 'taken over' }],
      ['POST', `/applications/${other.id}/addPassword`, { passwordCredential: { displayName: 'stolen' } }],
      ['DELETE', `/applications/${other.id}`, undefined],
    ] as const)
      refused(await graph(app, method, path, body));
    const after = await ok(graph(ga, 'GET', `/applications/${other.id}`));
    assert.equal(after.passwordCredentials.length, 0);
    assert.notEqual(after.displayName, 'taken over');
  });

  // ---- directory role assignment ---------------------------------------------------------------
  it('Entra roles: no caller can assign a directory role through Graph (only Privileged Role Administrator and Global Administrator may, and Kentra has no such write)', async () => {
    const target = await newPlainUser();
    for (const actorName of ACTORS) {
      const actor = actors.get(actorName)!;
      const attempts = [
        await graph(actor, 'POST', '/roleManagement/directory/roleAssignments', {
          principalId: target.id,
          roleDefinitionId: ROLE['Global Administrator'],
          directoryScopeId: '/',
        }),
        await graph(actor, 'POST', `/directoryRoles/roleTemplateId=${ROLE['Global Administrator']}/members/$ref`, {
          '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${target.id}`,
        }),
      ];
      for (const res of attempts) assert.ok(res.status === 403 || res.status === 404, `${actorName}: ${res.status} ${res.text}`);
    }
    const objects = (await ok(graph(ga, 'POST', `/users/${target.id}/getMemberObjects`, { securityEnabledOnly: false }))).value;
    assert.deepEqual(objects, [], 'the user holds no directory role');
  });

  // ---- who may reset whose password (security.md §4.2) ------------------------------------------
  const RESETS: Partial<Record<RoleName, (RoleName | 'no role')[]>> = {
    'Password Administrator': ['no role', 'Directory Readers', 'Guest Inviter', 'Password Administrator'],
    'Helpdesk Administrator': [
      'no role',
      'Directory Readers',
      'Guest Inviter',
      'Reports Reader',
      'Password Administrator',
      'Helpdesk Administrator',
    ],
    'Authentication Administrator': [
      'no role',
      'Directory Readers',
      'Guest Inviter',
      'Reports Reader',
      'Password Administrator',
      'Authentication Administrator',
    ],
    'User Administrator': [
      'no role',
      'Directory Readers',
      'Guest Inviter',
      'Reports Reader',
      'Password Administrator',
      'Helpdesk Administrator',
      'User Administrator',
      'Groups Administrator',
    ],
    'Privileged Authentication Administrator': TARGET_ROLES,
    'Global Administrator': TARGET_ROLES,
  };
  for (const actorRole of PASSWORD_ACTORS)
    describe(`Entra roles: whose password a ${actorRole} may reset (§4.2)`, { concurrency: 4 }, () => {
      for (const targetRole of TARGET_ROLES) {
        const allowed = RESETS[actorRole]!.includes(targetRole);
        it(`Entra roles: ${actorRole} ${allowed ? 'can' : 'cannot'} reset the password of a user with ${targetRole === 'no role' ? 'no role' : `the ${targetRole} role`} (§4.2: ${allowed ? '204' : '403, password unchanged'})`, async () => {
          const upn = targetUpn(targetRole);
          const actor = actors.get(actorRole)!;
          const newPassword = `${unique('Reset')}-Aa1!`;
          const res = await graph(actor, 'PATCH', `/users/${upn}`, { passwordProfile: { password: newPassword } });
          if (allowed) {
            assert.equal(res.status, 204, res.text);
            assert.equal(await signsIn(upn, newPassword), true);
            passwords.set(upn, newPassword);
          } else {
            refused(res);
            assert.equal(await signsIn(upn, passwords.get(upn) ?? PASSWORD), true, 'the password is unchanged');
          }
        });
      }
    });

  // ---- who may change sensitive properties (security.md §4.3): accountEnabled ---------------------
  const SENSITIVE: Partial<Record<RoleName, (RoleName | 'no role')[]>> = {
    'Authentication Administrator': [
      'no role',
      'Directory Readers',
      'Guest Inviter',
      'Reports Reader',
      'Password Administrator',
      'Authentication Administrator',
    ],
    'User Administrator': [
      'no role',
      'Directory Readers',
      'Guest Inviter',
      'Reports Reader',
      'Password Administrator',
      'Groups Administrator',
      'Helpdesk Administrator',
      'User Administrator',
    ],
    'Privileged Authentication Administrator': TARGET_ROLES,
    'Global Administrator': TARGET_ROLES,
    'Password Administrator': [],
    'Helpdesk Administrator': [],
  };
  for (const [actorRole, targets] of Object.entries(SENSITIVE) as [RoleName, (RoleName | 'no role')[]][])
    describe(`Entra roles: whom a ${actorRole} may disable (§4.3)`, { concurrency: 4 }, () => {
      for (const targetRole of TARGET_ROLES) {
        const allowed = targets.includes(targetRole);
        it(`Entra roles: ${actorRole} ${allowed ? 'can' : 'cannot'} disable a user with ${targetRole === 'no role' ? 'no role' : `the ${targetRole} role`} (§4.3: ${allowed ? '204' : '403, still enabled'})`, async () => {
          const upn = targetUpn(targetRole);
          const actor = actors.get(actorRole)!;
          const res = await graph(actor, 'PATCH', `/users/${upn}`, { accountEnabled: false });
          const state = await userState(await userId(upn));
          if (allowed) {
            assert.equal(res.status, 204, res.text);
            assert.equal(state.accountEnabled, false);
            await ok(graph(ga, 'PATCH', `/users/${upn}`, { accountEnabled: true }), 204);
          } else {
            refused(res);
            assert.equal(state.accountEnabled, true, 'the account is still enabled');
          }
        });
      }
    });
});
