import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discovery } from './discovery.js';
import { decodeKubeProtobuf } from './protobuf.js';
import { findResourceType, humanDuration, type ResourceType } from './resources.js';
import { alreadyExists, forbidden, invalid, KubeError, notFound, requestInfo, unauthorized, type RequestInfo } from './status.js';

const type = (group: string, resource: string): ResourceType => {
  const t = findResourceType(group, 'v1', resource);
  assert.ok(t, `${group}/${resource} is served`);
  return t;
};
const info = (method: string, path: string, query = '') => requestInfo(method, path, new URLSearchParams(query));
const pick = (i: RequestInfo) => ({
  resourceRequest: i.resourceRequest,
  verb: i.verb,
  apiGroup: i.apiGroup,
  apiVersion: i.apiVersion,
  namespace: i.namespace,
  resource: i.resource,
  subresource: i.subresource,
  name: i.name,
});
const json = (e: KubeError) => JSON.stringify(e.body());

describe('requestInfo, as the kube-apiserver RequestInfoFactory', () => {
  it('GET on a namespaced collection is list in that namespace', () => {
    assert.deepEqual(pick(info('GET', '/api/v1/namespaces/default/pods')), {
      resourceRequest: true,
      verb: 'list',
      apiGroup: '',
      apiVersion: 'v1',
      namespace: 'default',
      resource: 'pods',
      subresource: '',
      name: '',
    });
  });

  it('GET on a collection across namespaces is list with no namespace', () => {
    assert.deepEqual(pick(info('GET', '/api/v1/pods')), {
      resourceRequest: true,
      verb: 'list',
      apiGroup: '',
      apiVersion: 'v1',
      namespace: '',
      resource: 'pods',
      subresource: '',
      name: '',
    });
  });

  it('GET on one namespace is get namespaces, named and namespaced by itself', () => {
    assert.deepEqual(pick(info('GET', '/api/v1/namespaces/kube-system')), {
      resourceRequest: true,
      verb: 'get',
      apiGroup: '',
      apiVersion: 'v1',
      namespace: 'kube-system',
      resource: 'namespaces',
      subresource: '',
      name: 'kube-system',
    });
  });

  it('GET /api/v1/namespaces is list namespaces at the cluster scope', () => {
    const i = info('GET', '/api/v1/namespaces');
    assert.equal(i.verb, 'list');
    assert.equal(i.resource, 'namespaces');
    assert.equal(i.namespace, '');
  });

  it('the namespace status subresource stays on the namespaces resource', () => {
    const i = info('PUT', '/api/v1/namespaces/ns1/status');
    assert.deepEqual([i.verb, i.resource, i.name, i.subresource, i.namespace], ['update', 'namespaces', 'ns1', 'status', 'ns1']);
  });

  it('POST on serviceaccounts/token is create on the token subresource', () => {
    assert.deepEqual(pick(info('POST', '/api/v1/namespaces/ns/serviceaccounts/sa/token')), {
      resourceRequest: true,
      verb: 'create',
      apiGroup: '',
      apiVersion: 'v1',
      namespace: 'ns',
      resource: 'serviceaccounts',
      subresource: 'token',
      name: 'sa',
    });
  });

  it('DELETE on a named cluster-scoped object of a group is delete', () => {
    assert.deepEqual(pick(info('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x')), {
      resourceRequest: true,
      verb: 'delete',
      apiGroup: 'rbac.authorization.k8s.io',
      apiVersion: 'v1',
      namespace: '',
      resource: 'clusterrolebindings',
      subresource: '',
      name: 'x',
    });
  });

  it('DELETE on a collection is deletecollection', () => {
    assert.equal(info('DELETE', '/api/v1/namespaces/default/configmaps').verb, 'deletecollection');
    assert.equal(info('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterroles').verb, 'deletecollection');
  });

  it('?watch=true on a collection is watch', () => {
    assert.equal(info('GET', '/api/v1/namespaces/default/pods', 'watch=true').verb, 'watch');
    assert.equal(info('GET', '/api/v1/namespaces/default/pods', 'watch=1').verb, 'watch');
    assert.equal(info('GET', '/api/v1/namespaces/default/pods', 'watch=false').verb, 'list');
  });

  it('PUT, PATCH, HEAD map to update, patch, get', () => {
    assert.equal(info('PUT', '/api/v1/namespaces/a/configmaps/c').verb, 'update');
    assert.equal(info('PATCH', '/api/v1/namespaces/a/configmaps/c').verb, 'patch');
    assert.equal(info('HEAD', '/api/v1/namespaces/a/configmaps/c').verb, 'get');
  });

  it('a list with a metadata.name field selector names the object (kubectl get x -w)', () => {
    const i = info('GET', '/api/v1/namespaces/default/pods', 'fieldSelector=metadata.name%3Dweb&watch=true');
    assert.equal(i.verb, 'watch');
    assert.equal(i.name, 'web');
  });

  it('/version, /api, /api/v1, /apis/<group> and /apis/<group>/<version> are non-resource requests', () => {
    for (const path of [
      '/version',
      '/api',
      '/api/v1',
      '/apis',
      '/apis/rbac.authorization.k8s.io',
      '/apis/rbac.authorization.k8s.io/v1',
      '/metrics',
      '/healthz',
    ]) {
      const i = info('GET', path);
      assert.equal(i.resourceRequest, false, path);
      assert.equal(i.verb, 'get', path);
      assert.equal(i.path, path, path);
    }
    assert.equal(info('POST', '/logs').verb, 'post');
  });
});

