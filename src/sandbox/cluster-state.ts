import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import {
  alwaysAllowAuthorizer, authenticatorChain, authorizerChain, azureRbacAuthorizer, azureRbacStep, cachedTokenAuthenticator, clientCertificateAuthenticator, clusterEntraAuthenticator,
  CLUSTER_TYPES, LOCAL_ADMIN_USER, rbacAuthorizer, serviceAccountAuthenticator, serviceAccountSigningKey, staticTokenAuthenticator, superUserAuthorizer,
  type AuthorizerChain, type ClientCertificateAuthenticator, type RbacObjects, type TokenAuthenticator,
} from '../access/index.js';
import { clusterAccessConfig, type ClusterAccessConfig } from '../control-plane/index.js';
import type { KeyRing } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { StoreError, type ArmResource, type Store } from '../store/index.js';
import { ADMIN_GROUP_BINDING, adminGroupBindingObject, nodeNames, systemObjects, systemPods, type ClusterShape } from './system.js';

// One emulated cluster as its API server sees it: its settings from the control plane, its
// authenticators and authorizers (rebuilt only when the settings they depend on change), its
// service-account signing key, and the objects AKS reconciles (nodes, the admin-group binding).

export interface SandboxDeps {
  store: Store;
  keys: KeyRing;
  clock: Clock;
  /** The CA kubectl trusts for the API (Kentra's serving CA). */
  serverCaPem: string;
  /** Kentra's canonical origin (`https://localhost:8443`), for stable service-account issuers. */
  authority(): string;
}

export interface ClusterState {
  cfg: ClusterAccessConfig;
  fingerprint: string;
  checkedUntil: number;
  /** `<authority>/clusters/<uid>`: the service-account issuer and default token audience. */
  issuer: string;
  saKey: { privateKey: KeyObject; publicKeyPem: string; kid: string };
  authenticateToken: TokenAuthenticator;
  authenticateCertificate: ClientCertificateAuthenticator;
  authorize: AuthorizerChain;
  rbac: { objects: RbacObjects | null; until: number };
}

const RBAC_TTL_MS = 2_000;
const RBAC = 'rbac.authorization.k8s.io/';

