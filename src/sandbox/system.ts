import { createHash } from 'node:crypto';
import { adminGroupBinding, defaultRbacObjects, type RbacBinding, type RbacRole } from '../access/index.js';
import type { KubeBody } from './resources.js';

// The objects a new AKS cluster has before anyone touches it: its namespaces, a node per agent-pool
// VM, the kube-system pods AKS runs, the default service accounts, the kubernetes service, the
// bootstrap RBAC policy and AKS's own bindings (admin groups, local accounts).

export interface AgentPool {
  name: string;
  count: number;
  vmSize: string;
  osType?: string;
  mode?: string;
  orchestratorVersion?: string;
}

export interface ClusterShape {
  uid: string;
  kubernetesVersion: string;
  location: string;
  agentPools: AgentPool[];
  adminGroupObjectIDs: string[] | null;
  /** The CA kubectl trusts for this API (kube-root-ca.crt). */
  serverCaPem: string;
  createdAt: number;
}

/** An object to store: its resource key (`<group>/<plural>`), namespace and body. */
export interface SystemObject {
  resource: string;
  namespace: string;
  body: KubeBody;
}

export const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];
export const ADMIN_GROUP_BINDING = 'aks-cluster-admin-binding-aad';

const hex = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);
const digits = (s: string, n: number) =>
  String(parseInt(hex(s, 12), 16))
    .padStart(n, '0')
    .slice(-n);
const suffix = (s: string, n = 5) => [...hex(s, n)].map((c) => 'bcdfghjklmnpqrstvwxz2456789'[parseInt(c, 16)]).join('');
const uidOf = (s: string) => {
  const h = hex(s, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const ts = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

/** The node names of a cluster's agent pools, as AKS names VMSS instances. */
export function nodeNames(c: ClusterShape): { pool: AgentPool; name: string; index: number }[] {
  const out: { pool: AgentPool; name: string; index: number }[] = [];
  let index = 0;
  for (const pool of c.agentPools) {
    for (let i = 0; i < pool.count; i++)
      out.push({
        pool,
        name: `aks-${pool.name}-${digits(`${c.uid}/${pool.name}`, 8)}-vmss${i.toString(36).padStart(6, '0')}`,
        index: index++,
      });
  }
  return out;
}

function node(c: ClusterShape, n: ReturnType<typeof nodeNames>[number]): KubeBody {
  const created = ts(c.createdAt);
  const ip = `10.224.0.${4 + n.index}`;
  const version = `v${n.pool.orchestratorVersion || c.kubernetesVersion}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      uid: uidOf(`${c.uid}/node/${n.name}`),
      creationTimestamp: created,
      labels: {
        agentpool: n.pool.name,
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/instance-type': n.pool.vmSize,
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.azure.com/agentpool': n.pool.name,
        'kubernetes.azure.com/cluster': `MC_${c.uid}`,
        'kubernetes.azure.com/mode': (n.pool.mode ?? 'System').toLowerCase(),
        'kubernetes.azure.com/role': 'agent',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node.kubernetes.io/instance-type': n.pool.vmSize,
        'topology.kubernetes.io/region': c.location,
        'topology.kubernetes.io/zone': '0',
      },
    },
    spec: {
      podCIDR: `10.244.${n.index}.0/24`,
      podCIDRs: [`10.244.${n.index}.0/24`],
      providerID: `azure:///subscriptions/kentra/resourceGroups/mc/providers/Microsoft.Compute/virtualMachineScaleSets/aks-${n.pool.name}/virtualMachines/${n.index}`,
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: n.name },
      ],
      allocatable: { cpu: '1900m', 'ephemeral-storage': '119703055367', memory: '5160136Ki', pods: '110' },
      capacity: { cpu: '2', 'ephemeral-storage': '129886128Ki', memory: '7097544Ki', pods: '110' },
      conditions: [
        ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
        ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
        ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
        ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
      ].map(([type, status, reason, message]) => ({
        type,
        status,
        reason,
        message,
        lastHeartbeatTime: created,
        lastTransitionTime: created,
      })),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: uidOf(`${c.uid}/boot/${n.name}`),
        containerRuntimeVersion: 'containerd://1.7.25-1',
        kernelVersion: '5.15.0-1079-azure',
        kubeProxyVersion: version,
        kubeletVersion: version,
        machineID: hex(`${c.uid}/machine/${n.name}`, 32),
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04.5 LTS',
        systemUUID: uidOf(`${c.uid}/system/${n.name}`),
      },
    },
  };
}