describe('forbidden(), as responsewriters.Forbidden + errors.NewForbidden', () => {
  const alice = 'alice@contoso.com';

  it('a namespaced list', () => {
    const e = forbidden(info('GET', '/api/v1/namespaces/default/pods'), alice, '');
    assert.equal(
      e.message,
      'pods is forbidden: User "alice@contoso.com" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    assert.equal(e.status, 403);
    assert.equal(
      json(e),
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'pods is forbidden: User "alice@contoso.com" cannot list resource "pods" in API group "" in the namespace "default"',
        reason: 'Forbidden',
        details: { kind: 'pods' },
        code: 403,
      }),
    );
  });

  it('the cluster scope', () => {
    const e = forbidden(info('GET', '/api/v1/nodes'), alice, '');
    assert.equal(
      e.message,
      'nodes is forbidden: User "alice@contoso.com" cannot list resource "nodes" in API group "" at the cluster scope',
    );
  });

  it('a named object of a group', () => {
    const e = forbidden(info('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x'), alice, '');
    assert.equal(
      e.message,
      'clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: User "alice@contoso.com" cannot delete resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope',
    );
    assert.equal(
      json(e),
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: e.message,
        reason: 'Forbidden',
        details: { name: 'x', group: 'rbac.authorization.k8s.io', kind: 'clusterrolebindings' },
        code: 403,
      }),
    );
  });

  it('a subresource', () => {
    const e = forbidden(info('POST', '/api/v1/namespaces/default/pods/web/exec'), alice, '');
    assert.equal(
      e.message,
      'pods "web" is forbidden: User "alice@contoso.com" cannot create resource "pods/exec" in API group "" in the namespace "default"',
    );
  });

  it('a non-resource path', () => {
    const e = forbidden(info('GET', '/metrics'), 'x', '');
    assert.equal(e.message, 'forbidden: User "x" cannot get path "/metrics"');
    assert.equal(
      json(e),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \\"x\\" cannot get path \\"/metrics\\"","reason":"Forbidden","details":{},"code":403}',
    );
  });

  it('the authorizer reason is appended after ": "', () => {
    const e = forbidden(
      info('GET', '/api/v1/namespaces/default/pods'),
      alice,
      'User does not have access to the resource in Azure. Update role assignment to allow access.',
    );
    assert.equal(
      e.message,
      'pods is forbidden: User "alice@contoso.com" cannot list resource "pods" in API group "" in the namespace "default": User does not have access to the resource in Azure. Update role assignment to allow access.',
    );
  });
});

