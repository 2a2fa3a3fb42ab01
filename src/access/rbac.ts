import type { UserInfo } from './authn.js';

// Kubernetes RBAC with the kube-apiserver's semantics (reference/guard-rbac.md §5): rules match on
// verb, API group, resource[/subresource], resource name or non-resource URL; ClusterRoleBindings
// apply everywhere, RoleBindings only in their namespace (a ClusterRole bound by one applies only
// there); a match allows, nothing matching is "no opinion" (RBAC never denies); aggregated
// ClusterRoles take the rules of the ClusterRoles their selectors pick.

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface RbacRole {
  kind?: 'Role' | 'ClusterRole';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[] | null;
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] } | null;
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RbacBinding {
  kind?: 'RoleBinding' | 'ClusterRoleBinding';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  roleRef: { apiGroup?: string; kind: 'Role' | 'ClusterRole'; name: string };
  subjects?: Subject[] | null;
}

export interface RbacObjects {
  clusterRoles: RbacRole[];
  clusterRoleBindings: RbacBinding[];
  roles: RbacRole[];
  roleBindings: RbacBinding[];
}

/** What is being asked, as in a SubjectAccessReview. */
export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  resourceRequest: boolean;
  namespace?: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  path?: string;
}

export interface Decision {
  decision: 'allow' | 'deny' | 'no-opinion';
  reason: string;
}

const has = (list: string[] | undefined | null, value: string) => !!list && (list.includes('*') || list.includes(value));

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) {
    const path = a.path ?? '';
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, a.apiGroup ?? '')) return false;
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : (a.resource ?? '');
  const resourceOk = (rule.resources ?? []).some(
    (r) => r === '*' || r === combined || (a.subresource !== undefined && a.subresource !== '' && r === `*/${a.subresource}`),
  );
  if (!resourceOk) return false;
  if (!rule.resourceNames || rule.resourceNames.length === 0) return true;
  return !!a.name && rule.resourceNames.includes(a.name);
}

function appliesTo(subject: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user.username;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount':
      return user.username === `system:serviceaccount:${subject.namespace || bindingNamespace || ''}:${subject.name}`;
    default:
      return false;
  }
}

export function selectorMatches(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const present = Object.prototype.hasOwnProperty.call(labels, e.key);
    const inValues = present && (e.values ?? []).includes(labels[e.key]!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !present) return false;
    if (e.operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

/**
 * ClusterRoles with aggregation rules get the union of the rules of the ClusterRoles they select, as
 * the controller does; repeated until nothing changes, since aggregated roles select each other
 * (admin takes edit, which takes view).
 */
export function aggregateClusterRoles(roles: RbacRole[]): RbacRole[] {
  let current = roles;
  for (let pass = 0; pass < 10; pass++) {
    let changed = false;
    current = current.map((role) => {
      const selectors = role.aggregationRule?.clusterRoleSelectors;
      if (!selectors || selectors.length === 0) return role;
      const rules: PolicyRule[] = [];
      const seen = new Set<string>();
      for (const other of current) {
        if (other.metadata.name === role.metadata.name || !selectors.some((s) => selectorMatches(s, other.metadata.labels))) continue;
        for (const rule of other.rules ?? []) {
          const key = JSON.stringify(rule);
          if (!seen.has(key)) {
            seen.add(key);
            rules.push(rule);
          }
        }
      }
      if (rules.length === (role.rules ?? []).length) return role;
      changed = true;
      return { ...role, rules };
    });
    if (!changed) break;
  }
  return current;
}

const subjectText = (s: Subject) =>
  s.kind === 'ServiceAccount' ? `ServiceAccount "${s.namespace ? `${s.namespace}/` : ''}${s.name}"` : `${s.kind} "${s.name}"`;

/** The RBAC decision for one request: allow with the binding that allowed it, or no opinion with why. */
export function rbacAuthorize(objects: RbacObjects, a: RequestAttributes): Decision {
  const clusterRoles = new Map(aggregateClusterRoles(objects.clusterRoles).map((r) => [r.metadata.name, r]));
  const problems: string[] = [];
  const visit = (binding: RbacBinding, kind: 'ClusterRoleBinding' | 'RoleBinding'): Decision | null => {
    const ns = kind === 'RoleBinding' ? binding.metadata.namespace : undefined;
    const subject = (binding.subjects ?? []).find((s) => appliesTo(s, a.user, ns));
    if (!subject) return null;
    const ref = binding.roleRef;
    const role =
      ref.kind === 'ClusterRole'
        ? clusterRoles.get(ref.name)
        : kind === 'RoleBinding'
          ? objects.roles.find((r) => r.metadata.name === ref.name && r.metadata.namespace === ns)
          : undefined;
    if (!role) {
      problems.push(
        `${kind === 'RoleBinding' ? `RoleBinding "${ns}/${binding.metadata.name}"` : `ClusterRoleBinding "${binding.metadata.name}"`}: ${ref.kind}.rbac.authorization.k8s.io "${ref.name}" not found`,
      );
      return null;
    }
    if (!(role.rules ?? []).some((rule) => ruleAllows(rule, a))) return null;
    const where = kind === 'RoleBinding' ? `RoleBinding "${binding.metadata.name}/${ns}"` : `ClusterRoleBinding "${binding.metadata.name}"`;
    return { decision: 'allow', reason: `RBAC: allowed by ${where} of ${ref.kind} "${ref.name}" to ${subjectText(subject)}` };
  };
  for (const b of objects.clusterRoleBindings) {
    const d = visit(b, 'ClusterRoleBinding');
    if (d) return d;
  }
  if (a.namespace) {
    for (const b of objects.roleBindings) {
      if (b.metadata.namespace !== a.namespace) continue;
      const d = visit(b, 'RoleBinding');
      if (d) return d;
    }
  }
  return { decision: 'no-opinion', reason: problems.length ? problems.join('; ') : '' };
}

// ---- the objects a new cluster starts with ------------------------------------------------------------

const AGG = 'rbac.authorization.k8s.io/aggregate-to-';
const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const CORE_VIEW = [
  'configmaps',
  'endpoints',
  'persistentvolumeclaims',
  'persistentvolumeclaims/status',
  'pods',
  'replicationcontrollers',
  'replicationcontrollers/scale',
  'serviceaccounts',
  'services',
  'services/status',
  'bindings',
  'events',
  'limitranges',
  'namespaces/status',
  'pods/log',
  'pods/status',
  'replicationcontrollers/status',
  'resourcequotas',
  'resourcequotas/status',
  'namespaces',
];
const APPS = ['daemonsets', 'deployments', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale'];
const bootstrapLabels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };

const clusterRole = (name: string, rules: PolicyRule[], labels: Record<string, string> = {}, aggregateFrom?: string): RbacRole => ({
  kind: 'ClusterRole',
  metadata: { name, labels: { ...bootstrapLabels, ...labels } },
  rules,
  ...(aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`${AGG}${aggregateFrom}`]: 'true' } }] } } : {}),
});
const clusterBinding = (
  name: string,
  role: string,
  subjects: Subject[],
  labels: Record<string, string> = bootstrapLabels,
): RbacBinding => ({
  kind: 'ClusterRoleBinding',
  metadata: { name, labels },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects,
});
const group = (name: string): Subject => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name });

