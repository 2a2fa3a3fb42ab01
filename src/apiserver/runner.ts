import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { clusterSecretsOf, isAttached, isClusterResource, MC_TYPE, withClusterSecrets } from '../control-plane/index.js';
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAuthority } from '../pki/index.js';
import { clusterShapeOf, systemObjects, ADMIN_GROUP_BINDING, adminGroupBindingObject } from '../sandbox/index.js';
import { aggregateClusterRoles, type ClusterAccessService, type ClusterSettings, type RbacRole } from '../access/index.js';
import type { ArmResource, Store } from '../store/index.js';
import { KubeClient } from './kube-client.js';
import { etcdArgs, freePort, kubeApiserverArgs, ManagedProcess, portInUse, type AuthorizationMode, type Binaries } from './processes.js';

// A real kube-apiserver (with its own etcd) behind each managed cluster, the way AKS runs a control
// plane per cluster: started when the cluster is created or Kentra starts, stopped when it is
// stopped or deleted (its folder removed then). Kentra's webhooks answer its TokenReviews and,
// with Azure RBAC, its SubjectAccessReviews over mutual TLS; Kentra itself reaches it as
// `kentra-control-plane` (system:masters) with a certificate from a per-cluster internal CA, to keep
// in it what AKS keeps in a cluster: the admin-group ClusterRoleBinding, nodes, kube-system pods.

export interface RealClustersOptions {
  binaries: Binaries;
  /** `<data-dir>/clusters`: one folder per cluster uid. */
  dir: string;
  store: Store;
  /** The cluster-access service: each cluster's settings as its webhooks see them (and its service-account key, made on first use). */
  access: ClusterAccessService;
  /** Kentra's CA: signs each API server's serving certificate and its webhook client certificate. */
  ca: CertificateAuthority;
  /** Kentra's canonical origin (`https://localhost:8443`): webhooks and the service-account issuer. */
  authority(): string;
  /** The subject organization binding a webhook client certificate to a cluster. */
  webhookOrganization(uid: string): string;
  logger: Logger;
  /** How often the clusters are compared with the control plane's view (default 2 s). */
  intervalMs?: number;
}

interface Ports {
  apiserver: number;
  etcd: number;
  etcdPeer: number;
}

interface Cluster {
  uid: string;
  dir: string;
  ports: Ports;
  etcd: ManagedProcess;
  apiserver: ManagedProcess;
  client: KubeClient | null;
  /** The flags' inputs the process was started with; a change means a restart. */
  startedWith: string | null;
  /** What was last written into the cluster (admin groups, nodes); a change means a reconcile. */
  reconciled: string | null;
  clientCa: string | null;
  problem: string | null;
  /** After a failed start, when to try again. */
  retryAt: number;
  starting: Promise<void> | null;
}

const readJson = <T>(file: string): T | null => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
};