describe('Status bodies, as apimachinery errors.New*', () => {
  it('unauthorized', () => {
    assert.equal(
      json(unauthorized()),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}',
    );
  });

  it('notFound, core and grouped', () => {
    assert.equal(
      json(notFound(type('', 'pods'), 'web')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"web\\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}',
    );
    assert.equal(
      json(notFound(type('rbac.authorization.k8s.io', 'clusterroles'), 'view2')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"clusterroles.rbac.authorization.k8s.io \\"view2\\" not found","reason":"NotFound","details":{"name":"view2","group":"rbac.authorization.k8s.io","kind":"clusterroles"},"code":404}',
    );
  });

  it('alreadyExists', () => {
    assert.equal(
      json(alreadyExists(type('', 'configmaps'), 'cm')),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"cm\\" already exists","reason":"AlreadyExists","details":{"name":"cm","kind":"configmaps"},"code":409}',
    );
  });

  it('invalid: 422 with one cause per field', () => {
    const msg =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const e = invalid(type('', 'configmaps'), 'Bad_Name', [
      { field: 'metadata.name', type: 'Invalid value', value: 'Bad_Name', detail: msg },
    ]);
    assert.equal(e.status, 422);
    assert.equal(
      json(e),
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${msg}`,
        reason: 'Invalid',
        details: {
          name: 'Bad_Name',
          kind: 'ConfigMap',
          causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "Bad_Name": ${msg}`, field: 'metadata.name' }],
        },
        code: 422,
      }),
    );
  });

  it('invalid: several causes are bracketed, Required value has no value', () => {
    const e = invalid(type('', 'configmaps'), 'x', [
      { field: 'metadata.name', type: 'Required value', detail: 'name or generateName is required' },
      { field: 'data[a b]', type: 'Invalid value', value: 'a b', detail: 'bad key' },
    ]);
    assert.equal(
      e.message,
      'ConfigMap "x" is invalid: [metadata.name: Required value: name or generateName is required, data[a b]: Invalid value: "a b": bad key]',
    );
    assert.deepEqual(
      e.details?.causes?.map((c) => c.reason),
      ['FieldValueRequired', 'FieldValueInvalid'],
    );
  });

  it('invalid: a grouped kind is qualified in the message (GroupKind.String())', () => {
    const e = invalid(type('rbac.authorization.k8s.io', 'clusterrolebindings'), 'x', [
      { field: 'roleRef.name', type: 'Required value', detail: '' },
    ]);
    assert.equal(e.message, 'ClusterRoleBinding.rbac.authorization.k8s.io "x" is invalid: roleRef.name: Required value');
    assert.deepEqual(e.details, {
      name: 'x',
      group: 'rbac.authorization.k8s.io',
      kind: 'ClusterRoleBinding',
      causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'roleRef.name' }],
    });
  });
});

