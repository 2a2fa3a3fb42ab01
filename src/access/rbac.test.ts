import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adminGroupBinding, defaultRbacObjects, rbacAuthorize, type RbacObjects, type RequestAttributes } from './rbac.js';

const ADMINS = '00000000-0000-4000-8000-0000000000a1';
const user = (username: string, groups: string[] = []) => ({ username, uid: '', groups: [...groups, 'system:authenticated'], extra: {} });
const res = (u: ReturnType<typeof user>, verb: string, resource: string, more: Partial<RequestAttributes> = {}): RequestAttributes => ({
  user: u,
  verb,
  resourceRequest: true,
  apiGroup: '',
  resource,
  ...more,
});
const url = (u: ReturnType<typeof user>, verb: string, path: string): RequestAttributes => ({
  user: u,
  verb,
  resourceRequest: false,
  path,
});

function cluster(extra: Partial<RbacObjects> = {}): RbacObjects {
  const d = defaultRbacObjects();
  return {
    clusterRoles: [...d.clusterRoles, ...(extra.clusterRoles ?? [])],
    clusterRoleBindings: [...d.clusterRoleBindings, adminGroupBinding([ADMINS]), ...(extra.clusterRoleBindings ?? [])],
    roles: extra.roles ?? [],
    roleBindings: extra.roleBindings ?? [],
  };
}

