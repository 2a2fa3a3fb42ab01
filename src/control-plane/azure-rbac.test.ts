import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore, type Store } from '../store/index.js';
import {
  AZURE_DENIED,
  AZURE_NO_OPINION,
  AZURE_NO_OPINION_NON_AAD,
  azureRbacAuthorizer,
  CLUSTER_TYPES,
  dataActionOf,
  reviewAccess,
  type AccessRequest,
  type AzureAuthorizer,
} from '../access/index.js';
import { controlPlaneAccessPorts } from './access-ports.js';

// Guard's Azure RBAC authorizer (src/access) over the control plane's data-action check (its role assignments).

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLUSTER =
  '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1';
const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const TEAM = 'c0ffee00-0000-4000-8000-0000000000a1';
const READER = '7f6c6a51-bcf8-42ba-9220-52d62157d7db';
const WRITER = 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb';
const MC = CLUSTER_TYPES.managedCluster;

const resource = (
  verb: string,
  resource: string,
  more: Partial<NonNullable<AccessRequest['resourceAttributes']>> = {},
  who: Partial<AccessRequest> = {},
): AccessRequest => ({
  user: 'alice@contoso.com',
  groups: ['system:authenticated'],
  extra: { oid: [ALICE] },
  resourceAttributes: { verb, resource, group: '', ...more },
  ...who,
});