/** The cluster as AKS would build it: its node pools, version and admin groups. */
export function clusterShapeOf(res: ArmResource, cfg: ClusterAccessConfig, serverCaPem: string): ClusterShape {
  const props = cfg.kind === 'managedCluster' ? ((res.body as any).properties ?? {}) : ((res.body as any).instance?.properties ?? (res.body as any).properties ?? {});
  const pools = Array.isArray(props.agentPoolProfiles) && props.agentPoolProfiles.length ? props.agentPoolProfiles : [{ name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2' }];
  return {
    uid: cfg.uid, kubernetesVersion: cfg.kubernetesVersion || '1.30.0', location: res.location, serverCaPem, createdAt: res.createdAt,
    agentPools: pools.map((p: any) => ({ name: String(p.name), count: Number(p.count ?? 1), vmSize: String(p.vmSize ?? 'Standard_DS2_v2'), mode: p.mode, orchestratorVersion: p.orchestratorVersion })),
    adminGroupObjectIDs: cfg.aad ? cfg.aad.adminGroupObjectIDs ?? [] : null,
  };
}

/** The cluster's service-account signing key, made on first use and kept with the cluster's secrets. */
async function saKeyOf(store: Store, res: ArmResource): Promise<ClusterState['saKey']> {
  let secrets = res.secrets;
  if (!secrets.saKeyPem) {
    const made = await serviceAccountSigningKey();
    const stored = await store.updateResource(res.id, (x) => (x.secrets.saKeyPem ? x : { ...x, secrets: { ...x.secrets, saKeyPem: made.privateKeyPem, saPublicKeyPem: made.publicKeyPem, saKid: made.kid } }));
    secrets = stored?.secrets ?? secrets;
  }
  return { privateKey: createPrivateKey(String(secrets.saKeyPem)), publicKeyPem: String(secrets.saPublicKeyPem), kid: String(secrets.saKid) };
}

export class Clusters {
  private readonly states = new Map<string, ClusterState>();
  private readonly ready = new Set<string>();

  constructor(private readonly deps: SandboxDeps) {}

  /** The state of the cluster behind `/clusters/<uid>`, or null when there is none. */
  async get(uid: string, origin: string): Promise<ClusterState | null> {
    const now = this.deps.clock.now();
    const hit = this.states.get(uid);
    if (hit && hit.checkedUntil > now) return hit;
    const cfg = await clusterAccessConfig(this.deps.store, uid);
    if (!cfg) { this.states.delete(uid); this.ready.delete(uid); return null; }
    const res = await this.deps.store.getResource(cfg.resourceId);
    if (!res) return null;
    const shape = clusterShapeOf(res, cfg, this.deps.serverCaPem);
    const fingerprint = JSON.stringify([cfg.aad, cfg.enableRBAC, cfg.disableLocalAccounts, cfg.localCaPem, cfg.adminToken, shape.agentPools, shape.kubernetesVersion, origin]);
    if (hit && hit.fingerprint === fingerprint) { hit.checkedUntil = now + 10_000; return hit; }
    await this.initialize(shape);
    await this.reconcile(shape);
    const state = await this.build(cfg, res, fingerprint, origin);
    this.states.set(uid, state);
    return state;
  }

  /** Forget cached RBAC objects after a write to them (other instances notice within the TTL). */
  rbacChanged(uid: string): void {
    const s = this.states.get(uid);
    if (s) s.rbac.until = 0;
  }

  private async build(cfg: ClusterAccessConfig, res: ArmResource, fingerprint: string, origin: string): Promise<ClusterState> {
    const { store, keys, clock } = this.deps;
    const issuer = `${this.deps.authority()}/clusters/${cfg.uid}`;
    const saKey = await saKeyOf(store, res);
    const saPublic = createPublicKey(saKey.publicKeyPem);
    const authenticateToken = authenticatorChain(
      staticTokenAuthenticator({ token: cfg.adminToken, user: LOCAL_ADMIN_USER, disabled: cfg.disableLocalAccounts }),
      serviceAccountAuthenticator({
        issuer, publicKey: (kid) => (kid === saKey.kid ? saPublic : undefined), apiAudiences: [issuer], clock,
        serviceAccount: async (ns, name) => {
          const sa = await store.getKubeObject(cfg.uid, '/serviceaccounts', ns, name);
          return sa ? { uid: String((sa.body as any).metadata?.uid ?? '') } : null;
        },
      }),
      cachedTokenAuthenticator(clusterEntraAuthenticator(cfg, { store, keys, clock, origin }), { clock }),
    );
    const state: ClusterState = {
      cfg, fingerprint, checkedUntil: clock.now() + 10_000, issuer, saKey, authenticateToken,
      authenticateCertificate: clientCertificateAuthenticator({ caPem: cfg.localCaPem, localAccountsDisabled: cfg.disableLocalAccounts, clock }),
      authorize: async () => { throw new Error('unreachable'); },
      rbac: { objects: null, until: 0 },
    };
    const objects = async (): Promise<RbacObjects> => {
      if (state.rbac.objects && state.rbac.until > clock.now()) return state.rbac.objects;
      const list = async (r: string) => (await store.listKubeObjects(cfg.uid, `${RBAC}${r}`)).map((o) => o.body as any);
      const [clusterRoles, clusterRoleBindings, roles, roleBindings] = await Promise.all([list('clusterroles'), list('clusterrolebindings'), list('roles'), list('rolebindings')]);
      const fresh: RbacObjects = { clusterRoles, clusterRoleBindings, roles, roleBindings };
      state.rbac = { objects: fresh, until: clock.now() + RBAC_TTL_MS };
      return fresh;
    };
    const aad = cfg.aad;
    state.authorize = authorizerChain([
      superUserAuthorizer,
      cfg.enableRBAC ? rbacAuthorizer(objects) : alwaysAllowAuthorizer,
      ...(aad?.enableAzureRBAC
        ? [azureRbacStep(azureRbacAuthorizer({ store, clock, tenantId: aad.tenantID, clusterResourceId: cfg.resourceId, clusterType: CLUSTER_TYPES[cfg.kind] }))]
        : []),
    ]);
    return state;
  }

  /** The first time a cluster's API is used: everything a new cluster has, in one transaction. */
  private async initialize(shape: ClusterShape): Promise<void> {
    if (this.ready.has(shape.uid)) return;
    const { store } = this.deps;
    if ((await store.kubeResourceVersion(shape.uid)) === 0) {
      try {
        await store.transaction(async (tx) => {
          for (const o of systemObjects(shape)) await tx.createKubeObject({ clusterUid: shape.uid, resource: o.resource, namespace: o.namespace, name: o.body.metadata.name, body: o.body });
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
      if (!current) await store.createKubeObject({ clusterUid: uid, resource: crb, namespace: '', name: ADMIN_GROUP_BINDING, body: wanted }).catch(ignoreConflict);
      else if (JSON.stringify((current.body as any).subjects) !== JSON.stringify(wanted.subjects)) {
        await store.updateKubeObject(uid, crb, '', ADMIN_GROUP_BINDING, (b) => ({ ...b, subjects: wanted.subjects, roleRef: wanted.roleRef }));
      }
    } else if (current) {
      await store.deleteKubeObject(uid, crb, '', ADMIN_GROUP_BINDING);
    }
    this.rbacChanged(uid);

    const wantedNodes = new Set(nodeNames(shape).map((n) => n.name));
    const nodes = await store.listKubeObjects(uid, '/nodes');
    const have = new Set(nodes.map((n) => n.name));
    if ([...wantedNodes].every((n) => have.has(n)) && nodes.every((n) => wantedNodes.has(n.name) || !(n.body as any).metadata?.labels?.['kubernetes.azure.com/agentpool'])) return;
    await store.transaction(async (tx) => {
      const fresh = systemObjects(shape);
      const LEASES = 'coordination.k8s.io/leases';
      for (const n of nodes) {
        if (wantedNodes.has(n.name) || !(n.body as any).metadata?.labels?.['kubernetes.azure.com/agentpool']) continue;
        await tx.deleteKubeObject(uid, '/nodes', '', n.name);
        await tx.deleteKubeObject(uid, LEASES, 'kube-node-lease', n.name);
      }
      for (const o of fresh) {
        if ((o.resource === '/nodes' || o.resource === LEASES) && !have.has(o.body.metadata.name) && !(o.resource === LEASES && await tx.getKubeObject(uid, LEASES, o.namespace, o.body.metadata.name))) {
          await tx.createKubeObject({ clusterUid: uid, resource: o.resource, namespace: o.namespace, name: o.body.metadata.name, body: o.body });
        }
      }
      const pods = systemPods(shape);
      const wantedPods = new Set(pods.map((p) => p.metadata.name));
      const havePods = new Set<string>();
      for (const p of await tx.listKubeObjects(uid, '/pods', 'kube-system')) {
        havePods.add(p.name);
        if ((p.body as any).metadata?.labels?.['kubernetes.azure.com/managedby'] === 'aks' && !wantedPods.has(p.name)) await tx.deleteKubeObject(uid, '/pods', 'kube-system', p.name);
      }
      for (const p of pods) if (!havePods.has(p.metadata.name)) await tx.createKubeObject({ clusterUid: uid, resource: '/pods', namespace: 'kube-system', name: p.metadata.name, body: p });
    });
  }
}

function ignoreConflict(err: unknown): void {
  if (!(err instanceof StoreError && err.code === 'conflict')) throw err;
}

/** The peer certificate of a request's TLS socket, if the client sent one. */
export function peerCertificate(socket: unknown): X509Certificate | undefined {
  const s = socket as { getPeerCertificate?: () => { raw?: Buffer } };
  const peer = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
  if (!peer?.raw) return undefined;
  try { return new X509Certificate(peer.raw); } catch { return undefined; }
}
