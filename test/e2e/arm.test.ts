import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runClient } from '../support/clients.js';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Kentra's ARM over HTTPS: the long-running operation contract, ETags, the refusals of the Entra
// profile's rules, role assignments with inherited scopes, and the real @azure/arm-containerservice.

const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: dev@kentra.onmicrosoft.com, password: 'Dev-Passw0rd!', id: 77777777-0000-4000-8000-000000000001 }
    groups:
      - { displayName: admins, id: 77777777-0000-4000-8000-0000000000a1 }
`;
const API = 'api-version=2022-11-01';

describe('ARM for managed clusters', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let owner: string;
  let dev: string;
  const base = () => `${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}`;
  const cluster = (name: string) => `${base()}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/${name}`;
  const arm = (token: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResponse> =>
    httpsFetch(url.includes('api-version') ? url : `${url}${url.includes('?') ? '&' : '?'}${API}`, {
      method,
      caFile: k.endpoints.caFile,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    });
  const clusterBody = (aadProfile?: unknown, extra: Record<string, unknown> = {}) => ({
    location: 'eastus',
    properties: {
      dnsPrefix: 'c1',
      agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
      ...(aadProfile === undefined ? {} : { aadProfile }),
      ...extra,
    },
  });
  const waitFor = async (res: HttpResponse) => {
    const op = String(res.headers['azure-asyncoperation']);
    for (let i = 0; i < 50; i++) {
      const status = (await httpsFetch(op, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${owner}` } })).json();
      if (status.status !== 'InProgress') return status;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('operation did not finish');
  };
  const error = (res: HttpResponse, status: number, code: string, message?: RegExp) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json().error.code, code);
    if (message) assert.match(res.json().error.message, message);
  };

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '200'] });
    const token = async (fields: Record<string, string>) =>
      (
        await postForm(
          `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
          { scope: 'https://management.azure.com/.default', ...fields },
          k.endpoints.caFile,
        )
      ).json().access_token as string;
    owner = await token({
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
    });
    dev = await token({
      client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
      grant_type: 'password',
      username: 'dev@kentra.onmicrosoft.com',
      password: 'Dev-Passw0rd!',
    });
    assert.equal((await arm(owner, 'PUT', `${base()}/resourcegroups/rg1`, { location: 'eastus' })).status, 201);
  });
  after(async () => k?.close());

  it('runs a create as a long-running operation with Azure-AsyncOperation and Retry-After', async () => {
    const res = await arm(
      owner,
      'PUT',
      cluster('c1'),
      clusterBody({ managed: true, adminGroupObjectIDs: ['77777777-0000-4000-8000-0000000000a1'] }),
    );
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json().properties.provisioningState, 'Creating');
    assert.match(
      String(res.headers['azure-asyncoperation']),
      new RegExp(
        `^https://localhost:\\d+/subscriptions/${k.endpoints.subscriptionId}/providers/Microsoft.ContainerService/locations/eastus/operations/[0-9a-f-]{36}\\?api-version=`,
      ),
    );
    assert.equal(res.headers['retry-after'], '1');
    const done = await waitFor(res);
    assert.equal(done.status, 'Succeeded');
    const got = (await arm(owner, 'GET', cluster('c1'))).json();
    assert.equal(got.properties.provisioningState, 'Succeeded');
    assert.equal(got.properties.aadProfile.tenantID, k.endpoints.tenantId, "the tenant defaults to the caller's");
    assert.equal(got.properties.servicePrincipalProfile.clientId, 'msi');
    assert.ok(got.properties.identityProfile.kubeletidentity.objectId);
  });

  it('honours If-Match and takes only tags on PATCH', async () => {
    const current = (await arm(owner, 'GET', cluster('c1'))).json();
    error(await arm(owner, 'PUT', cluster('c1'), clusterBody({ managed: true }), { 'if-match': '"stale"' }), 412, 'PreconditionFailed');
    const ok = await arm(owner, 'PUT', cluster('c1'), clusterBody({ managed: true, adminGroupObjectIDs: [] }), {
      'if-match': current.eTag,
    });
    assert.equal(ok.status, 200, ok.text);
    await waitFor(ok);
    const patched = await arm(owner, 'PATCH', cluster('c1'), { tags: { team: 'blue' } });
    assert.deepEqual(patched.json().tags, { team: 'blue' });
    error(
      await arm(owner, 'PATCH', cluster('c1'), { properties: { disableLocalAccounts: true } }),
      400,
      'InvalidRequestContent',
      /tags only/,
    );
  });

  it('refuses what the source documents say cannot be done, changing nothing (F14)', async () => {
    error(await arm(owner, 'PUT', cluster('c1'), clusterBody()), 400, 'AADDisableNotAllowed', /can't be disabled/);
    error(
      await arm(
        owner,
        'PUT',
        cluster('c1'),
        clusterBody({
          managed: false,
          serverAppID: '77777777-0000-4000-8000-0000000000b1',
          clientAppID: '77777777-0000-4000-8000-0000000000b2',
          serverAppSecret: 'x',
        }),
      ),
      400,
      'AADManagedToLegacyNotAllowed',
    );
    error(await arm(owner, 'PUT', cluster('c1'), clusterBody({ managed: true }, { enableRBAC: false })), 400, 'BadRequest', /enableRBAC/);
    error(await arm(owner, 'PUT', cluster('c2'), clusterBody({ managed: true }, { enableRBAC: false })), 400, 'AADWithoutRBACNotAllowed');
    error(
      await arm(owner, 'PUT', cluster('c2'), clusterBody({ managed: true, adminGroupObjectIDs: ['not-a-guid'] })),
      400,
      'InvalidAADAdminGroupObjectID',
      /not a valid GUID/,
    );
    error(
      await arm(owner, 'PUT', cluster('c2'), clusterBody({ managed: true, adminGroupObjectIDs: ['77777777-0000-4000-8000-000000000001'] })),
      400,
      'InvalidAADAdminGroupObjectID',
      /is not a group/,
    );
    error(
      await arm(
        owner,
        'PUT',
        cluster('c2'),
        clusterBody({
          managed: false,
          serverAppID: '77777777-0000-4000-8000-0000000000b1',
          clientAppID: '77777777-0000-4000-8000-0000000000b2',
          serverAppSecret: 'x',
        }),
      ),
      400,
      'AADLegacyRetired',
    );
    const plain = await arm(owner, 'PUT', cluster('plain'), clusterBody());
    await waitFor(plain);
    error(
      await arm(
        owner,
        'PUT',
        cluster('plain'),
        clusterBody({
          managed: false,
          serverAppID: '77777777-0000-4000-8000-0000000000b1',
          clientAppID: '77777777-0000-4000-8000-0000000000b2',
          serverAppSecret: 'x',
        }),
      ),
      400,
      'AADLegacyUpdateNotAllowed',
    );
    error(await arm(owner, 'PUT', cluster('c3'), clusterBody(undefined, { kubernetesVersion: '1.9' })), 400, 'K8sVersionNotSupported');
    assert.equal((await arm(owner, 'GET', cluster('c2'))).status, 404, 'nothing was created by a refused request');
    assert.equal((await arm(owner, 'GET', cluster('c1'))).json().properties.aadProfile.managed, true);
    error(
      await httpsFetch(cluster('c1'), { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${owner}` } }),
      400,
      'MissingApiVersionParameter',
    );
    error(await arm('not-a-token', 'GET', cluster('c1')), 401, 'InvalidAuthenticationToken');
  });

  it('decides access by role assignments, inherited from the scope above', async () => {
    error(
      await arm(dev, 'GET', cluster('c1')),
      403,
      'AuthorizationFailed',
      /'Microsoft.ContainerService\/managedClusters\/read' over scope/,
    );
    const assign = (scope: string, roleId: string, name: string) =>
      arm(owner, 'PUT', `${k.endpoints.armEndpoint}${scope.slice(1)}/providers/Microsoft.Authorization/roleAssignments/${name}`, {
        properties: {
          roleDefinitionId: `/subscriptions/${k.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
          principalId: '77777777-0000-4000-8000-000000000001',
        },
      });
    const rgScope = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/rg1`;
    const created = await assign(rgScope, '4abbcc35-e782-43d8-92c5-2d3f1bd2253f', '77777777-1111-4000-8000-000000000001');
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json().properties.principalType, 'User');
    const userCreds = await arm(dev, 'POST', `${cluster('c1')}/listClusterUserCredential`);
    assert.equal(userCreds.status, 200, 'Cluster User Role at the resource group covers the cluster');
    const kubeconfig = parse(Buffer.from(userCreds.json().kubeconfigs[0].value, 'base64').toString());
    assert.equal(userCreds.json().kubeconfigs[0].name, 'clusterUser');
    assert.match(kubeconfig.clusters[0].cluster.server, /^https:\/\/localhost:\d+\/clusters\/[0-9a-f-]{36}$/);
    error(await arm(dev, 'POST', `${cluster('c1')}/listClusterAdminCredential`), 403, 'AuthorizationFailed', /listClusterAdminCredential/);
    const listed = (
      await arm(
        owner,
        'GET',
        `${base()}/resourceGroups/rg1/providers/Microsoft.Authorization/roleAssignments?$filter=principalId eq '77777777-0000-4000-8000-000000000001'`,
      )
    ).json();
    assert.equal(listed.value.length, 1);
    error(
      await assign(rgScope, '4abbcc35-e782-43d8-92c5-2d3f1bd2253f', '77777777-1111-4000-8000-000000000002'),
      409,
      'RoleAssignmentExists',
    );
    error(
      await assign(rgScope, '00000000-0000-0000-0000-000000000000', '77777777-1111-4000-8000-000000000003'),
      400,
      'RoleDefinitionDoesNotExist',
    );
    const defs = (
      await arm(
        owner,
        'GET',
        `${base()}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq 'Azure Kubernetes Service RBAC Reader'`,
      )
    ).json();
    assert.equal(defs.value[0].name, '7f6c6a51-bcf8-42ba-9220-52d62157d7db');
    assert.equal(
      (
        await arm(
          owner,
          'DELETE',
          `${k.endpoints.armEndpoint}${rgScope.slice(1)}/providers/Microsoft.Authorization/roleAssignments/77777777-1111-4000-8000-000000000001`,
        )
      ).status,
      200,
    );
    error(await arm(dev, 'POST', `${cluster('c1')}/listClusterUserCredential`), 403, 'AuthorizationFailed');
  });

  it('deletes a cluster as a long-running operation, and a resource group with what is in it', async () => {
    const del = await arm(owner, 'DELETE', cluster('plain'));
    assert.equal(del.status, 202);
    assert.match(String(del.headers.location), /\/operationresults\//);
    await waitFor(del);
    assert.equal((await arm(owner, 'GET', cluster('plain'))).status, 404);
    const rgDel = await arm(owner, 'DELETE', `${base()}/resourcegroups/rg1`);
    assert.equal(rgDel.status, 202);
    assert.equal((await arm(owner, 'GET', cluster('c1'))).status, 404, 'the clusters went with the group');
  });

  it('serves the real @azure/arm-containerservice: create (polled), get, user credentials, delete', async () => {
    assert.equal((await arm(owner, 'PUT', `${base()}/resourcegroups/sdk-rg`, { location: 'eastus' })).status, 201);
    const r = await runClient(
      {
        lib: 'arm',
        authority: k.endpoints.authority,
        tenantId: k.endpoints.tenantId,
        clientId: k.endpoints.servicePrincipal.appId,
        secret: k.endpoints.servicePrincipal.secret,
        subscriptionId: k.endpoints.subscriptionId,
        resourceGroup: 'sdk-rg',
        clusterName: 'sdk-cluster',
        adminGroup: '77777777-0000-4000-8000-0000000000a1',
      },
      { caFile: k.endpoints.caFile },
    );
    assert.ok(r.ok, r.error);
    assert.equal(r.result.provisioningState, 'Succeeded');
    assert.equal(r.result.aadProfile.managed, true);
    assert.deepEqual(r.result.aadProfile.adminGroupObjectIDs, ['77777777-0000-4000-8000-0000000000a1']);
    assert.equal(r.result.kubeconfigName, 'clusterUser');
    assert.match(r.result.kubeconfig, /command: kubelogin/);
    assert.equal(r.result.afterDelete, 'ResourceNotFound');
  });
});
