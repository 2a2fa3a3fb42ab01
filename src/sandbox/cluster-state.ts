import { createPrivateKey, type KeyObject } from 'node:crypto';
import type {
  AuthorizerChain,
  ClientCertificateAuthenticator,
  ClusterAccessService,
  ClusterSettings,
  TokenAuthenticator,
} from '../access/index.js';
import { clusterSecretsOf } from '../control-plane/index.js';
import type { Clock } from '../shared/clock.js';
import type { ClusterBodyJson } from '../shared/json.js';
import { StoreError, type ArmResource, type Store } from '../store/index.js';
import { ADMIN_GROUP_BINDING, adminGroupBindingObject, nodeNames, systemObjects, systemPods, type ClusterShape } from './system.js';

// One emulated cluster as its API server sees it: its chains from the one cluster-access service,
// its service-account signing key, and the objects AKS reconciles (nodes, the admin-group binding),
// brought in step when the cluster's record changes (its revision, checked by the service on each request).

export interface SandboxDeps {
  store: Store;
  clock: Clock;
  /** The CA kubectl trusts for the API (Kentra's serving CA). */
  serverCaPem: string;
  access: ClusterAccessService;
}

export interface ClusterState {
  cfg: ClusterSettings;
  /** `<authority>/clusters/<uid>`: the service-account issuer and default token audience. */
  issuer: string;
  saKey: { privateKey: KeyObject; publicKeyPem: string; kid: string };
  authenticateToken: TokenAuthenticator;
  authenticateCertificate: ClientCertificateAuthenticator;
  authorize: AuthorizerChain;
}

const RBAC = 'rbac.authorization.k8s.io/';
/** A stored Kubernetes object's labels. */
type Labelled = { metadata?: { labels?: Record<string, string> } };

