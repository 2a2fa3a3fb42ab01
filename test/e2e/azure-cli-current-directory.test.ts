import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { AZ_VERSION_CHECK, type Az, startKentraWithCurrentAz, type CurrentAzKentra } from '../support/az.js';
import { postForm } from '../support/http.js';
import type { TestKentra } from '../support/kentra.js';
import { currentAzureCli } from '../support/tools.js';

// The current Azure CLI from PyPI against Kentra as a custom cloud (test/support/az.ts currentAzFor, as
// docs/clients.md says): role assignments, `ad sp create-for-rbac` (and its service principals signing in
// with the secret and with --certificate), `aks get-versions`, and document 003's `az ad` steps in
// today's spelling. All of az's traffic goes through a proxy that refuses and records anything not for Kentra.

const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';
const GRAPH = '00000003-0000-0000-c000-000000000000';
const azCli = currentAzureCli();

describe("the current Azure CLI managing Kentra's directory and role assignments", { skip: azCli.skip, timeout: 300_000 }, () => {
  let k: TestKentra;
  let proxy: CurrentAzKentra['proxy'];
  let az: Az;
  let setup: CurrentAzKentra;
  const verify = (token: string) => setup.verify(token);
  const freshAz = () => setup.freshAz();

  before(async () => {
    setup = await startKentraWithCurrentAz();
    ({ k, proxy, az } = setup);
    const { tenantId, servicePrincipal: sp } = k.endpoints;
    await az.json('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
  });
  after(async () => setup?.close());

  it('lists the Kubernetes versions (az aks get-versions)', async () => {
    const versions = await az.json('aks', 'get-versions', '-l', 'centralus');
    assert.ok(versions.values.length > 0);
    for (const v of versions.values) assert.match(v.version, /^1\.\d+$/);
    const table = await az.run('aks', 'get-versions', '-l', 'centralus', '-o', 'table');
    assert.match(table.stdout, /^KubernetesVersion\s+Upgrades\s+SupportPlan\n/);
  });

  it('creates, lists and deletes role assignments', async () => {
    const { subscriptionId, admin } = k.endpoints;
    const group = await az.json('group', 'create', '-n', 'rolesRg', '-l', 'centralus');
    const created = await az.json(
      'role',
      'assignment',
      'create',
      '--assignee',
      admin.userPrincipalName,
      '--role',
      'Azure Kubernetes Service Cluster User Role',
      '--scope',
      group.id,
    );
    assert.equal(created.principalId, admin.objectId);
    assert.equal(created.principalType, 'User');
    assert.equal(created.scope, `/subscriptions/${subscriptionId}/resourceGroups/rolesRg`);
    assert.match(created.roleDefinitionId, /\/roleDefinitions\/4abbcc35-e782-43d8-92c5-2d3f1bd2253f$/);
    const listed = await az.json(
      'role',
      'assignment',
      'list',
      '--assignee',
      admin.userPrincipalName,
      '--scope',
      group.id,
      '--query',
      '[].{role:roleDefinitionName,name:name}',
    );
    assert.deepEqual(listed, [{ role: 'Azure Kubernetes Service Cluster User Role', name: created.name }]);
    const twice = await az.run(
      'role',
      'assignment',
      'create',
      '--assignee',
      admin.userPrincipalName,
      '--role',
      'Azure Kubernetes Service Cluster User Role',
      '--scope',
      group.id,
      '-o',
      'json',
    );
    assert.equal(twice.code, 0, 'az treats an existing identical assignment as done');
    assert.equal(JSON.parse(twice.stdout).name, created.name);
    await az.run('role', 'assignment', 'delete', '--ids', created.id);
    assert.deepEqual(await az.json('role', 'assignment', 'list', '--assignee', admin.userPrincipalName, '--scope', group.id), []);
    const unknownRole = await az.run(
      'role',
      'assignment',
      'create',
      '--assignee',
      admin.userPrincipalName,
      '--role',
      'No Such Role',
      '--scope',
      group.id,
    );
    assert.notEqual(unknownRole.code, 0);
    assert.match(unknownRole.stderr, /ERROR: Role 'No Such Role' doesn't exist\./);
  });

  it('creates service principals with create-for-rbac; they sign in with the secret and with --certificate', async () => {
    const { subscriptionId, tenantId } = k.endpoints;
    const scope = `/subscriptions/${subscriptionId}/resourceGroups/rolesRg`;
    const withSecret = await az.json('ad', 'sp', 'create-for-rbac', '-n', 'pipelineSp', '--role', 'Contributor', '--scopes', scope);
    assert.equal(withSecret.displayName, 'pipelineSp');
    assert.equal(withSecret.tenant, tenantId);
    assert.deepEqual(
      await az.json('role', 'assignment', 'list', '--assignee', withSecret.appId, '--scope', scope, '--query', '[].roleDefinitionName'),
      ['Contributor'],
    );
    const withCert = await az.json('ad', 'sp', 'create-for-rbac', '-n', 'certSp', '--create-cert');
    assert.equal(withCert.password, null);
    assert.match(readFileSync(withCert.fileWithCertAndPrivateKey, 'utf8'), /-----BEGIN PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----/);

    const pipeline = await freshAz();
    const subs = await pipeline.json(
      'login',
      '--service-principal',
      '-u',
      withSecret.appId,
      '-p',
      withSecret.password,
      '--tenant',
      tenantId,
    );
    assert.deepEqual(
      subs.map((s: any) => [s.id, s.user.name]),
      [[subscriptionId, withSecret.appId]],
      'Contributor on a resource group shows its subscription',
    );
    assert.equal((await verify((await pipeline.json('account', 'get-access-token')).accessToken)).appid, withSecret.appId);

    const certified = await freshAz();
    const tenantLevel = await certified.json(
      'login',
      '--service-principal',
      '-u',
      withCert.appId,
      '--certificate',
      withCert.fileWithCertAndPrivateKey,
      '--tenant',
      tenantId,
      '--allow-no-subscriptions',
    );
    assert.deepEqual(
      tenantLevel.map((s: any) => [s.tenantId, s.user.name, s.user.type]),
      [[tenantId, withCert.appId, 'servicePrincipal']],
    );
    const token = await certified.json('account', 'get-access-token', '--resource', AKS_SERVER_APP);
    const claims = await verify(token.accessToken);
    assert.equal(claims.appid, withCert.appId);
    assert.equal(claims.appidacr, '2', 'signed in with a certificate');
    // (In a configuration without this client's token: MSAL answers a service principal's login from its cache first.)
    const noCert = await pipeline.run(
      'login',
      '--service-principal',
      '-u',
      withCert.appId,
      '-p',
      withCert.fileWithCertAndPrivateKey,
      '--tenant',
      tenantId,
      '--allow-no-subscriptions',
    );
    assert.notEqual(noCert.code, 0);
    assert.match(noCert.stderr, /AADSTS7000215.*--password no longer accepts a service principal certificate/s);
  });

  it("runs document 003's az ad steps (in today's az spelling)", async () => {
    const user = await freshAz();
    await user.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    const aksname = 'myakscluster';
    const serverApplicationId = await user.tsv(
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
    await user.run('ad', 'app', 'update', '--id', serverApplicationId, '--set', 'groupMembershipClaims=All');
    assert.equal(await user.tsv('ad', 'app', 'show', '--id', serverApplicationId, '--query', 'groupMembershipClaims'), 'All');
    await user.json('ad', 'sp', 'create', '--id', serverApplicationId);
    const oldSpelling = await user.run(
      'ad',
      'sp',
      'credential',
      'reset',
      '--name',
      serverApplicationId,
      '--credential-description',
      'AKSPassword',
    );
    assert.match(oldSpelling.stderr, /the following arguments are required: --id/, 'az 2.91 has no --name (nor --credential-description)');
    const serverApplicationSecret = await user.tsv('ad', 'sp', 'credential', 'reset', '--id', serverApplicationId, '--query', 'password');
    assert.ok(serverApplicationSecret.length >= 32);
    await user.run(
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
    assert.equal((await user.json('ad', 'app', 'permission', 'list', '--id', serverApplicationId))[0].resourceAccess.length, 3);
    const grant = await user.json(
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
    assert.deepEqual([grant.scope, grant.consentType], ['User.Read Directory.Read.All', 'AllPrincipals']);
    const consent = await user.run('ad', 'app', 'permission', 'admin-consent', '--id', serverApplicationId);
    assert.match(consent.stderr, /ERROR: This command is not yet supported on sovereign clouds/);

    const native = await user.run(
      'ad',
      'app',
      'create',
      '--display-name',
      `${aksname}Client`,
      '--native-app',
      '--reply-urls',
      `https://${aksname}Client`,
    );
    assert.match(native.stderr, /unrecognized arguments: --native-app --reply-urls/);
    const clientApplicationId = await user.tsv(
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
    await user.json('ad', 'sp', 'create', '--id', clientApplicationId);
    const oAuthPermissionId = await user.tsv('ad', 'app', 'show', '--id', serverApplicationId, '--query', 'oauth2Permissions[0].id');
    assert.match(oAuthPermissionId, /^[0-9a-f-]{36}$/);
    await user.run(
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
    await user.json(
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
    assert.equal(await user.tsv('account', 'show', '--query', 'tenantId'), k.endpoints.tenantId);
    assert.equal(await user.tsv('ad', 'signed-in-user', 'show', '--query', 'userPrincipalName'), k.endpoints.admin.userPrincipalName);

    // The apps work: a user signing in through the client app gets a token for the server app.
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
    assert.deepEqual(
      [decodeJwt(userToken.json().access_token).aud, decodeJwt(userToken.json().access_token).scp],
      [`https://${aksname}Server`, 'user_impersonation'],
    );
  });

  it('sent nothing anywhere but Kentra (but its version check on a fresh config directory)', () => {
    assert.deepEqual(
      proxy.refused.filter((r) => r !== AZ_VERSION_CHECK),
      [],
    );
  });
});
