import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// The control-plane steps of source documents 000, 001, 002, 003 and the refusals of F14, command by
// command with `kentra` in place of `az`, against a running Kentra.

describe('kentra CLI: clusters, features and roles (documents 000–004)', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  let groupA: string;
  let groupB: string;

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '200'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-cli-aks-'));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      KENTRA_CONFIG_DIR: join(dir, 'config'),
      KENTRA_DATA_DIR: k.dataDir,
      KUBECONFIG: join(dir, 'kube', 'config'),
    };
    await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    groupA = (
      await cli.ok(
        'ad',
        'group',
        'create',
        '--display-name',
        'myAKSAdminGroup',
        '--mail-nickname',
        'myAKSAdminGroup',
        '--query',
        'id',
        '-o',
        'tsv',
      )
    ).trim();
    groupB = (
      await cli.ok('ad', 'group', 'create', '--display-name', 'second', '--mail-nickname', 'second', '--query', 'id', '-o', 'tsv')
    ).trim();
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('document 000: create with managed integration, change admin groups, get credentials and --admin', async () => {
    const rg = await cli.json('group', 'create', '--name', 'myResourceGroup', '--location', 'centralus');
    assert.equal(rg.properties.provisioningState, 'Succeeded');
    const cluster = await cli.json(
      'aks',
      'create',
      '-g',
      'myResourceGroup',
      '-n',
      'myManagedCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
      '--aad-tenant-id',
      k.endpoints.tenantId,
    );
    assert.equal(cluster.provisioningState, 'Succeeded');
    assert.deepEqual(cluster.aadProfile, {
      adminGroupObjectIDs: [groupA],
      clientAppId: null,
      enableAzureRbac: false,
      managed: true,
      serverAppId: null,
      serverAppSecret: null,
      tenantId: k.endpoints.tenantId,
    });
    const shown = await cli.json('aks', 'show', '-g', 'MyResourceGroup', '-n', 'myManagedCluster', '--query', 'aadProfile');
    assert.deepEqual(shown, cluster.aadProfile, 'resource group names are case-insensitive');
    const both = await cli.json(
      'aks',
      'update',
      '--resource-group',
      'MyResourceGroup',
      '--name',
      'myManagedCluster',
      '--aad-admin-group-object-ids',
      `${groupA},${groupB}`,
      '--aad-tenant-id',
      k.endpoints.tenantId,
    );
    assert.deepEqual(both.aadProfile.adminGroupObjectIDs, [groupA, groupB]);
    const again = await cli.run([
      'aks',
      'update',
      '-g',
      'myResourceGroup',
      '-n',
      'myManagedCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
    ]);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, 'ERROR: Cannot specify "--enable-aad" if managed AAD is already enabled\n');

    const got = await cli.run(['aks', 'get-credentials', '--resource-group', 'myResourceGroup', '--name', 'myManagedCluster']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stderr, `WARNING: Merged "myManagedCluster" as current context in ${join(dir, 'kube', 'config')}\n`);
    const admin = await cli.run(['aks', 'get-credentials', '--resource-group', 'myResourceGroup', '--name', 'myManagedCluster', '--admin']);
    assert.match(admin.stderr, /Merged "myManagedCluster-admin" as current context/);
    const config = parse(readFileSync(join(dir, 'kube', 'config'), 'utf8'));
    assert.equal(config['current-context'], 'myManagedCluster-admin');
    assert.deepEqual(config.contexts.map((c: any) => c.name).sort(), ['myManagedCluster', 'myManagedCluster-admin']);
    assert.ok(config.users.find((u: any) => u.name === 'clusterUser_myResourceGroup_myManagedCluster').user.exec);
    const again2 = await cli.run(['aks', 'get-credentials', '-g', 'myResourceGroup', '-n', 'myManagedCluster', '--admin']);
    assert.equal(again2.code, 0, `the same admin credential as the first time merges silently, as with AKS: ${again2.stderr}`);
    assert.deepEqual(parse(readFileSync(join(dir, 'kube', 'config'), 'utf8')).users, config.users, 'nothing changed');
    assert.equal(
      (await cli.run(['aks', 'get-credentials', '-g', 'myResourceGroup', '-n', 'myManagedCluster', '--admin', '--overwrite-existing']))
        .code,
      0,
    );
    const azure = parse(
      await cli.ok('aks', 'get-credentials', '-g', 'myResourceGroup', '-n', 'myManagedCluster', '--format', 'azure', '--file', '-'),
    );
    assert.equal(azure.users[0].user['auth-provider'].name, 'azure');
    const bad = await cli.run([
      'aks',
      'get-credentials',
      '-g',
      'myResourceGroup',
      '-n',
      'myManagedCluster',
      '--admin',
      '--format',
      'azure',
    ]);
    assert.equal(bad.code, 2);
    assert.equal((await cli.run(['aks', 'show', '-g', 'myResourceGroup', '-n', 'nope'])).code, 3);
  });

  it('document 002: enable on an existing Kubernetes-RBAC cluster; local accounts off refuses --admin', async () => {
    await cli.json('aks', 'create', '-g', 'myResourceGroup', '-n', 'existing');
    const enabled = await cli.json(
      'aks',
      'update',
      '--resource-group',
      'myResourceGroup',
      '--name',
      'existing',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      `${groupA},${groupB}`,
      '--aad-tenant-id',
      k.endpoints.tenantId,
    );
    assert.equal(enabled.aadProfile.managed, true);
    const notManaged = await cli.json('aks', 'create', '-g', 'myResourceGroup', '-n', 'plain2');
    assert.equal(notManaged.aadProfile, null);
    const refused = await cli.run(['aks', 'update', '-g', 'myResourceGroup', '-n', 'plain2', '--aad-admin-group-object-ids', groupA]);
    assert.equal(refused.stderr, 'ERROR: Cannot specify "--aad-admin-group-object-ids" if managed AAD is not enabled\n');
    const off = await cli.json('aks', 'update', '-g', 'myResourceGroup', '-n', 'existing', '--disable-local-accounts');
    assert.equal(off.disableLocalAccounts, true);
    const admin = await cli.run(['aks', 'get-credentials', '-g', 'myResourceGroup', '-n', 'existing', '--admin', '--file', '-']);
    assert.equal(admin.code, 1);
    assert.match(admin.stderr, /Getting static credential is not allowed because this cluster is set to disable local accounts\./);
    const on = await cli.json('aks', 'update', '-g', 'myResourceGroup', '-n', 'existing', '--enable-local-accounts');
    assert.equal(on.disableLocalAccounts, false);
  });

  it('F14: a cluster without Kubernetes RBAC cannot take the integration', async () => {
    const r = await cli.run(['aks', 'create', '-g', 'myResourceGroup', '-n', 'norbac', '--disable-rbac', '--enable-aad']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AADWithoutRBACNotAllowed/);
    assert.equal(
      (await cli.run(['aks', 'create', '-g', 'myResourceGroup', '-n', 'x', '--enable-azure-rbac', '--disable-rbac'])).stderr,
      'ERROR: --enable-azure-rbac cannot be used together with --disable-rbac\n',
    );
  });

  it('document 001: preview feature registration and the provider', async () => {
    const f = await cli.json('feature', 'register', '--name', 'AAD-V2', '--namespace', 'Microsoft.ContainerService');
    assert.equal(f.name, 'Microsoft.ContainerService/AAD-V2');
    const table = await cli.ok(
      'feature',
      'list',
      '-o',
      'table',
      '--query',
      "[?contains(name, 'Microsoft.ContainerService/AAD-V2')].{Name:name,State:properties.state}",
    );
    assert.equal(
      table,
      'Name                               State\n---------------------------------  ----------\nMicrosoft.ContainerService/AAD-V2  Registered\n',
    );
    assert.equal((await cli.run(['provider', 'register', '--namespace', 'Microsoft.ContainerService'])).code, 0);
  });

  it('document 003: legacy integration needs the opt-in, then migrates with --enable-aad', async () => {
    const server = await cli.json('ad', 'app', 'create', '--display-name', 'legacyServer', '--identifier-uris', 'https://legacyServer');
    const client = await cli.json(
      'ad',
      'app',
      'create',
      '--display-name',
      'legacyClient',
      '--native-app',
      '--reply-urls',
      'https://legacyClient',
    );
    const secret = (await cli.ok('ad', 'app', 'credential', 'reset', '--id', server.appId, '--query', 'password', '-o', 'tsv')).trim();
    const tenantId = (await cli.ok('account', 'show', '--query', 'tenantId', '-o', 'tsv')).trim();
    const legacy = [
      'aks',
      'create',
      '--resource-group',
      'myResourceGroup',
      '--name',
      'legacyCluster',
      '--node-count',
      '1',
      '--generate-ssh-keys',
      '--aad-server-app-id',
      server.appId,
      '--aad-server-app-secret',
      secret,
      '--aad-client-app-id',
      client.appId,
      '--aad-tenant-id',
      tenantId,
    ];
    const retired = await cli.run(legacy);
    assert.equal(retired.code, 1);
    assert.match(retired.stderr, /retired on 2023-06-01/);
    await cli.json('feature', 'register', '--namespace', 'Microsoft.ContainerService', '--name', 'AllowLegacyAADIntegration');
    const created = await cli.json(...legacy);
    assert.equal(created.aadProfile.serverAppId, server.appId);
    assert.equal(created.aadProfile.managed, false);
    const migrated = await cli.json(
      'aks',
      'update',
      '-g',
      'myResourceGroup',
      '-n',
      'legacyCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
    );
    assert.equal(migrated.aadProfile.managed, true);
    assert.equal(migrated.aadProfile.serverAppId, null);
  });

  it('document 004: AKS Arc with admin groups, the Arc Cluster User role, and no way to remove the integration', async () => {
    await cli.json('group', 'create', '--name', 'arcGroup', '--location', 'centralus');
    const customLocation = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/arcGroup/providers/Microsoft.ExtendedLocation/customLocations/hci`;
    const created = await cli.json(
      'aksarc',
      'create',
      '-n',
      'arc1',
      '-g',
      'arcGroup',
      '--custom-location',
      customLocation,
      '--vnet-ids',
      'lnet1',
      '--aad-admin-group-object-ids',
      groupA,
      '--generate-ssh-keys',
      '--control-plane-ip',
      '192.168.1.190',
    );
    assert.deepEqual(created.properties.aadProfile.adminGroupObjectIDs, [groupA]);
    assert.equal(created.properties.controlPlane.controlPlaneEndpoint.hostIP, '192.168.1.190');
    const updated = await cli.json('aksarc', 'update', '-n', 'arc1', '-g', 'arcGroup', '--aad-admin-group-object-ids', groupB);
    assert.deepEqual(updated.properties.aadProfile.adminGroupObjectIDs, [groupB]);
    const kubeconfig = parse(await cli.ok('aksarc', 'get-credentials', '--resource-group', 'arcGroup', '--name', 'arc1', '--file', '-'));
    const args = kubeconfig.users[0].user.exec.args as string[];
    assert.equal(args[args.indexOf('--server-id') + 1], '6256c85f-0aad-4d50-b960-e6e9b21efe35', 'the Arc server application');

    // A user needs listUserKubeconfig, which the Arc Cluster User role holds.
    await cli.json(
      'ad',
      'user',
      'create',
      '--display-name',
      'Arc',
      '--password',
      'Arc-Passw0rd!',
      '--user-principal-name',
      'arc@kentra.onmicrosoft.com',
    );
    const arcEnv = { ...env, KENTRA_CONFIG_DIR: join(dir, 'arc-config') };
    const arcCli = kentraCli(() => arcEnv);
    await arcCli.json('login', '-u', 'arc@kentra.onmicrosoft.com', '-p', 'Arc-Passw0rd!', '--allow-no-subscriptions');
    const scope = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/arcGroup/providers/Microsoft.Kubernetes/connectedClusters/arc1`;
    await cli.json(
      'role',
      'assignment',
      'create',
      '--role',
      'Azure Kubernetes Service Arc Cluster User Role',
      '--assignee',
      'arc@kentra.onmicrosoft.com',
      '--scope',
      scope,
    );
    await arcCli.json('login', '-u', 'arc@kentra.onmicrosoft.com', '-p', 'Arc-Passw0rd!');
    const asUser = await arcCli.run(['aksarc', 'get-credentials', '-g', 'arcGroup', '-n', 'arc1', '--file', '-']);
    assert.equal(asUser.code, 0, asUser.stderr);
    const admin = await arcCli.run(['aksarc', 'get-credentials', '-g', 'arcGroup', '-n', 'arc1', '--admin', '--file', '-']);
    assert.equal(admin.code, 1);
    assert.match(admin.stderr, /AuthorizationFailed.*listAdminKubeconfig\/action/s);

    // The integration cannot be disabled once added.
    const token = (await cli.json('account', 'get-access-token')).accessToken;
    const { httpsFetch } = await import('../support/http.js');
    const off = await httpsFetch(`${k.endpoints.armEndpoint}${scope.slice(1)}?api-version=2024-01-01`, {
      method: 'PUT',
      caFile: k.endpoints.caFile,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ location: 'centralus', properties: {} }),
    });
    assert.equal(off.status, 400);
    assert.equal(off.json().error.code, 'AADDisableNotAllowed');
  });

  it('manages role assignments and deletes clusters and groups', async () => {
    const user = await cli.json(
      'ad',
      'user',
      'create',
      '--display-name',
      'Dev',
      '--password',
      'Dev-Passw0rd!',
      '--user-principal-name',
      'dev@kentra.onmicrosoft.com',
    );
    const scope = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/myResourceGroup/providers/Microsoft.ContainerService/managedClusters/myManagedCluster`;
    const created = await cli.json(
      'role',
      'assignment',
      'create',
      '--role',
      'Azure Kubernetes Service Cluster User Role',
      '--assignee',
      'dev@kentra.onmicrosoft.com',
      '--scope',
      scope,
    );
    assert.equal(created.principalId, user.id);
    assert.equal((await cli.json('role', 'assignment', 'list', '--assignee', 'dev@kentra.onmicrosoft.com', '--scope', scope)).length, 1);
    assert.ok((await cli.json('role', 'definition', 'list', '--query', '[].roleName')).includes('Azure Kubernetes Service RBAC Writer'));
    await cli.ok(
      'role',
      'assignment',
      'delete',
      '--assignee',
      'dev@kentra.onmicrosoft.com',
      '--role',
      'Azure Kubernetes Service Cluster User Role',
      '--scope',
      scope,
    );
    assert.equal((await cli.json('role', 'assignment', 'list', '--assignee', 'dev@kentra.onmicrosoft.com', '--scope', scope)).length, 0);
    assert.equal((await cli.run(['aks', 'delete', '-g', 'myResourceGroup', '-n', 'plain2'])).code, 2, 'needs --yes without a terminal');
    await cli.ok('aks', 'delete', '-g', 'myResourceGroup', '-n', 'plain2', '--yes');
    assert.deepEqual((await cli.json('aks', 'list', '-g', 'myResourceGroup', '--query', '[].name')).sort(), [
      'existing',
      'legacyCluster',
      'myManagedCluster',
    ]);
    await cli.ok('group', 'delete', '-n', 'myResourceGroup', '--yes');
    assert.deepEqual(await cli.json('aks', 'list'), []);
  });
});