/** The cluster as AKS would build it: its node pools, version and admin groups. */
export function clusterShapeOf(
  res: ArmResource,
  cfg: Pick<ClusterSettings, 'uid' | 'kind' | 'kubernetesVersion' | 'aad'>,
  serverCaPem: string,
): ClusterShape {
  const body = res.body as ClusterBodyJson;
  const props = (cfg.kind === 'managedCluster' ? body.properties : (body.instance?.properties ?? body.properties)) ?? {};
  const pools =
    Array.isArray(props.agentPoolProfiles) && props.agentPoolProfiles.length
      ? props.agentPoolProfiles
      : [{ name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2' }];
  return {
    uid: cfg.uid,
    kubernetesVersion: cfg.kubernetesVersion || '1.30.0',
    location: res.location,
    serverCaPem,
    createdAt: res.createdAt,
    agentPools: pools.map((p) => ({
      name: String(p.name),
      count: Number(p.count ?? 1),
      vmSize: String(p.vmSize ?? 'Standard_DS2_v2'),
      mode: p.mode,
      orchestratorVersion: p.orchestratorVersion,
    })),
    adminGroupObjectIDs: cfg.aad ? (cfg.aad.adminGroupObjectIDs ?? []) : null,
  };
}

export class Clusters {
  /** Per cluster: the record revision its objects were last brought in step with, and its service-account key. */
  private readonly synced = new Map<string, { revision: number; shapeKey: string; saKey: ClusterState['saKey'] }>();
  private readonly ready = new Set<string>();

  constructor(private readonly deps: SandboxDeps) {}

  /** The state of the cluster behind `/clusters/<uid>`, or null when there is none. */
  async get(uid: string, origin: string): Promise<ClusterState | null> {
    const chains = await this.deps.access.cluster(uid, origin);
    if (!chains) {
      this.synced.delete(uid);
      this.ready.delete(uid);
      return null;
    }
    const cfg = chains.settings;
    let synced = this.synced.get(uid);
    if (!synced || synced.revision !== cfg.revision) {
      const found = await this.deps.store.getClusterByUid(uid);
      if (!found) return null;
      const shape = clusterShapeOf(found.resource, cfg, this.deps.serverCaPem);
      const shapeKey = JSON.stringify([shape.adminGroupObjectIDs, shape.agentPools, shape.kubernetesVersion]);
      if (!synced || synced.shapeKey !== shapeKey) {
        await this.initialize(shape);
        await this.reconcile(shape);
      }
      const secrets = clusterSecretsOf(found.resource);
      if (!secrets.saKeyPem || !secrets.saPublicKeyPem || !secrets.saKid) throw new Error(`cluster ${uid} has no service-account key yet`);
      const saKey =
        synced && synced.saKey.kid === secrets.saKid
          ? synced.saKey
          : { privateKey: createPrivateKey(secrets.saKeyPem), publicKeyPem: secrets.saPublicKeyPem, kid: secrets.saKid };
      synced = { revision: found.revision, shapeKey, saKey };
      this.synced.set(uid, synced);
    }
    return {
      cfg,
      issuer: chains.issuer,
      saKey: synced.saKey,
      authenticateToken: chains.authenticateToken,
      authenticateCertificate: chains.authenticateCertificate,
      authorize: chains.authorize,
    };
  }

  /** Forget cached RBAC objects after a write to them (other instances notice within the TTL). */
  rbacChanged(uid: string): void {
    this.deps.access.rbacChanged(uid);
  }

  /** The first time a cluster's API is used: everything a new cluster has, in one transaction. */
  private async initialize(shape: ClusterShape): Promise<void> {
    if (this.ready.has(shape.uid)) return;
    const { store } = this.deps;
    if ((await store.kubeResourceVersion(shape.uid)) === 0) {
      try {
        await store.transaction(async (tx) => {
          for (const o of systemObjects(shape))
            await tx.createKubeObject({
              clusterUid: shape.uid,
              resource: o.resource,
              namespace: o.namespace,
              name: o.body.metadata.name,
              body: o.body,
            });
        });
      } catch (err) {
        // Another request (or instance) initialized it first.
        if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
      }
    }
    this.ready.add(shape.uid);
  }

  /** What AKS keeps in step with the cluster's settings: the admin-group binding and the nodes. */
  private async reconcile(shape: ClusterShape): Promise<void> {
    const { store, clock } = this.deps;
    const uid = shape.uid;
    const crb = `${RBAC}clusterrolebindings`;
    const current = await store.getKubeObject(uid, crb, '', ADMIN_GROUP_BINDING);
    if (shape.adminGroupObjectIDs) {
      const wanted = adminGroupBindingObject(shape.adminGroupObjectIDs, clock.now());
      if (!current)
        await store
          .createKubeObject({ clusterUid: uid, resource: crb, namespace: '', name: ADMIN_GROUP_BINDING, body: wanted })
          .catch(ignoreConflict);
      else if (JSON.stringify((current.body as { subjects?: unknown }).subjects) !== JSON.stringify(wanted.subjects)) {
        await store.updateKubeObject(uid, crb, '', ADMIN_GROUP_BINDING, (b) => ({
          ...b,
          subjects: wanted.subjects,
          roleRef: wanted.roleRef,
        }));
      }
    } else if (current) {
      await store.deleteKubeObject(uid, crb, '', ADMIN_GROUP_BINDING);
    }
    this.rbacChanged(uid);

    const wantedNodes = new Set(nodeNames(shape).map((n) => n.name));
    const nodes = await store.listKubeObjects(uid, '/nodes');
    const have = new Set(nodes.map((n) => n.name));
    if (
      [...wantedNodes].every((n) => have.has(n)) &&
      nodes.every((n) => wantedNodes.has(n.name) || !(n.body as Labelled).metadata?.labels?.['kubernetes.azure.com/agentpool'])
    )
      return;
    await store.transaction(async (tx) => {
      const fresh = systemObjects(shape);
      const LEASES = 'coordination.k8s.io/leases';
      for (const n of nodes) {
        if (wantedNodes.has(n.name) || !(n.body as Labelled).metadata?.labels?.['kubernetes.azure.com/agentpool']) continue;
        await tx.deleteKubeObject(uid, '/nodes', '', n.name);
        await tx.deleteKubeObject(uid, LEASES, 'kube-node-lease', n.name);
      }
      for (const o of fresh) {
        if (
          (o.resource === '/nodes' || o.resource === LEASES) &&
          !have.has(o.body.metadata.name) &&
          !(o.resource === LEASES && (await tx.getKubeObject(uid, LEASES, o.namespace, o.body.metadata.name)))
        ) {
          await tx.createKubeObject({
            clusterUid: uid,
            resource: o.resource,
            namespace: o.namespace,
            name: o.body.metadata.name,
            body: o.body,
          });
        }
      }
      const pods = systemPods(shape);
      const wantedPods = new Set(pods.map((p) => p.metadata.name));
      const havePods = new Set<string>();
      for (const p of await tx.listKubeObjects(uid, '/pods', 'kube-system')) {
        havePods.add(p.name);
        if ((p.body as Labelled).metadata?.labels?.['kubernetes.azure.com/managedby'] === 'aks' && !wantedPods.has(p.name))
          await tx.deleteKubeObject(uid, '/pods', 'kube-system', p.name);
      }
      for (const p of pods)
        if (!havePods.has(p.metadata.name))
          await tx.createKubeObject({ clusterUid: uid, resource: '/pods', namespace: 'kube-system', name: p.metadata.name, body: p });
    });
  }
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
}
