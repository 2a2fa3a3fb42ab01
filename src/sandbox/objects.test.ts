import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fieldsMatch,
  jsonPatch,
  labelsMatch,
  mergePatch,
  parseLabelSelector,
  prepareCreate,
  strategicMergePatch,
  validate,
} from './objects.js';
import { findResourceType, type KubeBody, type ResourceType } from './resources.js';
import { KubeError } from './status.js';

const type = (group: string, resource: string): ResourceType => {
  const t = findResourceType(group, 'v1', resource);
  assert.ok(t, `${group}/${resource} is served`);
  return t;
};
const RBAC = 'rbac.authorization.k8s.io';
const CM = type('', 'configmaps');
const NS = type('', 'namespaces');
const SECRET = type('', 'secrets');
const CRB = type(RBAC, 'clusterrolebindings');
const RB = type(RBAC, 'rolebindings');
const CR = type(RBAC, 'clusterroles');

/** The 422's causes as `field: message`, or null when the object is valid. */
function problems(t: ResourceType, obj: KubeBody, old?: KubeBody): string[] | null {
  try {
    validate(t, obj, old);
    return null;
  } catch (e) {
    assert.ok(e instanceof KubeError, String(e));
    assert.equal(e.status, 422);
    assert.equal(e.reason, 'Invalid');
    return (e.details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);
  }
}
const view = { apiGroup: RBAC, kind: 'ClusterRole', name: 'view' };
const user = { kind: 'User', apiGroup: RBAC, name: 'alice@contoso.com' };
const crb = (name: string, extra: KubeBody = {}): KubeBody => ({
  apiVersion: `${RBAC}/v1`,
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: view,
  subjects: [user],
  ...extra,
});