function pod(c: ClusterShape, name: string, app: string, image: string, nodeName: string, ip: string, hostNetwork = false): KubeBody {
  const created = ts(c.createdAt);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'kube-system',
      uid: uidOf(`${c.uid}/pod/${name}`),
      creationTimestamp: created,
      labels: { 'k8s-app': app, 'kubernetes.azure.com/managedby': 'aks' },
    },
    spec: {
      containers: [{ name: app, image, imagePullPolicy: 'IfNotPresent' }],
      nodeName,
      priorityClassName: 'system-node-critical',
      serviceAccountName: app,
      hostNetwork,
      restartPolicy: 'Always',
    },
    status: {
      phase: 'Running',
      hostIP: ip,
      podIP: hostNetwork ? ip : `10.244.0.${10 + (parseInt(hex(name, 2), 16) % 200)}`,
      startTime: created,
      qosClass: 'Burstable',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
        type,
        status: 'True',
        lastTransitionTime: created,
      })),
      containerStatuses: [
        {
          name: app,
          image,
          imageID: `${image.split(':')[0]}@sha256:${hex(image, 64)}`,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: created } },
        },
      ],
    },
  };
}

/** The kubelet's heartbeat, which `kubectl describe node` shows. */
export function nodeLease(c: ClusterShape, nodeName: string): KubeBody {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: 'kube-node-lease',
      uid: uidOf(`${c.uid}/lease/${nodeName}`),
      creationTimestamp: ts(c.createdAt),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: `${new Date(c.createdAt).toISOString().slice(0, 23)}000Z` },
  };
}

/** The kube-system pods: per-cluster deployments on the first nodes and one DaemonSet pod per node. */
export function systemPods(c: ClusterShape): KubeBody[] {
  const nodes = nodeNames(c);
  if (nodes.length === 0) return [];
  const ipOf = (i: number) => `10.224.0.${4 + nodes[i % nodes.length]!.index}`;
  const at = (i: number) => nodes[i % nodes.length]!.name;
  const pods: KubeBody[] = [];
  const deployment = (app: string, image: string, replicas: number) => {
    const rs = suffix(`${c.uid}/${app}`, 10);
    for (let i = 0; i < replicas; i++) pods.push(pod(c, `${app}-${rs}-${suffix(`${c.uid}/${app}/${i}`)}`, app, image, at(i), ipOf(i)));
  };
  deployment('coredns', 'mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11.3-8', 2);
  deployment('coredns-autoscaler', 'mcr.microsoft.com/oss/v2/kubernetes/autoscaler/cluster-proportional-autoscaler:v1.9.0-1', 1);
  deployment('konnectivity-agent', 'mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.30.3-hotfix.20240819', 2);
  // No metrics-server: the built-in API serves no metrics.k8s.io (it would have to invent usage
  // figures), so listing its pods as Running would contradict `kubectl top`'s "Metrics API not available".
  for (let i = 0; i < nodes.length; i++) {
    for (const [app, image] of [
      ['azure-ip-masq-agent', 'mcr.microsoft.com/aks/ip-masq-agent-v2:v0.1.15'],
      ['cloud-node-manager', 'mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager:v1.31.1'],
      ['kube-proxy', `mcr.microsoft.com/oss/kubernetes/kube-proxy:v${c.kubernetesVersion}`],
    ] as const) {
      pods.push(pod(c, `${app}-${suffix(`${c.uid}/${app}/${nodes[i]!.name}`)}`, app, image, at(i), ipOf(i), true));
    }
  }
  return pods;
}

/** The binding of the cluster's admin groups to cluster-admin, as a stored object. */
export function adminGroupBindingObject(groups: string[], createdAt: number): KubeBody {
  return rbacBody('ClusterRoleBinding', adminGroupBinding(groups), createdAt);
}

function rbacBody(kind: string, o: RbacRole | RbacBinding, createdAt: number): KubeBody {
  const { kind: _k, ...rest } = o as KubeBody;
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    ...rest,
    metadata: { ...o.metadata, uid: uidOf(`rbac/${kind}/${o.metadata.name}/${createdAt}`), creationTimestamp: ts(createdAt) },
  };
}

