// The resource types the built-in Kubernetes API serves: what discovery lists, how a path names a
// stored object, and the columns `kubectl get` shows (the server prints tables, kubectl only lays
// them out).

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'date';
  format: string;
  description: string;
  priority: number;
}

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower case: `pods`. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  /** Subresources served (`token` for service accounts). */
  subresources?: { name: string; kind: string; group?: string; version?: string; verbs: string[] }[];
  /** Create-only review types: nothing is stored, the POST answers. */
  virtual?: boolean;
  columns: ColumnDefinition[];
  cells(obj: KubeBody, now: number): unknown[];
}

export type KubeBody = Record<string, any>;

const READ_WRITE = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const col = (name: string, type: ColumnDefinition['type'], description: string, priority = 0, format = ''): ColumnDefinition => ({
  name,
  type,
  format,
  description,
  priority,
});
const NAME = col(
  'Name',
  'string',
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  0,
  'name',
);
const AGE = col(
  'Age',
  'string',
  'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
);
const CREATED_AT = col('Created At', 'date', AGE.description);

/** kubectl's short durations (`5d`, `3h12m`, `42s`), as the apiserver's `HumanDuration`. */
export function humanDuration(ms: number): string {
  const s = Math.trunc(ms / 1000);
  // Up to a second in the future is clock skew.
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 60 * 2) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 60 * 3) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  if (h < 24 * 365 * 8) {
    const d = Math.floor(h / 24);
    return d % 365 === 0 ? `${Math.floor(d / 365)}y` : `${Math.floor(d / 365)}y${d % 365}d`;
  }
  return `${Math.floor(h / 24 / 365)}y`;
}

const age = (obj: KubeBody, now: number) => {
  const t = Date.parse(obj.metadata?.creationTimestamp ?? '');
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
};
const none = (v: unknown) => (v === undefined || v === null || v === '' ? '<none>' : v);
const subjectsOf = (obj: KubeBody, kind: string) => {
  const names = (obj.subjects ?? [])
    .filter((s: KubeBody) => s.kind === kind)
    .map((s: KubeBody) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name));
  return names.length ? names.join(', ') : '';
};

function podCells(obj: KubeBody, now: number): unknown[] {
  const statuses: KubeBody[] = obj.status?.containerStatuses ?? [];
  const containers = (obj.spec?.containers ?? []).length;
  const ready = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const readinessGates = obj.spec?.readinessGates?.length ? `0/${obj.spec.readinessGates.length}` : '<none>';
  return [
    obj.metadata.name,
    `${ready}/${containers}`,
    obj.status?.phase ?? 'Pending',
    restarts,
    age(obj, now),
    none(obj.status?.podIP),
    none(obj.spec?.nodeName),
    none(obj.status?.nominatedNodeName),
    readinessGates,
  ];
}

function nodeCells(obj: KubeBody, now: number): unknown[] {
  const ready = (obj.status?.conditions ?? []).find((c: KubeBody) => c.type === 'Ready');
  const status = ready?.status === 'True' ? 'Ready' : 'NotReady';
  const labels: Record<string, string> = obj.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter(Boolean);
  const addr = (type: string) => none((obj.status?.addresses ?? []).find((a: KubeBody) => a.type === type)?.address);
  const info = obj.status?.nodeInfo ?? {};
  return [
    obj.metadata.name,
    obj.spec?.unschedulable ? `${status},SchedulingDisabled` : status,
    roles.length ? roles.sort().join(',') : '<none>',
    age(obj, now),
    info.kubeletVersion ?? '',
    addr('InternalIP'),
    addr('ExternalIP'),
    info.osImage ?? '<unknown>',
    info.kernelVersion ?? '<unknown>',
    info.containerRuntimeVersion ?? '<unknown>',
  ];
}