/**
 * The default roles and bindings of a new cluster: upstream's bootstrap policy for the roles users
 * meet (cluster-admin, admin/edit/view with their aggregation, basic-user, discovery,
 * public-info-viewer), abbreviated to the resources the emulated API serves.
 */
export function defaultRbacObjects(): RbacObjects {
  return {
    clusterRoles: [
      clusterRole('cluster-admin', [
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
        { nonResourceURLs: ['*'], verbs: ['*'] },
      ]),
      clusterRole('admin', [], {}, 'admin'),
      clusterRole('edit', [], { [`${AGG}admin`]: 'true' }, 'edit'),
      clusterRole('view', [], { [`${AGG}edit`]: 'true' }, 'view'),
      clusterRole(
        'system:aggregate-to-admin',
        [
          { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: [...READ, ...WRITE] },
          { apiGroups: ['authorization.k8s.io'], resources: ['localsubjectaccessreviews'], verbs: ['create'] },
        ],
        { [`${AGG}admin`]: 'true' },
      ),
      clusterRole(
        'system:aggregate-to-edit',
        [
          {
            apiGroups: [''],
            resources: ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy'],
            verbs: ['create', 'delete', 'deletecollection', 'patch', 'update'],
          },
          {
            apiGroups: [''],
            resources: [
              'configmaps',
              'endpoints',
              'events',
              'persistentvolumeclaims',
              'replicationcontrollers',
              'replicationcontrollers/scale',
              'secrets',
              'serviceaccounts',
              'services',
              'services/proxy',
            ],
            verbs: WRITE,
          },
          { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
          { apiGroups: ['apps'], resources: APPS, verbs: WRITE },
          {
            apiGroups: [''],
            resources: ['secrets', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'services/proxy'],
            verbs: READ,
          },
          { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
        ],
        { [`${AGG}edit`]: 'true' },
      ),
      clusterRole(
        'system:aggregate-to-view',
        [
          { apiGroups: [''], resources: CORE_VIEW, verbs: READ },
          {
            apiGroups: ['apps'],
            resources: [
              ...APPS,
              'controllerrevisions',
              'daemonsets/status',
              'deployments/status',
              'replicasets/status',
              'statefulsets/status',
            ],
            verbs: READ,
          },
          { apiGroups: ['batch'], resources: ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'], verbs: READ },
        ],
        { [`${AGG}view`]: 'true' },
      ),
      clusterRole('system:basic-user', [
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      ]),
      clusterRole('system:discovery', [
        {
          nonResourceURLs: [
            '/api',
            '/api/*',
            '/apis',
            '/apis/*',
            '/healthz',
            '/livez',
            '/openapi',
            '/openapi/*',
            '/readyz',
            '/version',
            '/version/',
          ],
          verbs: ['get'],
        },
      ]),
      clusterRole('system:public-info-viewer', [
        { nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] },
      ]),
    ],
    clusterRoleBindings: [
      clusterBinding('cluster-admin', 'cluster-admin', [group('system:masters')]),
      clusterBinding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
      clusterBinding('system:discovery', 'system:discovery', [group('system:authenticated')]),
      clusterBinding('system:public-info-viewer', 'system:public-info-viewer', [
        group('system:authenticated'),
        group('system:unauthenticated'),
      ]),
    ],
    roles: [],
    roleBindings: [],
  };
}

/** AKS's binding of the cluster's admin groups to cluster-admin, reconciled whenever `adminGroupObjectIDs` change. */
export function adminGroupBinding(adminGroupObjectIDs: string[]): RbacBinding {
  return clusterBinding('aks-cluster-admin-binding-aad', 'cluster-admin', adminGroupObjectIDs.map(group), {
    'addonmanager.kubernetes.io/mode': 'Reconcile',
    'kubernetes.io/cluster-service': 'true',
  });
}