export class RealClusters {
  private readonly clusters = new Map<string, Cluster>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: RealClustersOptions) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  /** The API server URL of a cluster Kentra runs for real, once its ports are chosen. */
  serverOf(uid: string): string | null {
    const c = this.clusters.get(uid);
    return c ? `https://127.0.0.1:${c.ports.apiserver}` : null;
  }

  /** True when the uid's cluster has (or will have) a real API server: the built-in one stays out. */
  handles(uid: string): boolean {
    return this.clusters.has(uid);
  }

  /**
   * Brings this cluster up now if it is not (used by the control plane before it reports a create
   * as done, and before it hands out a kubeconfig): null when ready, else what is wrong.
   */
  async ensure(uid: string): Promise<string | null> {
    // A pass already under way may have read the settings before this change: wait for it, then run one that reads them.
    await this.running?.catch(() => undefined);
    await this.reconcileAll();
    const c = this.clusters.get(uid);
    if (!c) return null; // not one Kentra runs (attached elsewhere, or gone)
    if (c.starting) await c.starting.catch(() => undefined);
    return c.problem;
  }

  /** Chooses every cluster's ports at once (kubeconfigs can be handed out), then starts them in the background. */
  async start(): Promise<void> {
    await this.plan();
    this.reconcileAll().catch(() => undefined);
    this.timer = setInterval(() => {
      this.reconcileAll().catch(() => undefined);
    }, this.o.intervalMs ?? 2_000);
    this.timer.unref();
  }

  /** Compares every managed cluster with the processes and objects it should have. */
  reconcileAll(): Promise<void> {
    this.running ??= this.reconcileOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** The clusters that should have a real API server, each with its folder and ports chosen. */
  private async plan(): Promise<Map<string, { res: ArmResource; cfg: ClusterSettings }>> {
    const wanted = new Map<string, { res: ArmResource; cfg: ClusterSettings }>();
    for (const sub of await this.o.store.listSubscriptions()) {
      for (const res of await this.o.store.listResources({ subscriptionId: sub.id, type: MC_TYPE })) {
        if (!isClusterResource(res) || isAttached((res.body as any).properties)) continue; // attached: someone else runs its API server
        const chains = await this.o.access.cluster(clusterSecretsOf(res).uid, this.o.authority());
        if (chains) wanted.set(chains.settings.uid, { res, cfg: chains.settings });
      }
    }
    for (const { cfg } of wanted.values()) {
      if (this.clusters.has(cfg.uid)) continue;
      const c = this.load(cfg.uid);
      if (
        !existsSync(join(c.dir, 'ports.json')) ||
        (await Promise.all(Object.values(c.ports).map(portInUse)).then((busy) => busy.some(Boolean)))
      ) {
        c.ports = { apiserver: await freePort(), etcd: await freePort(), etcdPeer: await freePort() };
        writeFileSync(join(c.dir, 'ports.json'), `${JSON.stringify(c.ports)}\n`);
      }
      this.clusters.set(cfg.uid, c);
    }
    return wanted;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.closed) return;
    const wanted = await this.plan();
    for (const [uid, c] of this.clusters) {
      if (!wanted.has(uid)) await this.remove(c);
    }
    // Folders of clusters deleted while Kentra was not running.
    for (const name of readdirSync(this.o.dir)) {
      if (!wanted.has(name) && !this.clusters.has(name) && existsSync(join(this.o.dir, name, 'ports.json'))) {
        const leftover = this.load(name);
        await this.remove(leftover);
      }
    }
    await Promise.all(
      [...wanted.values()].map(async ({ res, cfg }) => {
        const c = this.clusters.get(cfg.uid)!;
        if (c.starting || (c.problem && Date.now() < c.retryAt)) return;
        // The power state asked for (a stop in progress has it already; the body shows it once done).
        const stopped = String(clusterSecretsOf(res).powerState ?? (res.body as any).properties?.powerState?.code) === 'Stopped';
        c.starting = (stopped ? this.stopCluster(c) : this.converge(c, res, cfg))
          .then(
            () => {
              c.problem = null;
            },
            (err: Error) => {
              if (c.problem !== err.message)
                this.o.logger.error({ cluster: cfg.uid, err: { message: err.message } }, "the cluster's API server is not running");
              c.problem = err.message;
              c.retryAt = Date.now() + 15_000;
            },
          )
          .finally(() => {
            c.starting = null;
          });
        await c.starting;
      }),
    );
  }

  private load(uid: string): Cluster {
    const dir = join(this.o.dir, uid);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ports = readJson<Ports>(join(dir, 'ports.json')) ?? { apiserver: 0, etcd: 0, etcdPeer: 0 };
    return {
      uid,
      dir,
      ports,
      etcd: new ManagedProcess('etcd', dir),
      apiserver: new ManagedProcess('kube-apiserver', dir),
      client: null,
      startedWith: null,
      reconciled: null,
      clientCa: null,
      problem: null,
      retryAt: 0,
      starting: null,
    };
  }

  private async converge(c: Cluster, res: ArmResource, cfg: ClusterSettings): Promise<void> {
    const res2 = await this.ensureSecrets(res);
    const internal = await this.internalCa(c);
    // The client CA bundle: Kentra's own identity always; the cluster CA (local accounts) unless disabled.
    const caCertPem = clusterSecretsOf(res2).caCertPem;
    const clientCa = `${internal.certPem}${!cfg.disableLocalAccounts && caCertPem ? caCertPem : ''}`;
    // kube-apiserver 1.20 re-reads --client-ca-file only once a minute: a change of the bundle (local
    // accounts turned off or on) restarts it instead, as AKS rolls its control plane for that setting.
    const caChanged = clientCa !== c.clientCa;
    if (caChanged) {
      writeFileSync(join(c.dir, 'client-ca.pem'), clientCa);
      c.clientCa = clientCa;
    }
    const aad = cfg.aad;
    const mode: AuthorizationMode = !cfg.enableRBAC ? 'AlwaysAllow' : aad?.enableAzureRBAC ? 'Node,RBAC,Webhook' : 'Node,RBAC';
    const flagsKey = JSON.stringify([mode, String(clusterSecretsOf(res2).saKid), this.o.authority(), c.ports]);
    if (c.startedWith !== flagsKey || caChanged || c.apiserver.exited() || c.etcd.exited()) {
      await this.stopCluster(c);
      await this.writeFiles(c, res2);
      await this.launch(c, mode);
      c.startedWith = flagsKey;
      c.reconciled = null;
    }
    await this.reconcileObjects(c, res2, cfg);
  }

  /** The cluster CA (for local admin certificates), made once and kept with the cluster; its service-account key is made by the access ports. */
  private async ensureSecrets(res: ArmResource): Promise<ArmResource> {
    const fresh = await this.o.store.getResource(res.id);
    if (!fresh) throw new Error(`cluster ${res.name} was deleted`);
    const secrets = clusterSecretsOf(fresh);
    if (!secrets.saKeyPem) throw new Error(`cluster ${res.name} has no service-account key yet`);
    if (secrets.caCertPem) return fresh;
    const ca = await createCertificateAuthority('ca');
    // Two writers at once (a credential request, the built-in API): the first stored wins.
    const stored = await this.o.store.updateResource(res.id, (x) =>
      clusterSecretsOf(x).caCertPem ? x : withClusterSecrets(x, { caCertPem: ca.certPem, caKeyPem: ca.keyPem }),
    );
    if (!stored) throw new Error(`cluster ${res.name} was deleted`);
    return stored;
  }

  private async internalCa(c: Cluster): Promise<CertificateAuthority> {
    const cert = join(c.dir, 'internal-ca.pem');
    const key = join(c.dir, 'internal-ca-key.pem');
    if (existsSync(cert) && existsSync(key)) return loadCertificateAuthority(readFileSync(cert, 'utf8'), readFileSync(key, 'utf8'));
    const ca = await createCertificateAuthority('kentra-control-plane-ca');
    writeFileSync(key, ca.keyPem, { mode: 0o600 });
    writeFileSync(cert, ca.certPem);
    return ca;
  }

  private async writeFiles(c: Cluster, res: ArmResource): Promise<void> {
    const f = (name: string) => join(c.dir, name);
    const secret = (name: string, text: string) => writeFileSync(f(name), text, { mode: 0o600 });
    const serving = await this.o.ca.issue({
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.0.0.1'],
      usage: 'server',
    });
    writeFileSync(f('serving.pem'), `${serving.certPem}${this.o.ca.certPem}`);
    secret('serving-key.pem', serving.keyPem);
    const internal = await this.internalCa(c);
    const admin = await internal.issue({
      commonName: 'kentra-control-plane',
      organizations: ['system:masters'],
      usage: 'client',
      days: 3650,
    });
    writeFileSync(f('control-plane.pem'), admin.certPem);
    secret('control-plane-key.pem', admin.keyPem);
    const secrets = clusterSecretsOf(res);
    writeFileSync(f('sa.pub'), String(secrets.saPublicKeyPem));
    secret('sa.key', String(secrets.saKeyPem));
    const webhookCert = await this.o.ca.issue({
      commonName: 'kube-apiserver',
      organizations: [this.o.webhookOrganization(c.uid)],
      usage: 'client',
      days: 365,
    });
    for (const [file, path] of [
      ['authn-webhook.kubeconfig', 'tokenreviews'],
      ['authz-webhook.kubeconfig', 'subjectaccessreviews'],
    ] as const) {
      secret(
        file,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          'current-context': 'webhook',
          clusters: [
            {
              name: 'kentra',
              cluster: {
                server: `${this.o.authority()}/clusters/${c.uid}/webhooks/${path}`,
                'certificate-authority-data': Buffer.from(this.o.ca.certPem).toString('base64'),
              },
            },
          ],
          users: [
            {
              name: 'kube-apiserver',
              user: {
                'client-certificate-data': Buffer.from(webhookCert.certPem).toString('base64'),
                'client-key-data': Buffer.from(webhookCert.keyPem).toString('base64'),
              },
            },
          ],
          contexts: [{ name: 'webhook', context: { cluster: 'kentra', user: 'kube-apiserver' } }],
        }),
      );
    }
  }

  private async launch(c: Cluster, mode: AuthorizationMode): Promise<void> {
    const f = (name: string) => join(c.dir, name);
    const { etcd: e, apiserver: a } = c.ports;
    await c.etcd.stopLeftover();
    await c.apiserver.stopLeftover();
    c.etcd.start(this.o.binaries.etcd, etcdArgs(c.dir, c.ports));
    await waitFor(
      async () => {
        const why = c.etcd.exited();
        if (why) throw new Error(`etcd stopped (${why}): ${c.etcd.tail()}`);
        return etcdHealthy(e);
      },
      30_000,
      'etcd did not become healthy in 30 s',
    );

    const issuer = `${this.o.authority()}/clusters/${c.uid}`;
    c.apiserver.start(
      this.o.binaries.kubeApiserver,
      kubeApiserverArgs({ version: this.o.binaries.kubernetesVersion, dir: c.dir, ports: c.ports, issuer, mode }),
    );
    const client = new KubeClient(`https://127.0.0.1:${a}`, {
      caPem: this.o.ca.certPem,
      certPem: readFileSync(f('control-plane.pem'), 'utf8'),
      keyPem: readFileSync(f('control-plane-key.pem'), 'utf8'),
    });
    try {
      await waitFor(
        async () => {
          const why = c.apiserver.exited();
          if (why) throw new Error(`kube-apiserver stopped (${why}): ${c.apiserver.tail()}`);
          try {
            return (await client.call('GET', '/readyz', undefined, 2_000)).status === 200;
          } catch {
            return false;
          }
        },
        90_000,
        'kube-apiserver was not ready in 90 s',
      );
    } catch (err) {
      client.close();
      throw err;
    }
    c.client = client;
    this.o.logger.info({ cluster: c.uid, server: `https://127.0.0.1:${a}` }, 'cluster API server ready');
  }

  /** What AKS keeps in the cluster: its admin-group binding, the nodes of its pools, the kube-system pods. */
  private async reconcileObjects(c: Cluster, res: ArmResource, cfg: ClusterSettings): Promise<void> {
    const client = c.client;
    if (!client) return;
    const shape = clusterShapeOf(res, cfg, this.o.ca.certPem);
    await this.aggregateRoles(client);
    const key = JSON.stringify([shape.adminGroupObjectIDs, shape.agentPools, shape.kubernetesVersion]);
    if (c.reconciled === key) return;
    const objects = systemObjects(shape);
    const strip = (b: any) => {
      const { uid: _u, creationTimestamp: _c, resourceVersion: _r, ...metadata } = b.metadata;
      return { ...b, metadata };
    };
    const pick = (resource: string, ns?: string) =>
      objects.filter((o) => o.resource === resource && (ns === undefined || o.namespace === ns)).map((o) => strip(o.body));
    for (const sa of pick('/serviceaccounts', 'kube-system')) await client.ensure('/api/v1/namespaces/kube-system/serviceaccounts', sa);
    for (const binding of pick('rbac.authorization.k8s.io/clusterrolebindings').filter(
      (b) => b.metadata.name.startsWith('aks-') && b.metadata.name !== ADMIN_GROUP_BINDING,
    )) {
      await client.ensure('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding);
    }
    const crbPath = `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${ADMIN_GROUP_BINDING}`;
    if (shape.adminGroupObjectIDs) {
      const wanted = strip(adminGroupBindingObject(shape.adminGroupObjectIDs, Date.now()));
      const current = await client.ensure('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', wanted);
      if (JSON.stringify(current.subjects ?? []) !== JSON.stringify(wanted.subjects ?? [])) {
        // roleRef cannot change; subjects can.
        await client.replace(crbPath, (b) => ({ ...b, subjects: wanted.subjects }));
      }
    } else {
      const gone = await client.call('DELETE', crbPath);
      if (gone.status !== 200 && gone.status !== 404) throw new Error(`DELETE ${crbPath}: ${gone.status}`);
    }
    const nodes = pick('/nodes');
    const wantedNodes = new Set(nodes.map((n) => n.metadata.name));
    const existing = await client.call('GET', '/api/v1/nodes?labelSelector=kubernetes.azure.com%2Fagentpool');
    for (const n of existing.body?.items ?? []) {
      if (!wantedNodes.has(n.metadata.name)) await client.call('DELETE', `/api/v1/nodes/${n.metadata.name}`);
    }
    for (const n of nodes) {
      await client.ensure('/api/v1/nodes', n);
      await client.replace(`/api/v1/nodes/${n.metadata.name}/status`, (cur) => ({ ...cur, status: freshStatus(n.status) }));
    }
    const pods = pick('/pods', 'kube-system');
    const wantedPods = new Set(pods.map((p) => p.metadata.name));
    const havePods = await client.call('GET', '/api/v1/namespaces/kube-system/pods?labelSelector=kubernetes.azure.com%2Fmanagedby%3Daks');
    for (const p of havePods.body?.items ?? []) {
      if (!wantedPods.has(p.metadata.name)) await client.call('DELETE', `/api/v1/namespaces/kube-system/pods/${p.metadata.name}`);
    }
    for (const p of pods) {
      // No kubelet runs: the pods are placed on their nodes and reported running, as the built-in API shows them.
      const body = { ...p, spec: { ...p.spec, automountServiceAccountToken: false } };
      const stored = await client.ensure('/api/v1/namespaces/kube-system/pods', body);
      if (stored.status?.phase !== 'Running') {
        await client.replace(`/api/v1/namespaces/kube-system/pods/${p.metadata.name}/status`, (cur) => ({
          ...cur,
          status: freshStatus(p.status),
        }));
      }
    }
    c.reconciled = key;
  }

  /**
   * The cluster-role aggregation controller's work (no kube-controller-manager runs): `admin`, `edit`,
   * `view` and every role with an aggregationRule get the rules of the roles their selectors pick.
   */
  private async aggregateRoles(client: KubeClient): Promise<void> {
    const list = await client.call('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles');
    if (list.status !== 200) return;
    const roles = (list.body.items ?? []) as (RbacRole & { metadata: { resourceVersion?: string } })[];
    const byName = new Map(roles.map((r) => [r.metadata.name, r]));
    for (const role of aggregateClusterRoles(roles)) {
      const before = byName.get(role.metadata.name);
      if (!role.aggregationRule || !before || JSON.stringify(before.rules ?? []) === JSON.stringify(role.rules ?? [])) continue;
      const put = await client.call('PUT', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.metadata.name}`, {
        ...before,
        rules: role.rules,
      });
      if (put.status !== 200 && put.status !== 409) throw new Error(`aggregating cluster role ${role.metadata.name}: ${put.status}`);
    }
  }

  private async stopCluster(c: Cluster): Promise<void> {
    c.client?.close();
    c.client = null;
    await c.apiserver.stop();
    await c.etcd.stop();
    c.startedWith = null;
  }

  private async remove(c: Cluster): Promise<void> {
    if (c.starting) await c.starting.catch(() => undefined);
    await this.stopCluster(c);
    await c.apiserver.stopLeftover();
    await c.etcd.stopLeftover();
    this.clusters.delete(c.uid);
    rmSync(c.dir, { recursive: true, force: true });
    this.o.logger.info({ cluster: c.uid }, 'cluster API server removed');
  }

  /** Stops every API server (Kentra shutting down); their data stays for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await Promise.all(
      [...this.clusters.values()].map(async (c) => {
        if (c.starting) await c.starting.catch(() => undefined);
        await this.stopCluster(c);
      }),
    );
  }
}

/** Status timestamps as of now: the built-in API's are the cluster's creation time. */
function freshStatus(status: any): any {
  const now = `${new Date().toISOString().slice(0, 19)}Z`;
  const text = JSON.stringify(status ?? {}).replace(
    /"(lastHeartbeatTime|lastTransitionTime|startTime|startedAt)":"[^"]*"/g,
    `"$1":"${now}"`,
  );
  return JSON.parse(text);
}

async function etcdHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok && /"health":\s*"true"/.test(await res.text());
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 200));
  }
}