describe('Azure RBAC for Kubernetes, as Guard decides it', () => {
  let store: Store;
  let now = 0;
  const clock = { now: () => now };
  let authorize: AzureAuthorizer;

  before(async () => {
    store = await openStore({ url: 'sqlite::memory:' });
    await store.createRoleAssignment({
      id: 'ra-reader',
      tenantId: TENANT,
      scope: `${CLUSTER}/namespaces/dev`,
      roleDefinitionId: READER,
      principalId: ALICE,
      principalType: 'User',
      createdAt: 0,
    });
    await store.createRoleAssignment({
      id: 'ra-team',
      tenantId: TENANT,
      scope: CLUSTER,
      roleDefinitionId: WRITER,
      principalId: TEAM,
      principalType: 'Group',
      createdAt: 0,
    });
    const { dataActions } = controlPlaneAccessPorts(store, { publicKey: () => undefined }, clock);
    authorize = azureRbacAuthorizer({ dataActions, clock, tenantId: TENANT, clusterResourceId: CLUSTER, clusterType: MC });
  });
  after(async () => store.close());

  it('maps requests to data actions as Guard does', () => {
    assert.equal(dataActionOf(MC, resource('list', 'pods', { namespace: 'default' })), `${MC}/pods/read`);
    assert.equal(dataActionOf(MC, resource('get', 'deployments', { group: 'apps' })), `${MC}/apps/deployments/read`);
    assert.equal(
      dataActionOf(MC, resource('create', 'rolebindings', { group: 'rbac.authorization.k8s.io' })),
      `${MC}/rbac.authorization.k8s.io/rolebindings/write`,
    );
    assert.equal(dataActionOf(MC, resource('create', 'pods', { subresource: 'exec' })), `${MC}/pods/exec/action`);
    assert.equal(dataActionOf(MC, resource('get', 'pods', { subresource: 'log' })), `${MC}/pods/read`, 'other subresources are ignored');
    assert.equal(
      dataActionOf(MC, resource('update', 'deployments', { group: 'apps', subresource: 'scale' })),
      `${MC}/apps/deployments/write`,
    );
    assert.equal(dataActionOf(MC, resource('deletecollection', 'secrets')), `${MC}/secrets/delete`);
    assert.equal(dataActionOf(MC, resource('impersonate', 'users')), `${MC}/users/impersonate/action`);
    assert.equal(
      dataActionOf(MC, { user: 'u', groups: [], extra: {}, nonResourceAttributes: { path: '/metrics', verb: 'get' } }),
      `${MC}/metrics/read`,
    );
  });

  it('allows by a role assignment at the namespace scope, only there; denies elsewhere without falling through', async () => {
    const allowed = await authorize(resource('list', 'pods', { namespace: 'dev' }));
    assert.deepEqual(allowed, {
      allowed: true,
      reason: `Access allowed by Azure RBAC Role Assignment ${CLUSTER}/namespaces/dev/providers/Microsoft.Authorization/roleAssignments/ra-reader of Role ${READER} to user alice@contoso.com`,
    });
    assert.deepEqual(await authorize(resource('list', 'pods', { namespace: 'prod' })), {
      allowed: false,
      denied: true,
      reason: AZURE_DENIED,
    });
    assert.deepEqual(
      await authorize(resource('create', 'configmaps', { namespace: 'dev' })),
      { allowed: false, denied: true, reason: AZURE_DENIED },
      'Reader does not write',
    );
    assert.deepEqual(
      await authorize(resource('list', 'nodes')),
      { allowed: false, denied: true, reason: AZURE_DENIED },
      'cluster scope needs a cluster-scope assignment',
    );
  });

  it("a group's assignment at the cluster covers every namespace; groups that are not object IDs are ignored", async () => {
    const r = await authorize(
      resource(
        'create',
        'configmaps',
        { namespace: 'prod' },
        { user: 'bob@contoso.com', extra: { oid: ['b0b00000-0000-4000-8000-000000000002'] }, groups: [TEAM, 'system:authenticated'] },
      ),
    );
    assert.equal(r.allowed, true);
    assert.match(r.reason, /roleAssignments\/ra-team of Role a7ffa36f/);
  });

  it('no opinion for system users and users without an Entra object ID; discovery allowed; wildcards are an error', async () => {
    assert.deepEqual(await authorize(resource('list', 'pods', {}, { user: 'system:serviceaccount:dev:ci', extra: {} })), {
      allowed: false,
      reason: AZURE_NO_OPINION,
    });
    assert.deepEqual(await authorize(resource('list', 'pods', {}, { user: 'masterclient', extra: {} })), {
      allowed: false,
      reason: AZURE_NO_OPINION_NON_AAD,
    });
    assert.equal(
      (
        await authorize({
          user: 'bob',
          groups: [],
          extra: { oid: ['b0b00000-0000-4000-8000-000000000002'] },
          nonResourceAttributes: { path: '/apis/apps/v1', verb: 'get' },
        })
      ).allowed,
      true,
    );
    assert.match((await authorize(resource('*', '*'))).error ?? '', /^Wildcard support for Resource\/Verb\/Group is not enabled/);
  });

  it("keeps a decision 3 minutes under Guard's key (user, namespace, group, resource, verb), not the resource name", async () => {
    const late = 'ra-late';
    const req = resource('get', 'secrets', { namespace: 'dev', name: 'a' });
    assert.equal((await authorize(req)).denied, true);
    await store.createRoleAssignment({
      id: late,
      tenantId: TENANT,
      scope: CLUSTER,
      roleDefinitionId: WRITER,
      principalId: ALICE,
      principalType: 'User',
      createdAt: 0,
    });
    assert.equal(
      (await authorize(resource('get', 'secrets', { namespace: 'dev', name: 'b' }))).denied,
      true,
      'cached (as in Azure: assignments take minutes to arrive)',
    );
    now += 181_000;
    assert.equal((await authorize(req)).allowed, true);
  });

  describe('SubjectAccessReview in the version the kube-apiserver sends', () => {
    it('v1, as in reference §4.2, and v1beta1 with its `group` field', async () => {
      const v1 = await reviewAccess(
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            resourceAttributes: { namespace: 'dev', verb: 'list', group: '', version: 'v1', resource: 'pods', subresource: '', name: '' },
            user: 'alice@contoso.com',
            uid: '',
            groups: ['system:authenticated'],
            extra: { oid: [ALICE] },
          },
        },
        authorize,
      );
      assert.equal(v1.statusCode, 200);
      assert.equal((v1.body as any).apiVersion, 'authorization.k8s.io/v1');
      assert.equal((v1.body as any).status.allowed, true);
      const beta = await reviewAccess(
        {
          apiVersion: 'authorization.k8s.io/v1beta1',
          kind: 'SubjectAccessReview',
          spec: {
            resourceAttributes: { namespace: 'prod', verb: 'create', resource: 'configmaps' },
            user: 'bob@contoso.com',
            group: [TEAM],
            extra: { oid: ['b0b00000-0000-4000-8000-000000000002'] },
          },
        },
        authorize,
      );
      assert.deepEqual(
        [beta.statusCode, (beta.body as any).apiVersion, (beta.body as any).status.allowed],
        [200, 'authorization.k8s.io/v1beta1', true],
      );
      const denied = await reviewAccess(
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            resourceAttributes: { namespace: 'prod', verb: 'delete', resource: 'pods', name: 'p' },
            user: 'carol@contoso.com',
            groups: [],
            extra: { oid: ['ca201000-0000-4000-8000-000000000003'] },
          },
        },
        authorize,
      );
      assert.deepEqual((denied.body as any).status, { allowed: false, denied: true, reason: AZURE_DENIED });
      const wildcard = await reviewAccess(
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { resourceAttributes: { verb: '*', resource: '*', group: '*' }, user: 'alice@contoso.com', extra: { oid: [ALICE] } },
        },
        authorize,
      );
      assert.deepEqual([wildcard.statusCode, (wildcard.body as any).kind, (wildcard.body as any).reason], [500, 'Status', 'InternalError']);
    });

    it('refuses malformed reviews with 400 and a Kubernetes Status', async () => {
      for (const body of [
        null,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview' },
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'a' } },
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: 'a', resourceAttributes: {}, nonResourceAttributes: {} },
        },
        { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: 'a', groups: 'g', resourceAttributes: {} } },
      ]) {
        const r = await reviewAccess(body, authorize);
        assert.deepEqual([r.statusCode, r.body.kind, r.body.reason], [400, 'Status', 'BadRequest'], JSON.stringify(body));
      }
    });
  });
});
