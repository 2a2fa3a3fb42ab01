import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { azFor, azSkip, type Az } from '../support/az.js';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// The control-plane steps of the source documents with the real Azure CLI 2.45: 000 (create with
// managed Entra integration, change admin groups, credentials, break-glass --admin), 001 (preview
// feature registration), 002 (enable on an existing cluster, exec kubeconfig, local accounts), and the
// control-plane part of 003 (legacy integration, its deprecation and opt-in, migration). Long-running
// operations run as az polls them.

const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: nobody@kentra.onmicrosoft.com, password: 'Nobody-Passw0rd!' }
`;

describe('the real Azure CLI managing clusters', { skip: azSkip, timeout: 600_000 }, () => {
  let k: TestKentra;
  let az: Az;
  let groupA: string;
  let groupB: string;
  const rg = 'myResourceGroup';

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '300'] });
    az = await azFor(k.endpoints);
    await az.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    groupA = await az.tsv(
      'ad',
      'group',
      'create',
      '--display-name',
      'myAKSAdminGroup',
      '--mail-nickname',
      'myAKSAdminGroup',
      '--query',
      'id',
    );
    groupB = await az.tsv('ad', 'group', 'create', '--display-name', 'secondAdmins', '--mail-nickname', 'secondAdmins', '--query', 'id');
    const group = await az.json('group', 'create', '--name', rg, '--location', 'centralus');
    assert.equal(group.properties.provisioningState, 'Succeeded');
  });
  after(async () => {
    await k?.close();
    az?.close();
  });

  it('document 000: creates a cluster with managed Entra integration and shows its aadProfile', async () => {
    const cluster = await az.json(
      'aks',
      'create',
      '-g',
      rg,
      '-n',
      'myManagedCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
      '--aad-tenant-id',
      k.endpoints.tenantId,
      '--generate-ssh-keys',
    );
    assert.equal(cluster.provisioningState, 'Succeeded', 'az waited for the long-running operation');
    assert.deepEqual(cluster.aadProfile, {
      adminGroupObjectIDs: [groupA],
      clientAppId: null,
      enableAzureRbac: false,
      managed: true,
      serverAppId: null,
      serverAppSecret: null,
      tenantId: k.endpoints.tenantId,
    });
    assert.equal(cluster.enableRbac, true);
    assert.match(cluster.fqdn, /\.hcp\.centralus\.azmk8s\.io$/);
    const shown = await az.json('aks', 'show', '-g', rg, '-n', 'myManagedCluster', '--query', 'aadProfile');
    assert.deepEqual(shown, cluster.aadProfile);
    const updated = await az.json(
      'aks',
      'update',
      '-g',
      rg,
      '-n',
      'myManagedCluster',
      '--aad-admin-group-object-ids',
      `${groupA},${groupB}`,
      '--query',
      'aadProfile.adminGroupObjectIDs',
    );
    assert.deepEqual(updated, [groupA, groupB], 'admin groups can be changed');
    const again = await az.run('aks', 'update', '-g', rg, '-n', 'myManagedCluster', '--enable-aad');
    assert.match(again.stderr, /Cannot specify "--enable-aad" if managed AAD is already enabled/);
  });

  it('gets the exec, azure and admin credentials, merging them the way az does', async () => {
    const file = join(az.env.HOME!, 'kubeconfig');
    const merged = await az.run('aks', 'get-credentials', '-g', rg, '-n', 'myManagedCluster', '--file', file);
    assert.match(merged.stderr, new RegExp(`Merged "myManagedCluster" as current context in ${file}`));
    const user = parse(readFileSync(file, 'utf8'));
    const exec = user.users[0].user.exec;
    assert.equal(user.users[0].name, `clusterUser_${rg}_myManagedCluster`);
    assert.equal(exec.command, 'kubelogin');
    assert.deepEqual(exec.args.slice(0, 11), [
      'get-token',
      '--environment',
      'AzurePublicCloud',
      '--server-id',
      '6dae42f8-4368-4678-94ff-3960e28e3630',
      '--client-id',
      '80faf920-1908-4b52-b5ef-a8e7bedfc67a',
      '--tenant-id',
      k.endpoints.tenantId,
      '--login',
      'devicecode',
    ]);
    assert.deepEqual(exec.args.slice(11), ['--authority-host', `${k.endpoints.authority}/`, '--disable-instance-discovery']);
    const azure = parse(
      (await az.run('aks', 'get-credentials', '-g', rg, '-n', 'myManagedCluster', '--format', 'azure', '--file', '-')).stdout,
    );
    assert.equal(azure.users[0].user['auth-provider'].name, 'azure');
    assert.equal(azure.users[0].user['auth-provider'].config['apiserver-id'], '6dae42f8-4368-4678-94ff-3960e28e3630');
    const admin = await az.run('aks', 'get-credentials', '-g', rg, '-n', 'myManagedCluster', '--admin', '--file', file);
    assert.match(admin.stderr, /Merged "myManagedCluster-admin" as current context/);
    const both = parse(readFileSync(file, 'utf8'));
    const adminUser = both.users.find((u: any) => u.name === `clusterAdmin_${rg}_myManagedCluster`);
    assert.match(adminUser.user.token, /^[0-9a-f]{32}$/);
    const cert = Buffer.from(adminUser.user['client-certificate-data'], 'base64').toString();
    const { X509Certificate } = await import('node:crypto');
    assert.match(new X509Certificate(cert).subject, /CN=masterclient/);
    assert.match(new X509Certificate(cert).subject, /O=system:masters/);
  });

  it('document 002: enables the integration on an existing cluster, and local accounts can be disabled', async () => {
    const plain = await az.json('aks', 'create', '-g', rg, '-n', 'plainCluster', '--generate-ssh-keys');
    assert.equal(plain.aadProfile, null);
    const enabled = await az.json('aks', 'update', '-g', rg, '-n', 'plainCluster', '--enable-aad', '--aad-admin-group-object-ids', groupA);
    assert.equal(enabled.aadProfile.managed, true);
    assert.deepEqual(enabled.aadProfile.adminGroupObjectIDs, [groupA]);
    const disabled = await az.json('aks', 'update', '-g', rg, '-n', 'plainCluster', '--disable-local-accounts');
    assert.equal(disabled.disableLocalAccounts, true);
    const refused = await az.run('aks', 'get-credentials', '-g', rg, '-n', 'plainCluster', '--admin', '--file', '-');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Getting static credential is not allowed because this cluster is set to disable local accounts\./);
    const noRbac = await az.run('aks', 'create', '-g', rg, '-n', 'noRbac', '--disable-rbac', '--enable-aad', '--generate-ssh-keys');
    assert.notEqual(noRbac.code, 0);
    assert.match(noRbac.stderr, /Clusters without Kubernetes RBAC support are unable to add the Microsoft Entra integration/);
  });

  it('document 001: registers the AAD-V2 preview feature and the provider', async () => {
    const registered = await az.json('feature', 'register', '--name', 'AAD-V2', '--namespace', 'Microsoft.ContainerService');
    assert.equal(registered.name, 'Microsoft.ContainerService/AAD-V2');
    const listed = await az.json(
      'feature',
      'list',
      '--query',
      "[?contains(name, 'Microsoft.ContainerService/AAD-V2')].{Name:name,State:properties.state}",
    );
    assert.deepEqual(listed, [{ Name: 'Microsoft.ContainerService/AAD-V2', State: 'Registered' }]);
    const provider = await az.run('provider', 'register', '--namespace', 'Microsoft.ContainerService');
    assert.equal(provider.code, 0, provider.stderr);
  });

  it('document 003: legacy integration is refused until the subscription opts in, then migrates to managed', async () => {
    const serverApp = await az.tsv(
      'ad',
      'app',
      'create',
      '--display-name',
      'legacyServer',
      '--identifier-uris',
      'https://legacyServer',
      '--query',
      'appId',
    );
    const clientApp = await az.tsv(
      'ad',
      'app',
      'create',
      '--display-name',
      'legacyClient',
      '--is-fallback-public-client',
      'true',
      '--public-client-redirect-uris',
      'https://legacyClient',
      '--query',
      'appId',
    );
    const secret = await az.tsv('ad', 'app', 'credential', 'reset', '--id', serverApp, '--query', 'password');
    const legacy = [
      'aks',
      'create',
      '-g',
      rg,
      '-n',
      'legacyCluster',
      '--generate-ssh-keys',
      '--aad-server-app-id',
      serverApp,
      '--aad-server-app-secret',
      secret,
      '--aad-client-app-id',
      clientApp,
      '--aad-tenant-id',
      k.endpoints.tenantId,
    ];
    const retired = await az.run(...legacy);
    assert.notEqual(retired.code, 0);
    assert.match(
      retired.stderr,
      /retired on 2023-06-01.*az feature register --namespace Microsoft\.ContainerService --name AllowLegacyAADIntegration/s,
    );
    await az.json('feature', 'register', '--namespace', 'Microsoft.ContainerService', '--name', 'AllowLegacyAADIntegration');
    const created = await az.json(...legacy);
    assert.deepEqual(
      { ...created.aadProfile },
      {
        adminGroupObjectIDs: null,
        clientAppId: clientApp,
        enableAzureRbac: false,
        managed: false,
        serverAppId: serverApp,
        serverAppSecret: null,
        tenantId: k.endpoints.tenantId,
      },
    );
    const legacyKubeconfig = parse((await az.run('aks', 'get-credentials', '-g', rg, '-n', 'legacyCluster', '--file', '-')).stdout);
    const legacyArgs = legacyKubeconfig.users[0].user.exec.args as string[];
    assert.equal(legacyArgs[legacyArgs.indexOf('--server-id') + 1], serverApp, 'a legacy cluster names its own server app');
    assert.equal(legacyArgs[legacyArgs.indexOf('--client-id') + 1], clientApp);
    const migrated = await az.json(
      'aks',
      'update',
      '-g',
      rg,
      '-n',
      'legacyCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
    );
    assert.equal(migrated.aadProfile.managed, true);
    assert.equal(migrated.aadProfile.serverAppId, null);
    const exec = parse((await az.run('aks', 'get-credentials', '-g', rg, '-n', 'legacyCluster', '--file', '-')).stdout);
    assert.ok(
      exec.users[0].user.exec.args.includes('6dae42f8-4368-4678-94ff-3960e28e3630'),
      'after migration the kubeconfig names the AKS server app',
    );
  });

  it('authorizes every call: a user with no role is refused, lists nothing, and delete works for the owner', async () => {
    // A user with no role: az itself will not name a subscription the user cannot list, so ask ARM directly.
    const token = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        grant_type: 'password',
        username: 'nobody@kentra.onmicrosoft.com',
        password: 'Nobody-Passw0rd!',
        scope: 'https://management.core.windows.net//.default',
      },
      k.endpoints.caFile,
    );
    const url = `${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/myManagedCluster?api-version=2022-11-01`;
    const denied = await httpsFetch(url, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${token.json().access_token}` } });
    assert.equal(denied.status, 403);
    assert.equal(denied.json().error.code, 'AuthorizationFailed');
    assert.match(
      denied.json().error.message,
      /does not have authorization or an ABAC condition not fulfilled to perform action 'Microsoft\.ContainerService\/managedClusters\/read' over scope/,
    );
    const names = await az.json('aks', 'list', '--query', '[].name');
    assert.deepEqual(names.sort(), ['legacyCluster', 'myManagedCluster', 'plainCluster']);
    await az.run('aks', 'delete', '-g', rg, '-n', 'plainCluster', '--yes');
    const gone = await az.run('aks', 'show', '-g', rg, '-n', 'plainCluster');
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /ResourceNotFound/);
    const noWait = await az.run('aks', 'create', '-g', rg, '-n', 'noWait', '--generate-ssh-keys', '--no-wait');
    assert.equal(noWait.code, 0);
    assert.equal(noWait.stdout.trim(), '');
  });
});