describe('validate', () => {
  it('names of most types are DNS-1123 subdomains', () => {
    assert.equal(problems(CM, { metadata: { name: 'app.config-1' } }), null);
    const p = problems(CM, { metadata: { name: 'Bad_Name' } });
    assert.equal(p?.length, 1);
    assert.ok(
      p![0]!.startsWith(
        'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters',
      ),
      p![0],
    );
    assert.ok(problems(CM, { metadata: { name: 'x'.repeat(254) } }));
    assert.deepEqual(problems(CM, { metadata: {} }), ['metadata.name: Required value: name or generateName is required']);
  });

  it('namespace names are DNS-1123 labels (no dots)', () => {
    assert.equal(problems(NS, { metadata: { name: 'team-a' } }), null);
    const p = problems(NS, { metadata: { name: 'team.a' } });
    assert.ok(p?.[0]?.startsWith('metadata.name: Invalid value: "team.a": a lowercase RFC 1123 label must consist of'), String(p));
    assert.ok(problems(NS, { metadata: { name: 'Team' } }));
    assert.ok(problems(NS, { metadata: { name: 'a'.repeat(64) } }));
  });

  it('RBAC names allow upper case and ":" but not "/", "%", "." or ".."', () => {
    assert.equal(problems(CR, { metadata: { name: 'system:Aggregate-To-View' }, rules: [] }), null);
    assert.equal(problems(CRB, crb('Alice:Admin')), null);
    assert.deepEqual(problems(CRB, crb('a/b')), ['metadata.name: Invalid value: "a/b": may not contain \'/\'']);
    assert.deepEqual(problems(CRB, crb('a%b')), ['metadata.name: Invalid value: "a%b": may not contain \'%\'']);
    assert.deepEqual(problems(CRB, crb('..')), ['metadata.name: Invalid value: "..": may not be \'..\'']);
  });

  it('a ClusterRoleBinding without roleRef: 422 with roleRef.name required', () => {
    const p = problems(CRB, { metadata: { name: 'x' }, subjects: [user] });
    assert.ok(p?.includes('roleRef.name: Required value'), String(p));
  });

  it('a ClusterRoleBinding without roleRef: the causes of ValidateClusterRoleBinding, in its order', () => {
    assert.deepEqual(problems(CRB, { metadata: { name: 'x' }, subjects: [user] }), [
      'roleRef.apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"',
      'roleRef.kind: Unsupported value: "": supported values: "ClusterRole"',
      'roleRef.name: Required value',
    ]);
  });

  it('a ClusterRoleBinding may only reference a ClusterRole; a RoleBinding a Role or ClusterRole', () => {
    assert.deepEqual(problems(CRB, crb('x', { roleRef: { ...view, kind: 'Role' } })), [
      'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
    ]);
    assert.equal(problems(RB, { metadata: { name: 'x', namespace: 'ns' }, roleRef: { ...view, kind: 'Role' }, subjects: [user] }), null);
  });

  it('a ServiceAccount subject needs a namespace in a ClusterRoleBinding, not in a RoleBinding', () => {
    const sa = { kind: 'ServiceAccount', name: 'builder' };
    assert.deepEqual(problems(CRB, crb('x', { subjects: [user, sa] })), ['subjects[1].namespace: Required value']);
    assert.equal(problems(CRB, crb('x', { subjects: [{ ...sa, namespace: 'ci' }] })), null);
    assert.equal(problems(RB, { metadata: { name: 'x', namespace: 'ci' }, roleRef: view, subjects: [sa] }), null);
  });

  it('User and Group subjects need the RBAC apiGroup; unknown kinds are refused', () => {
    assert.deepEqual(problems(CRB, crb('x', { subjects: [{ kind: 'User', name: 'bob' }] })), [
      'subjects[0].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"',
    ]);
    assert.ok(
      problems(CRB, crb('x', { subjects: [{ kind: 'Robot', apiGroup: RBAC, name: 'r2' }] }))?.[0]?.startsWith(
        'subjects[0].kind: Unsupported value: "Robot"',
      ),
    );
  });

  it('roleRef cannot change on update', () => {
    const old = crb('x');
    const p = problems(CRB, crb('x', { roleRef: { ...view, name: 'edit' } }), old);
    assert.equal(p?.length, 1);
    assert.ok(p![0]!.startsWith('roleRef: Invalid value: '), p![0]);
    assert.ok(p![0]!.endsWith(': cannot change roleRef'), p![0]);
    assert.equal(problems(CRB, crb('x', { subjects: [] }), old), null, 'other fields may change');
  });

  it('the same roleRef with its keys in another order is not a change', () => {
    const old = crb('x');
    assert.equal(problems(CRB, crb('x', { roleRef: { name: 'view', kind: 'ClusterRole', apiGroup: RBAC } }), old), null);
  });

  it('the Invalid message of an RBAC kind is qualified by its group', () => {
    assert.throws(
      () => validate(CRB, crb('a/b')),
      (e: unknown) =>
        e instanceof KubeError &&
        e.message ===
          'ClusterRoleBinding.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain \'/\'',
    );
  });

  it('role rules need verbs and resources', () => {
    assert.deepEqual(problems(CR, { metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'] }] }), [
      'rules[0].verbs: Required value: verbs must contain at least one value',
    ]);
    assert.equal(problems(CR, { metadata: { name: 'r' }, rules: [{ verbs: ['get'], nonResourceURLs: ['/metrics'] }] }), null);
  });

  it('labels must be strings; config keys must be valid', () => {
    assert.ok(problems(CM, { metadata: { name: 'c', labels: { a: 1 } } }));
    assert.ok(problems(CM, { metadata: { name: 'c' }, data: { 'a b': 'x' } }));
    assert.equal(problems(CM, { metadata: { name: 'c', labels: { a: 'b' } }, data: { 'key.name_1-x': 'x' } }), null);
  });
});

describe('prepareCreate', () => {
  const now = Date.parse('2025-03-04T05:06:07.891Z');

  it('generateName gets five random characters; uid and creationTimestamp in seconds', () => {
    const out = prepareCreate(CM, { metadata: { generateName: 'web-', resourceVersion: '9' }, data: {} }, 'default', now);
    assert.match(out.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.match(out.metadata.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(out.metadata.creationTimestamp, '2025-03-04T05:06:07Z');
    assert.equal(out.metadata.namespace, 'default');
    assert.equal(out.metadata.resourceVersion, undefined);
    const again = prepareCreate(CM, { metadata: { generateName: 'web-' } }, 'default', now);
    assert.notEqual(again.metadata.uid, out.metadata.uid);
  });

  it('a given name wins over generateName; cluster-scoped objects lose their namespace', () => {
    const out = prepareCreate(NS, { metadata: { name: 'team-a', generateName: 'x-', namespace: 'oops' } }, '', now);
    assert.equal(out.metadata.name, 'team-a');
    assert.equal('namespace' in out.metadata, false);
    assert.deepEqual(out.spec, { finalizers: ['kubernetes'] });
    assert.deepEqual(out.status, { phase: 'Active' });
  });

  it('secrets: stringData is folded into base64 data, type defaults to Opaque', () => {
    const out = prepareCreate(
      SECRET,
      { metadata: { name: 's' }, data: { a: Buffer.from('one').toString('base64') }, stringData: { b: 'two', a: 'uno' } },
      'ns',
      now,
    );
    assert.deepEqual(out.data, { a: Buffer.from('uno').toString('base64'), b: 'dHdv' });
    assert.equal('stringData' in out, false);
    assert.equal(out.type, 'Opaque');
  });
});

describe('mergePatch (RFC 7386 appendix A)', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  cases.forEach(([target, patch, want], i) =>
    it(`example ${i + 1}: ${JSON.stringify(patch)}`, () => assert.deepEqual(mergePatch(target, patch), want)),
  );

  it('does not modify its target', () => {
    const target = { a: { b: 'c' } };
    mergePatch(target, { a: { b: null } });
    assert.deepEqual(target, { a: { b: 'c' } });
  });
});

describe('strategicMergePatch', () => {
  const cm = { metadata: { name: 'c', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] }, data: { k: 'v' } };

  it('maps merge, null deletes, lists are replaced', () => {
    assert.deepEqual(strategicMergePatch(cm, { metadata: { labels: { b: null, c: '3' }, finalizers: ['z'] }, data: { k2: 'v2' } }), {
      metadata: { name: 'c', labels: { a: '1', c: '3' }, finalizers: ['z'] },
      data: { k: 'v', k2: 'v2' },
    });
  });

  it('$setElementOrder and $retainKeys directives are dropped', () => {
    const out = strategicMergePatch(cm, {
      $setElementOrder: [],
      metadata: { '$setElementOrder/finalizers': ['y', 'x'], $retainKeys: ['name', 'labels'], labels: { a: '9' } },
    }) as KubeBody;
    assert.deepEqual(out, { metadata: { name: 'c', labels: { a: '9', b: '2' }, finalizers: ['x', 'y'] }, data: { k: 'v' } });
    assert.ok(!JSON.stringify(out).includes('$'));
  });

  it('$patch: delete removes a map; $patch: replace replaces it', () => {
    assert.deepEqual(strategicMergePatch(cm, { data: { $patch: 'delete' } }), { metadata: cm.metadata });
    assert.deepEqual(strategicMergePatch(cm, { metadata: { labels: { $patch: 'replace', z: '0' } } }), {
      metadata: { ...cm.metadata, labels: { z: '0' } },
      data: { k: 'v' },
    });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  const doc = { metadata: { name: 'c', labels: { a: '1' } }, data: { k: 'v' }, list: ['a', 'b'] };
  const apply = (ops: unknown) => jsonPatch(doc, ops, CM, 'c') as KubeBody;

  it('add, remove, replace', () => {
    assert.deepEqual(apply([{ op: 'add', path: '/metadata/labels/b', value: '2' }]).metadata.labels, { a: '1', b: '2' });
    assert.deepEqual(apply([{ op: 'add', path: '/list/-', value: 'c' }]).list, ['a', 'b', 'c']);
    assert.deepEqual(apply([{ op: 'add', path: '/list/0', value: 'z' }]).list, ['z', 'a', 'b']);
    assert.deepEqual(apply([{ op: 'remove', path: '/data/k' }]).data, {});
    assert.deepEqual(apply([{ op: 'remove', path: '/list/0' }]).list, ['b']);
    assert.deepEqual(apply([{ op: 'replace', path: '/data/k', value: 'w' }]).data, { k: 'w' });
    assert.deepEqual(
      apply([
        { op: 'add', path: '/metadata/annotations', value: { 'a~b/c': 'x' } },
        { op: 'remove', path: '/metadata/annotations/a~0b~1c' },
      ]).metadata.annotations,
      {},
    );
    assert.deepEqual(doc.data, { k: 'v' }, 'the target is not modified');
  });

  it('move and copy', () => {
    const moved = apply([{ op: 'move', from: '/data/k', path: '/data/k2' }]);
    assert.deepEqual(moved.data, { k2: 'v' });
    const copied = apply([{ op: 'copy', from: '/metadata/labels', path: '/spec' }]);
    assert.deepEqual(copied.spec, { a: '1' });
    assert.deepEqual(copied.metadata.labels, { a: '1' });
  });

  it('test passes on equal values and fails with a 422', () => {
    assert.deepEqual(
      apply([
        { op: 'test', path: '/data/k', value: 'v' },
        { op: 'replace', path: '/data/k', value: 'w' },
      ]).data,
      { k: 'w' },
    );
    assert.throws(
      () =>
        apply([
          { op: 'test', path: '/data/k', value: 'nope' },
          { op: 'replace', path: '/data/k', value: 'w' },
        ]),
      (e: unknown) => e instanceof KubeError && e.status === 422 && e.reason === 'Invalid',
    );
  });

  it('a missing path is a 422; a body that is not a list is a 400', () => {
    assert.throws(
      () => apply([{ op: 'remove', path: '/data/missing' }]),
      (e: unknown) => e instanceof KubeError && e.status === 422,
    );
    assert.throws(
      () => apply([{ op: 'replace', path: '/nope/x', value: 1 }]),
      (e: unknown) => e instanceof KubeError && e.status === 422,
    );
    assert.throws(
      () => apply({ op: 'add' }),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
  });
});

describe('label and field selectors', () => {
  const obj = (labels: Record<string, string>): KubeBody => ({ metadata: { name: 'o', labels } });

  it('parses every requirement form', () => {
    assert.deepEqual(parseLabelSelector('a=b,c!=d,e in (x, y),f notin (x),g,!h,i==j'), [
      { key: 'a', op: '=', values: ['b'] },
      { key: 'c', op: '!=', values: ['d'] },
      { key: 'e', op: 'in', values: ['x', 'y'] },
      { key: 'f', op: 'notin', values: ['x'] },
      { key: 'g', op: 'exists', values: [] },
      { key: 'h', op: '!exists', values: [] },
      { key: 'i', op: '=', values: ['j'] },
    ]);
    assert.deepEqual(parseLabelSelector(''), []);
  });

  it('a=b and a!=b (!= also matches objects without the label)', () => {
    assert.equal(labelsMatch('a=b', obj({ a: 'b' })), true);
    assert.equal(labelsMatch('a=b', obj({ a: 'c' })), false);
    assert.equal(labelsMatch('a!=b', obj({ a: 'c' })), true);
    assert.equal(labelsMatch('a!=b', obj({})), true);
    assert.equal(labelsMatch('a!=b', obj({ a: 'b' })), false);
  });

  it('in, notin, exists, !exists', () => {
    assert.equal(labelsMatch('a in (x,y)', obj({ a: 'y' })), true);
    assert.equal(labelsMatch('a in (x,y)', obj({ a: 'z' })), false);
    assert.equal(labelsMatch('a in (x,y)', obj({})), false);
    assert.equal(labelsMatch('a notin (x)', obj({ a: 'y' })), true);
    assert.equal(labelsMatch('a notin (x)', obj({})), true);
    assert.equal(labelsMatch('a notin (x)', obj({ a: 'x' })), false);
    assert.equal(labelsMatch('a', obj({ a: '' })), true);
    assert.equal(labelsMatch('a', obj({})), false);
    assert.equal(labelsMatch('!a', obj({})), true);
    assert.equal(labelsMatch('!a', obj({ a: 'x' })), false);
  });

  it('requirements joined by commas must all hold; the empty selector matches everything', () => {
    const sel = 'app=web,tier in (fe,be),!canary,env';
    assert.equal(labelsMatch(sel, obj({ app: 'web', tier: 'be', env: 'prod' })), true);
    assert.equal(labelsMatch(sel, obj({ app: 'web', tier: 'be', env: 'prod', canary: 'true' })), false);
    assert.equal(labelsMatch(sel, obj({ app: 'web', tier: 'db', env: 'prod' })), false);
    assert.equal(labelsMatch(sel, obj({ app: 'web', tier: 'fe' })), false);
    assert.equal(labelsMatch('', obj({})), true);
    assert.equal(labelsMatch('', { metadata: { name: 'no-labels' } }), true);
  });

  it('a malformed requirement is a 400', () => {
    assert.throws(
      () => parseLabelSelector('a in x'),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
  });

  it('field selectors: spec.nodeName=n1,status.phase!=Failed', () => {
    const pod = (nodeName: string | undefined, phase: string): KubeBody => ({
      metadata: { name: 'p', namespace: 'd' },
      spec: { nodeName },
      status: { phase },
    });
    const sel = 'spec.nodeName=n1,status.phase!=Failed';
    assert.equal(fieldsMatch(sel, pod('n1', 'Running')), true);
    assert.equal(fieldsMatch(sel, pod('n1', 'Failed')), false);
    assert.equal(fieldsMatch(sel, pod('n2', 'Running')), false);
    assert.equal(fieldsMatch('spec.nodeName=', pod(undefined, 'Pending')), true, 'an unset field is the empty string');
    assert.equal(fieldsMatch('metadata.name==p,metadata.namespace=d', pod('n1', 'Running')), true);
    assert.throws(
      () => fieldsMatch('spec.nodeName', pod('n1', 'Running')),
      (e: unknown) => e instanceof KubeError && e.status === 400,
    );
  });
});