describe('Kubernetes RBAC with upstream semantics', () => {
  it('the admin groups are cluster-admin through aks-cluster-admin-binding-aad; anyone else has no opinion, never deny', () => {
    const alice = user('alice@contoso.com', [ADMINS]);
    assert.deepEqual(rbacAuthorize(cluster(), res(alice, 'list', 'nodes')), {
      decision: 'allow',
      reason: `RBAC: allowed by ClusterRoleBinding "aks-cluster-admin-binding-aad" of ClusterRole "cluster-admin" to Group "${ADMINS}"`,
    });
    assert.equal(rbacAuthorize(cluster(), url(alice, 'get', '/metrics')).decision, 'allow', 'cluster-admin has every non-resource URL');
    assert.deepEqual(rbacAuthorize(cluster(), res(user('bob@contoso.com'), 'list', 'pods', { namespace: 'default' })), {
      decision: 'no-opinion',
      reason: '',
    });
    assert.equal(
      rbacAuthorize(cluster(), res(user('masterclient', ['system:masters']), 'delete', 'namespaces', { name: 'x' })).decision,
      'allow',
    );
  });

  it('every authenticated user may discover the API and ask what they may do', () => {
    const bob = user('bob@contoso.com');
    for (const path of ['/api', '/apis/apps/v1', '/version', '/openapi/v3'])
      assert.equal(rbacAuthorize(cluster(), url(bob, 'get', path)).decision, 'allow', path);
    assert.equal(rbacAuthorize(cluster(), url(bob, 'post', '/api')).decision, 'no-opinion');
    assert.equal(
      rbacAuthorize(cluster(), res(bob, 'create', 'selfsubjectaccessreviews', { apiGroup: 'authorization.k8s.io' })).decision,
      'allow',
    );
    const anonymous = { username: 'system:anonymous', uid: '', groups: ['system:unauthenticated'], extra: {} };
    assert.equal(rbacAuthorize(cluster(), url(anonymous, 'get', '/version')).decision, 'allow');
    assert.equal(rbacAuthorize(cluster(), url(anonymous, 'get', '/api')).decision, 'no-opinion');
  });

  it('subresources are their own resource, `*/sub` matches any, resourceNames only named requests', () => {
    const dev = user('dev@contoso.com');
    const objs = cluster({
      clusterRoles: [
        {
          metadata: { name: 'pod-reader' },
          rules: [
            { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
            { apiGroups: ['*'], resources: ['*/scale'], verbs: ['update'] },
            { apiGroups: [''], resources: ['configmaps'], resourceNames: ['app-config'], verbs: ['get'] },
          ],
        },
      ],
      clusterRoleBindings: [
        {
          metadata: { name: 'dev-reads' },
          roleRef: { kind: 'ClusterRole', name: 'pod-reader' },
          subjects: [{ kind: 'User', name: 'dev@contoso.com' }],
        },
      ],
    });
    assert.equal(rbacAuthorize(objs, res(dev, 'list', 'pods', { namespace: 'a' })).decision, 'allow');
    assert.equal(
      rbacAuthorize(objs, res(dev, 'get', 'pods', { subresource: 'log', name: 'p' })).decision,
      'no-opinion',
      'pods does not grant pods/log',
    );
    assert.equal(
      rbacAuthorize(objs, res(dev, 'update', 'deployments', { apiGroup: 'apps', subresource: 'scale', name: 'web' })).decision,
      'allow',
    );
    assert.equal(rbacAuthorize(objs, res(dev, 'get', 'configmaps', { name: 'app-config' })).decision, 'allow');
    assert.equal(rbacAuthorize(objs, res(dev, 'get', 'configmaps', { name: 'other' })).decision, 'no-opinion');
    assert.equal(
      rbacAuthorize(objs, res(dev, 'list', 'configmaps')).decision,
      'no-opinion',
      'a list has no name, so resourceNames never match it',
    );
    assert.equal(rbacAuthorize(objs, res(user('Dev@contoso.com'), 'list', 'pods')).decision, 'no-opinion', 'user names compare exactly');
  });

  it('a RoleBinding grants only in its namespace, also when it binds a ClusterRole; service accounts default to its namespace', () => {
    const objs = cluster({
      roles: [
        {
          metadata: { name: 'cm-writer', namespace: 'team-a' },
          rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create'] }],
        },
      ],
      roleBindings: [
        {
          metadata: { name: 'view-team-a', namespace: 'team-a' },
          roleRef: { kind: 'ClusterRole', name: 'view' },
          subjects: [{ kind: 'Group', name: 'team-a-devs' }],
        },
        {
          metadata: { name: 'writer', namespace: 'team-a' },
          roleRef: { kind: 'Role', name: 'cm-writer' },
          subjects: [{ kind: 'ServiceAccount', name: 'ci' }],
        },
        {
          metadata: { name: 'broken', namespace: 'team-a' },
          roleRef: { kind: 'Role', name: 'missing' },
          subjects: [{ kind: 'User', name: 'carol' }],
        },
      ],
    });
    const dev = user('dana@contoso.com', ['team-a-devs']);
    assert.deepEqual(rbacAuthorize(objs, res(dev, 'list', 'pods', { namespace: 'team-a' })), {
      decision: 'allow',
      reason: 'RBAC: allowed by RoleBinding "view-team-a/team-a" of ClusterRole "view" to Group "team-a-devs"',
    });
    assert.equal(rbacAuthorize(objs, res(dev, 'list', 'pods', { namespace: 'team-b' })).decision, 'no-opinion');
    assert.equal(rbacAuthorize(objs, res(dev, 'list', 'pods')).decision, 'no-opinion', 'all namespaces needs a ClusterRoleBinding');
    assert.equal(
      rbacAuthorize(objs, res(dev, 'get', 'secrets', { namespace: 'team-a', name: 's' })).decision,
      'no-opinion',
      'view does not read secrets',
    );
    const ci = user('system:serviceaccount:team-a:ci');
    assert.equal(rbacAuthorize(objs, res(ci, 'create', 'configmaps', { namespace: 'team-a' })).decision, 'allow');
    assert.equal(
      rbacAuthorize(objs, res(user('system:serviceaccount:team-b:ci'), 'create', 'configmaps', { namespace: 'team-a' })).decision,
      'no-opinion',
    );
    assert.deepEqual(rbacAuthorize(objs, res(user('carol'), 'get', 'pods', { namespace: 'team-a', name: 'p' })), {
      decision: 'no-opinion',
      reason: 'RoleBinding "team-a/broken": Role.rbac.authorization.k8s.io "missing" not found',
    });
  });

  it('aggregation: admin ⊇ edit ⊇ view, and a new ClusterRole labelled aggregate-to-view widens all three', () => {
    const dev = user('erin@contoso.com');
    const bind = (role: string) => ({
      metadata: { name: `erin-${role}`, namespace: 'ns' },
      roleRef: { kind: 'ClusterRole' as const, name: role },
      subjects: [{ kind: 'User' as const, name: 'erin@contoso.com' }],
    });
    const crd = {
      metadata: { name: 'widgets-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
      rules: [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get', 'list'] }],
    };
    for (const role of ['view', 'edit', 'admin']) {
      const objs = cluster({ clusterRoles: [crd], roleBindings: [bind(role)] });
      assert.equal(rbacAuthorize(objs, res(dev, 'list', 'widgets', { apiGroup: 'example.com', namespace: 'ns' })).decision, 'allow', role);
      assert.equal(
        rbacAuthorize(objs, res(dev, 'create', 'secrets', { namespace: 'ns' })).decision,
        role === 'view' ? 'no-opinion' : 'allow',
        role,
      );
      assert.equal(
        rbacAuthorize(objs, res(dev, 'create', 'rolebindings', { apiGroup: 'rbac.authorization.k8s.io', namespace: 'ns' })).decision,
        role === 'admin' ? 'allow' : 'no-opinion',
        role,
      );
    }
  });
});