/** Namespace-scoped defaults every namespace gets (the service-account and root-CA controllers). */
export function namespaceDefaults(namespace: string, c: Pick<ClusterShape, 'uid' | 'serverCaPem'>, createdAt: number): SystemObject[] {
  const meta = (name: string) => ({
    name,
    namespace,
    uid: uidOf(`${c.uid}/${namespace}/${name}/${createdAt}`),
    creationTimestamp: ts(createdAt),
  });
  return [
    { resource: '/serviceaccounts', namespace, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('default') } },
    {
      resource: '/configmaps',
      namespace,
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          ...meta('kube-root-ca.crt'),
          annotations: {
            'kubernetes.io/description':
              'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.',
          },
        },
        data: { 'ca.crt': c.serverCaPem },
      },
    },
  ];
}

/** Everything a new cluster starts with. */
export function systemObjects(c: ClusterShape): SystemObject[] {
  const created = ts(c.createdAt);
  const out: SystemObject[] = [];
  for (const ns of SYSTEM_NAMESPACES) {
    out.push({
      resource: '/namespaces',
      namespace: '',
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, uid: uidOf(`${c.uid}/ns/${ns}`), creationTimestamp: created, labels: { 'kubernetes.io/metadata.name': ns } },
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      },
    });
    out.push(...namespaceDefaults(ns, c, c.createdAt));
  }
  for (const n of nodeNames(c)) {
    out.push({ resource: '/nodes', namespace: '', body: node(c, n) });
    out.push({ resource: 'coordination.k8s.io/leases', namespace: 'kube-node-lease', body: nodeLease(c, n.name) });
  }
  for (const p of systemPods(c)) out.push({ resource: '/pods', namespace: 'kube-system', body: p });
  for (const sa of ['coredns', 'coredns-autoscaler', 'konnectivity-agent', 'azure-ip-masq-agent', 'cloud-node-manager', 'kube-proxy']) {
    out.push({
      resource: '/serviceaccounts',
      namespace: 'kube-system',
      body: {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: {
          name: sa,
          namespace: 'kube-system',
          uid: uidOf(`${c.uid}/sa/${sa}`),
          creationTimestamp: created,
          labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile' },
        },
      },
    });
  }
  const service = (
    name: string,
    namespace: string,
    ip: string,
    ports: KubeBody[],
    selector?: Record<string, string>,
    labels?: Record<string, string>,
  ) => ({
    resource: '/services',
    namespace,
    body: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, uid: uidOf(`${c.uid}/svc/${namespace}/${name}`), creationTimestamp: created, labels },
      spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ports, ...(selector ? { selector } : {}) },
      status: { loadBalancer: {} },
    },
  });
  out.push(
    service('kubernetes', 'default', '10.0.0.1', [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 443 }], undefined, {
      component: 'apiserver',
      provider: 'kubernetes',
    }),
  );
  out.push(
    service(
      'kube-dns',
      'kube-system',
      '10.0.0.10',
      [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
      { 'k8s-app': 'kube-dns' },
      { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true' },
    ),
  );

  const rbac = defaultRbacObjects();
  for (const r of rbac.clusterRoles)
    out.push({ resource: 'rbac.authorization.k8s.io/clusterroles', namespace: '', body: rbacBody('ClusterRole', r, c.createdAt) });
  for (const b of rbac.clusterRoleBindings)
    out.push({
      resource: 'rbac.authorization.k8s.io/clusterrolebindings',
      namespace: '',
      body: rbacBody('ClusterRoleBinding', b, c.createdAt),
    });
  // AKS's binding for the local accounts of `get-credentials --admin` (third-party observation, reference/guard-rbac.md §5).
  out.push({
    resource: 'rbac.authorization.k8s.io/clusterrolebindings',
    namespace: '',
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: {
        name: 'aks-cluster-admin-binding',
        uid: uidOf(`${c.uid}/aks-cluster-admin-binding`),
        creationTimestamp: created,
        labels: { 'addonmanager.kubernetes.io/mode': 'Reconcile', 'kubernetes.io/cluster-service': 'true' },
      },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'clusterAdmin' },
        { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'clusterUser' },
      ],
    },
  });
  if (c.adminGroupObjectIDs)
    out.push({
      resource: 'rbac.authorization.k8s.io/clusterrolebindings',
      namespace: '',
      body: adminGroupBindingObject(c.adminGroupObjectIDs, c.createdAt),
    });
  return out;
}