describe('humanDuration, as apimachinery duration.HumanDuration', () => {
  const S = 1000,
    M = 60 * S,
    H = 60 * M,
    D = 24 * H,
    Y = 365 * D;
  const cases: [number, string][] = [
    [0, '0s'],
    [999, '0s'],
    [59 * S, '59s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [2 * M + S, '2m1s'],
    [9 * M + 30 * S, '9m30s'],
    [10 * M, '10m'],
    [12 * M, '12m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 59 * S, '3h'],
    [3 * H + 30 * M, '3h30m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H, '8h'],
    [47 * H, '47h'],
    [47 * H + 59 * M, '47h'],
    [2 * D, '2d'],
    [2 * D + 5 * H, '2d5h'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D, '8d'],
    [400 * D, '400d'],
    [729 * D, '729d'],
    [2 * Y, '2y'],
    [2 * Y + 100 * D, '2y100d'],
    [3 * Y, '3y'],
    [7 * Y + 364 * D, '7y364d'],
    [8 * Y, '8y'],
    [20 * Y, '20y'],
  ];
  for (const [ms, want] of cases) it(`${ms}ms → ${want}`, () => assert.equal(humanDuration(ms), want));

  it('up to one second in the future is "0s" (clock skew), beyond is "<invalid>"', () => {
    assert.equal(humanDuration(-500), '0s');
    assert.equal(humanDuration(-1000), '0s');
    assert.equal(humanDuration(-1999), '0s');
    assert.equal(humanDuration(-2000), '<invalid>');
    assert.equal(humanDuration(-60 * S), '<invalid>');
  });
});

// ---- a tiny protobuf encoder, for the bodies kubectl's typed clients send ---------------------------

const varint = (n: number): Buffer => {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
};
const bytesField = (no: number, value: string | Buffer) => {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((no << 3) | 2), varint(b.length), b]);
};
const varintField = (no: number, value: number) => Buffer.concat([varint(no << 3), varint(value)]);
const msg = (...parts: Buffer[]) => Buffer.concat(parts);
/** `k8s\0` + runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType}. */
const kubeProtobuf = (apiVersion: string, kind: string, raw: Buffer) =>
  Buffer.concat([
    Buffer.from('k8s\0', 'binary'),
    bytesField(1, msg(bytesField(1, apiVersion), bytesField(2, kind))),
    bytesField(2, raw),
    bytesField(3, ''),
    bytesField(4, ''),
  ]);

describe('decodeKubeProtobuf', () => {
  it('a SelfSubjectAccessReview (kubectl auth can-i list pods -n default)', () => {
    const raw = msg(
      bytesField(1, Buffer.alloc(0)), // metadata: empty ObjectMeta
      bytesField(
        2,
        msg(
          bytesField(
            1,
            msg(
              bytesField(1, 'default'),
              bytesField(2, 'list'),
              bytesField(3, ''),
              bytesField(4, ''),
              bytesField(5, 'pods'),
              bytesField(6, ''),
              bytesField(7, ''),
            ),
          ),
        ),
      ),
      bytesField(3, msg(varintField(1, 0))), // status: not decoded
    );
    assert.deepEqual(decodeKubeProtobuf(kubeProtobuf('authorization.k8s.io/v1', 'SelfSubjectAccessReview', raw)), {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' } },
    });
  });

  it('a TokenRequest (kubectl create token --audience a --audience b --duration 10m)', () => {
    const raw = msg(
      bytesField(1, msg(bytesField(1, 'sa'), bytesField(3, 'ns'))),
      bytesField(2, msg(bytesField(1, 'api://AzureADTokenExchange'), bytesField(1, 'https://kubernetes.default.svc'), varintField(4, 600))),
    );
    assert.deepEqual(decodeKubeProtobuf(kubeProtobuf('authentication.k8s.io/v1', 'TokenRequest', raw)), {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name: 'sa', namespace: 'ns' },
      spec: { audiences: ['api://AzureADTokenExchange', 'https://kubernetes.default.svc'], expirationSeconds: 600 },
    });
  });

  it('a ConfigMap with labels and data maps', () => {
    const entry = (k: string, v: string) => msg(bytesField(1, k), bytesField(2, v));
    const raw = msg(
      bytesField(1, msg(bytesField(1, 'cm'), bytesField(11, entry('app', 'web')), bytesField(11, entry('tier', 'fe')))),
      bytesField(2, entry('k', 'v')),
    );
    assert.deepEqual(decodeKubeProtobuf(kubeProtobuf('v1', 'ConfigMap', raw)), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', labels: { app: 'web', tier: 'fe' } },
      data: { k: 'v' },
    });
  });

  it('a body without the k8s\\0 magic is a 400', () => {
    assert.throws(
      () => decodeKubeProtobuf(Buffer.from('{"kind":"x"}')),
      (e: unknown) => e instanceof KubeError && e.status === 400 && e.reason === 'BadRequest',
    );
    assert.throws(
      () => decodeKubeProtobuf(Buffer.from('k8s')),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
  });

  it('a truncated body and an unsupported kind are 400s', () => {
    const good = kubeProtobuf('v1', 'ConfigMap', msg(bytesField(1, msg(bytesField(1, 'cm')))));
    assert.throws(
      () => decodeKubeProtobuf(good.subarray(0, good.length - 6)),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
    assert.throws(
      () => decodeKubeProtobuf(kubeProtobuf('apps/v1', 'Deployment', Buffer.alloc(0))),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
  });
});

describe('discovery', () => {
  const state = { cfg: { kubernetesVersion: '1.30.6' } } as any;
  const get = (path: string) => discovery(path, state, 'localhost:8443') as any;

  it('/version', () => {
    const v = get('/version');
    assert.equal(v.gitVersion, 'v1.30.6');
    assert.equal(v.major, '1');
    assert.equal(v.minor, '30');
  });

  it('/api lists v1', () => {
    const a = get('/api');
    assert.equal(a.kind, 'APIVersions');
    assert.deepEqual(a.versions, ['v1']);
  });

  it('/apis lists rbac.authorization.k8s.io with its preferred version', () => {
    const a = get('/apis');
    assert.equal(a.kind, 'APIGroupList');
    const rbac = a.groups.find((g: any) => g.name === 'rbac.authorization.k8s.io');
    assert.ok(rbac);
    assert.deepEqual(rbac.preferredVersion, { groupVersion: 'rbac.authorization.k8s.io/v1', version: 'v1' });
    assert.ok(!a.groups.some((g: any) => g.name === ''), 'the core group is not in /apis');
    assert.equal(get('/apis/rbac.authorization.k8s.io').kind, 'APIGroup');
    assert.equal(get('/apis/nope.example.com'), null);
  });

  it('/api/v1 lists pods with short names and the serviceaccounts/token subresource', () => {
    const list = get('/api/v1');
    assert.equal(list.kind, 'APIResourceList');
    assert.equal(list.groupVersion, 'v1');
    const pods = list.resources.find((r: any) => r.name === 'pods');
    assert.deepEqual(pods.shortNames, ['po']);
    assert.equal(pods.namespaced, true);
    assert.equal(pods.kind, 'Pod');
    const token = list.resources.find((r: any) => r.name === 'serviceaccounts/token');
    assert.ok(token);
    assert.equal(token.group, 'authentication.k8s.io');
    assert.equal(token.version, 'v1');
    assert.equal(token.kind, 'TokenRequest');
    assert.deepEqual(token.verbs, ['create']);
  });

  it('/apis/rbac.authorization.k8s.io/v1 lists the four RBAC resources', () => {
    const names = get('/apis/rbac.authorization.k8s.io/v1')
      .resources.map((r: any) => r.name)
      .sort();
    assert.deepEqual(names, ['clusterrolebindings', 'clusterroles', 'rolebindings', 'roles']);
  });

  it('/openapi/v3 indexes api/v1 with a server-relative URL', () => {
    const index = get('/openapi/v3');
    assert.ok(index.paths['api/v1']);
    assert.match(index.paths['api/v1'].serverRelativeURL, /^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]+$/);
    assert.ok(index.paths['apis/rbac.authorization.k8s.io/v1']);
  });

  it('the api/v1 document: pods patch declares fieldValidation and its group-version-kind', () => {
    const doc = get('/openapi/v3/api/v1');
    const item = doc.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
    assert.ok(item?.patch, 'the pods item path has a patch operation');
    assert.ok(item.patch.parameters.some((p: any) => p.name === 'fieldValidation' && p.in === 'query'));
    assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: '', version: 'v1', kind: 'Pod' });
    assert.ok(doc.paths['/api/v1/namespaces/{namespace}/pods'].post.parameters.some((p: any) => p.name === 'fieldValidation'));
    assert.deepEqual(doc.paths['/api/v1/namespaces/{name}'].patch['x-kubernetes-group-version-kind'], {
      group: '',
      version: 'v1',
      kind: 'Namespace',
    });
  });

  it('health paths and unknown paths', () => {
    assert.equal(get('/healthz'), 'ok');
    assert.equal(get('/readyz'), 'ok');
    assert.equal(get('/nope'), null);
  });
});