function serviceCells(obj: KubeBody, now: number): unknown[] {
  const ports = (obj.spec?.ports ?? [])
    .map((p: KubeBody) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
    .join(',');
  const selector = Object.entries(obj.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    obj.metadata.name,
    obj.spec?.type ?? 'ClusterIP',
    obj.spec?.clusterIP ?? '<none>',
    '<none>',
    ports || '<none>',
    age(obj, now),
    selector || '<none>',
  ];
}

const bindingCells = (obj: KubeBody, now: number) => [
  obj.metadata.name,
  `${obj.roleRef?.kind}/${obj.roleRef?.name}`,
  age(obj, now),
  subjectsOf(obj, 'User'),
  subjectsOf(obj, 'Group'),
  subjectsOf(obj, 'ServiceAccount'),
];
const bindingColumns = [
  NAME,
  col('Role', 'string', ''),
  AGE,
  col('Users', 'string', '', 1),
  col('Groups', 'string', '', 1),
  col('ServiceAccounts', 'string', '', 1),
];
const nameAndAge = { columns: [NAME, AGE], cells: (obj: KubeBody, now: number) => [obj.metadata.name, age(obj, now)] };
const review = (group: string, version: string, resource: string, kind: string, namespaced = false): ResourceType => ({
  group,
  version,
  resource,
  singular: resource.slice(0, -1),
  kind,
  namespaced,
  verbs: ['create'],
  virtual: true,
  ...nameAndAge,
});

export const RESOURCE_TYPES: ResourceType[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
    columns: [NAME, col('Status', 'string', 'The status of the namespace'), AGE],
    cells: (o, now) => [o.metadata.name, o.status?.phase ?? 'Active', age(o, now)],
  },
  {
    group: '',
    version: 'v1',
    resource: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    verbs: READ_WRITE,
    shortNames: ['no'],
    columns: [
      NAME,
      col('Status', 'string', 'The status of the node'),
      col('Roles', 'string', 'The roles of the node'),
      AGE,
      col('Version', 'string', 'Kubelet Version reported by the node.'),
      col('Internal-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      col('External-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
      col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      col(
        'Container-Runtime',
        'string',
        'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
        1,
      ),
    ],
    cells: nodeCells,
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    verbs: READ_WRITE,
    shortNames: ['po'],
    categories: ['all'],
    columns: [
      NAME,
      col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 'The aggregate status of the containers in this pod.'),
      col(
        'Restarts',
        'string',
        'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
      ),
      AGE,
      col('IP', 'string', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
      col('Node', 'string', 'Name of the Node this pod is bound to.', 1),
      col(
        'Nominated Node',
        'string',
        'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.',
        1,
      ),
      col(
        'Readiness Gates',
        'string',
        'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
        1,
      ),
    ],
    cells: podCells,
  },
  {
    group: '',
    version: 'v1',
    resource: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    verbs: READ_WRITE.filter((v) => v !== 'deletecollection'),
    shortNames: ['svc'],
    categories: ['all'],
    columns: [
      NAME,
      col('Type', 'string', 'The type of the service.'),
      col('Cluster-IP', 'string', 'The cluster IP of the service.'),
      col('External-IP', 'string', 'The external IP of the service.'),
      col('Port(s)', 'string', 'The ports of the service.'),
      AGE,
      col('Selector', 'string', 'The selector of the service.', 1),
    ],
    cells: serviceCells,
  },
  {
    group: '',
    version: 'v1',
    resource: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    verbs: READ_WRITE,
    shortNames: ['sa'],
    subresources: [{ name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] }],
    columns: [
      NAME,
      col(
        'Secrets',
        'integer',
        'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.',
      ),
      AGE,
    ],
    cells: (o, now) => [o.metadata.name, (o.secrets ?? []).length, age(o, now)],
  },
  {
    group: '',
    version: 'v1',
    resource: 'configmaps',
    singular: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    verbs: READ_WRITE,
    shortNames: ['cm'],
    columns: [NAME, col('Data', 'string', 'Data contains the configuration data.'), AGE],
    cells: (o, now) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o, now)],
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    singular: 'secret',
    kind: 'Secret',
    namespaced: true,
    verbs: READ_WRITE,
    columns: [NAME, col('Type', 'string', 'The type of the secret'), col('Data', 'string', 'The number of entries in the secret'), AGE],
    cells: (o, now) => [o.metadata.name, o.type ?? 'Opaque', Object.keys(o.data ?? {}).length, age(o, now)],
  },
  {
    group: '',
    version: 'v1',
    resource: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    verbs: READ_WRITE,
    shortNames: ['ev'],
    columns: [
      col('Last Seen', 'string', 'Time when this Event was last observed.'),
      col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future.'),
      col(
        'Reason',
        'string',
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
      ),
      col('Object', 'string', 'The object this Event is about.'),
      col('Message', 'string', 'A human-readable description of the status of this operation.'),
    ],
    cells: (o, now) => [
      age({ metadata: { creationTimestamp: o.lastTimestamp ?? o.metadata?.creationTimestamp } }, now),
      o.type ?? '',
      o.reason ?? '',
      `${String(o.involvedObject?.kind ?? '').toLowerCase()}/${o.involvedObject?.name ?? ''}`,
      o.message ?? '',
    ],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    resource: 'leases',
    singular: 'lease',
    kind: 'Lease',
    namespaced: true,
    verbs: READ_WRITE,
    columns: [NAME, col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), AGE],
    cells: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o, now)],
  },
  review('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'SelfSubjectReview'),
  review('authentication.k8s.io', 'v1', 'tokenreviews', 'TokenReview'),
  review('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview'),
  review('authorization.k8s.io', 'v1', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview'),
  review('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview'),
  review('authorization.k8s.io', 'v1', 'localsubjectaccessreviews', 'LocalSubjectAccessReview', true),
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterroles',
    singular: 'clusterrole',
    kind: 'ClusterRole',
    namespaced: false,
    verbs: READ_WRITE,
    columns: [NAME, CREATED_AT],
    cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'clusterrolebindings',
    singular: 'clusterrolebinding',
    kind: 'ClusterRoleBinding',
    namespaced: false,
    verbs: READ_WRITE,
    columns: bindingColumns,
    cells: bindingCells,
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'roles',
    singular: 'role',
    kind: 'Role',
    namespaced: true,
    verbs: READ_WRITE,
    columns: [NAME, CREATED_AT],
    cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
  },
  {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    resource: 'rolebindings',
    singular: 'rolebinding',
    kind: 'RoleBinding',
    namespaced: true,
    verbs: READ_WRITE,
    columns: bindingColumns,
    cells: bindingCells,
  },
];

/** Extra versions served for the review APIs older kubectl versions ask for (`auth whoami` in 1.27–1.29). */
export const EXTRA_VERSIONS: Record<string, string[]> = { 'authentication.k8s.io': ['v1beta1', 'v1alpha1'] };

export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
/** The store's key for a type: `<group>/<plural>`. */
export const storeKeyOf = (t: ResourceType) => `${t.group}/${t.resource}`;

export function findResourceType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find(
    (t) => t.group === group && t.resource === resource && (t.version === version || (EXTRA_VERSIONS[group] ?? []).includes(version)),
  );
}

/** The groups in discovery order, core first, with the versions each serves. */
export function apiGroups(): { group: string; versions: string[] }[] {
  const groups: { group: string; versions: string[] }[] = [];
  for (const t of RESOURCE_TYPES) {
    if (!groups.some((g) => g.group === t.group))
      groups.push({ group: t.group, versions: [t.version, ...(EXTRA_VERSIONS[t.group] ?? [])] });
  }
  return groups;
}
