import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { azFor, azSkip, type Az } from '../support/az.js';
import { postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Directory management with the real Azure CLI 2.45 over Kentra's Microsoft Graph: the `az ad` commands
// of the source documents, and the directory part of document 003's legacy walkthrough (in az 2.45's
// spelling: `--native-app --reply-urls` became `--is-fallback-public-client --public-client-redirect-uris`,
// `permission grant` needs `--scope`, and `admin-consent` only works in Azure's public cloud).

const GRAPH = '00000003-0000-0000-c000-000000000000';

describe("the real Azure CLI managing Kentra's directory", { skip: azSkip, timeout: 300_000 }, () => {
  let k: TestKentra;
  let az: Az;

  before(async () => {
    k = await startTestKentra();
    az = await azFor(k.endpoints);
    const { admin } = k.endpoints;
    await az.json('login', '-u', admin.userPrincipalName, '-p', admin.password);
  });
  after(async () => {
    await k?.close();
    az?.close();
  });

  it('shows the signed-in user', async () => {
    const me = await az.json('ad', 'signed-in-user', 'show');
    assert.equal(me.userPrincipalName, k.endpoints.admin.userPrincipalName);
    assert.equal(me.id, k.endpoints.admin.objectId);
  });

  it('creates users and groups, adds, checks and lists members', async () => {
    const group = await az.json('ad', 'group', 'create', '--display-name', 'myAKSAdminGroup', '--mail-nickname', 'myAKSAdminGroup');
    assert.equal(group.displayName, 'myAKSAdminGroup');
    assert.equal(group.securityEnabled, true);
    const again = await az.run(
      'ad',
      'group',
      'create',
      '--display-name',
      'myAKSAdminGroup',
      '--mail-nickname',
      'myAKSAdminGroup',
      '-o',
      'json',
    );
    assert.equal(JSON.parse(again.stdout).id, group.id, 'az finds the existing group instead of making a second one');
    assert.match(again.stderr, /already exists/);
    const user = await az.json(
      'ad',
      'user',
      'create',
      '--display-name',
      'Alice',
      '--password',
      'Alice-Passw0rd!',
      '--user-principal-name',
      'alice@kentra.onmicrosoft.com',
    );
    assert.equal(user.userPrincipalName, 'alice@kentra.onmicrosoft.com');
    assert.equal((await az.json('ad', 'user', 'show', '--id', 'alice@kentra.onmicrosoft.com')).id, user.id);
    const dupe = await az.run(
      'ad',
      'user',
      'create',
      '--display-name',
      'Alice',
      '--password',
      'Alice-Passw0rd!',
      '--user-principal-name',
      'alice@kentra.onmicrosoft.com',
    );
    assert.notEqual(dupe.code, 0);
    assert.match(dupe.stderr, /ERROR: Another object with the same value for property userPrincipalName already exists/);
    const weak = await az.run(
      'ad',
      'user',
      'create',
      '--display-name',
      'Weak',
      '--password',
      'short',
      '--user-principal-name',
      'weak@kentra.onmicrosoft.com',
    );
    assert.match(weak.stderr, /password complexity/);

    assert.equal((await az.json('ad', 'group', 'member', 'check', '--group', group.id, '--member-id', user.id)).value, false);
    await az.run('ad', 'group', 'member', 'add', '--group', group.id, '--member-id', user.id);
    assert.equal((await az.json('ad', 'group', 'member', 'check', '--group', group.id, '--member-id', user.id)).value, true);
    assert.deepEqual(await az.json('ad', 'group', 'member', 'list', '--group', group.id, '--query', '[].userPrincipalName'), [
      'alice@kentra.onmicrosoft.com',
    ]);
    const twice = await az.run('ad', 'group', 'member', 'add', '--group', group.id, '--member-id', user.id);
    assert.match(twice.stderr, /One or more added object references already exist/);
    const missing = await az.run('ad', 'user', 'show', '--id', 'nobody@kentra.onmicrosoft.com');
    assert.equal(missing.code, 3, 'az exits 3 for a resource that does not exist');
  });

  it('runs the directory part of the legacy walkthrough (document 003)', async () => {
    const aksname = 'myakscluster';
    const serverApplicationId = await az.tsv(
      'ad',
      'app',
      'create',
      '--display-name',
      `${aksname}Server`,
      '--identifier-uris',
      `https://${aksname}Server`,
      '--query',
      'appId',
    );
    await az.run('ad', 'app', 'update', '--id', serverApplicationId, '--set', 'groupMembershipClaims=All');
    assert.equal(await az.tsv('ad', 'app', 'show', '--id', serverApplicationId, '--query', 'groupMembershipClaims'), 'All');
    await az.json('ad', 'sp', 'create', '--id', serverApplicationId);
    const serverApplicationSecret = await az.tsv('ad', 'sp', 'credential', 'reset', '--id', serverApplicationId, '--query', 'password');
    assert.ok(serverApplicationSecret.length >= 16);

    await az.run(
      'ad',
      'app',
      'permission',
      'add',
      '--id',
      serverApplicationId,
      '--api',
      GRAPH,
      '--api-permissions',
      'e1fe6dd8-ba31-4d61-89e7-88639da4683d=Scope',
      '06da0dbc-49e2-44d2-8312-53f166ab848a=Scope',
      '7ab1d382-f21e-4acd-a863-ba3e13f7da61=Role',
    );
    const required = await az.json('ad', 'app', 'permission', 'list', '--id', serverApplicationId);
    assert.equal(required[0].resourceAppId, GRAPH);
    assert.equal(required[0].resourceAccess.length, 3);
    const grant = await az.json(
      'ad',
      'app',
      'permission',
      'grant',
      '--id',
      serverApplicationId,
      '--api',
      GRAPH,
      '--scope',
      'User.Read',
      'Directory.Read.All',
    );
    assert.equal(grant.scope, 'User.Read Directory.Read.All');
    assert.equal(grant.consentType, 'AllPrincipals');
    const consent = await az.run('ad', 'app', 'permission', 'admin-consent', '--id', serverApplicationId);
    assert.match(consent.stderr, /not yet supported on sovereign clouds/, 'az 2.45 sends admin consent to Azure public cloud only');
    // What admin consent does for the application permission, through Graph with `az rest`.
    const serverSp = await az.json('ad', 'sp', 'show', '--id', serverApplicationId);
    const graphSp = await az.json('ad', 'sp', 'show', '--id', GRAPH);
    await az.json(
      'rest',
      '--method',
      'post',
      '--url',
      `${k.endpoints.graphEndpoint}v1.0/servicePrincipals/${serverSp.id}/appRoleAssignments`,
      '--resource',
      k.endpoints.graphEndpoint,
      '--body',
      JSON.stringify({ principalId: serverSp.id, resourceId: graphSp.id, appRoleId: '7ab1d382-f21e-4acd-a863-ba3e13f7da61' }),
    );

    // The server app signs in with the secret az printed and holds Directory.Read.All.
    const serverToken = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        client_id: serverApplicationId,
        client_secret: serverApplicationSecret,
        grant_type: 'client_credentials',
        scope: 'https://graph.microsoft.com/.default',
      },
      k.endpoints.caFile,
    );
    assert.equal(serverToken.status, 200, serverToken.text);
    assert.deepEqual(decodeJwt(serverToken.json().access_token).roles, ['Directory.Read.All']);

    const clientApplicationId = await az.tsv(
      'ad',
      'app',
      'create',
      '--display-name',
      `${aksname}Client`,
      '--is-fallback-public-client',
      'true',
      '--public-client-redirect-uris',
      `https://${aksname}Client`,
      '--query',
      'appId',
    );
    await az.json('ad', 'sp', 'create', '--id', clientApplicationId);
    const oAuthPermissionId = await az.tsv('ad', 'app', 'show', '--id', serverApplicationId, '--query', 'oauth2Permissions[0].id');
    assert.match(oAuthPermissionId, /^[0-9a-f-]{36}$/);
    await az.run(
      'ad',
      'app',
      'permission',
      'add',
      '--id',
      clientApplicationId,
      '--api',
      serverApplicationId,
      '--api-permissions',
      `${oAuthPermissionId}=Scope`,
    );
    await az.json(
      'ad',
      'app',
      'permission',
      'grant',
      '--id',
      clientApplicationId,
      '--api',
      serverApplicationId,
      '--scope',
      'user_impersonation',
    );

    // A user signing in through the client app now gets a token for the server app, with groups.
    const userToken = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        client_id: clientApplicationId,
        grant_type: 'password',
        username: k.endpoints.admin.userPrincipalName,
        password: k.endpoints.admin.password,
        scope: `https://${aksname}Server/.default`,
      },
      k.endpoints.caFile,
    );
    assert.equal(userToken.status, 200, userToken.text);
    const claims = decodeJwt(userToken.json().access_token);
    assert.equal(claims.aud, `https://${aksname}Server`);
    assert.equal(claims.appid, clientApplicationId);
    assert.equal(claims.scp, 'user_impersonation');
    assert.ok(Array.isArray(claims.wids), 'groupMembershipClaims=All puts directory roles in the token');
  });

  it('resets a service principal credential and refuses app-only /me', async () => {
    await az.run('logout');
    const { servicePrincipal: sp, tenantId } = k.endpoints;
    await az.json('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
    const group = await az.json('ad', 'group', 'create', '--display-name', 'sp-made', '--mail-nickname', 'sp-made');
    assert.equal(group.displayName, 'sp-made');
    const me = await az.run('ad', 'signed-in-user', 'show');
    assert.notEqual(me.code, 0);
    assert.match(me.stderr, /\/me request is only valid with delegated authentication flow/);
  });
});
