import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';

// The two programs behind a real cluster: etcd and kube-apiserver, started on 127.0.0.1 with their
// output in files of the cluster's folder and their process ids in pid files, so that a Kentra
// started again finds (and replaces) what an earlier one left running.

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  /** What the kube-apiserver binary says it is (`1.36.3`): decides its flags and the clusters' kubernetesVersion. */
  kubernetesVersion: string;
}

/** The oldest kube-apiserver Kentra starts: 1.20, the first with v1 TokenReview and SubjectAccessReview webhooks by flag. */
export const OLDEST_KUBE_APISERVER_MINOR = 20;

/** The binaries from the options, else `KENTRA_KUBE_APISERVER` / `KENTRA_ETCD`, else none. */
export function binariesFrom(opts: { kubeApiserver?: string; etcd?: string }, env: NodeJS.ProcessEnv = process.env): Binaries | null {
  const kubeApiserver = opts.kubeApiserver || env.KENTRA_KUBE_APISERVER || '';
  const etcd = opts.etcd || env.KENTRA_ETCD || '';
  if (!kubeApiserver && !etcd) return null;
  if (!kubeApiserver || !etcd)
    throw new Error('a real API server needs both --kube-apiserver and --etcd (or KENTRA_KUBE_APISERVER and KENTRA_ETCD)');
  const versions: string[] = [];
  for (const [flag, path] of [
    ['--kube-apiserver', kubeApiserver],
    ['--etcd', etcd],
  ] as const) {
    const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.error || r.status !== 0)
      throw new Error(`${flag} ${path}: not a program that runs here (${r.error?.message ?? `exit ${r.status}`})`);
    versions.push(r.stdout ?? '');
  }
  const kubernetesVersion = versionOf(versions[0]!);
  const minor = Number(kubernetesVersion.split('.')[1]);
  if (!kubernetesVersion || kubernetesVersion.split('.')[0] !== '1' || minor < OLDEST_KUBE_APISERVER_MINOR) {
    throw new Error(
      `--kube-apiserver ${kubeApiserver}: \`--version\` printed ${JSON.stringify(versions[0]!.trim())}; Kentra needs a kube-apiserver 1.${OLDEST_KUBE_APISERVER_MINOR} or later that names its version (built with -X k8s.io/component-base/version.gitVersion=v1.N.P; see docs/real-api-servers.md)`,
    );
  }
  return { kubeApiserver, etcd, kubernetesVersion };
}

/** `Kubernetes v1.36.3` → `1.36.3` ('' when the text names no version). */
function versionOf(text: string): string {
  return /\bv(\d+\.\d+\.\d+)\b/.exec(text)?.[1] ?? '';
}

/** The version a kube-apiserver binary reports (`Kubernetes v1.20.2` → `1.20.2`). */
export function apiserverVersion(path: string): string {
  return versionOf(spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 }).stdout ?? '');
}

export interface ClusterPorts {
  apiserver: number;
  etcd: number;
  etcdPeer: number;
}

/** etcd's flags: one member, client and peer URLs on 127.0.0.1, its data in `<dir>/etcd` (3.4 to 3.6 read the same flags). */
export function etcdArgs(dir: string, ports: ClusterPorts): string[] {
  const { etcd: e, etcdPeer: p } = ports;
  return [
    '--name',
    'default',
    '--data-dir',
    join(dir, 'etcd'),
    '--listen-client-urls',
    `http://127.0.0.1:${e}`,
    '--advertise-client-urls',
    `http://127.0.0.1:${e}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${p}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${p}`,
    '--initial-cluster',
    `default=http://127.0.0.1:${p}`,
  ];
}

/** Who decides access: no Kubernetes RBAC; RBAC alone; RBAC then Kentra's Azure RBAC webhook (as AKS's Guard). */
export type AuthorizationMode = 'AlwaysAllow' | 'Node,RBAC' | 'Node,RBAC,Webhook';

export interface KubeApiserverInputs {
  /** The binary's version (`1.36.3`): flags differ by minor. */
  version: string;
  /** The cluster's folder: certificates, keys and webhook kubeconfigs written by the runner. */
  dir: string;
  ports: ClusterPorts;
  /** The service-account issuer (and API audience). */
  issuer: string;
  mode: AuthorizationMode;
}

/**
 * kube-apiserver's flags for a cluster, by version. Webhooks are asked with v1 reviews (the default
 * is still v1beta1); before 1.24 the insecure port must be turned off; from 1.32 the authorizers are
 * an AuthorizationConfiguration file (GA in 1.32, re-read when it changes) written into the folder,
 * before that the --authorization-mode flags.
 */
export function kubeApiserverArgs(o: KubeApiserverInputs): string[] {
  const f = (name: string) => join(o.dir, name);
  const minor = Number(o.version.split('.')[1]);
  const { apiserver: a, etcd: e } = o.ports;
  // Kentra caches decisions itself; short caches here keep role changes visible within seconds.
  const ttl = '2s';
  const webhook = o.mode.includes('Webhook');
  let authorization: string[];
  if (minor >= 32) {
    writeFileSync(f('authorization-config.yaml'), stringify(authorizationConfiguration(o.mode, f('authz-webhook.kubeconfig'), ttl)));
    authorization = [`--authorization-config=${f('authorization-config.yaml')}`];
  } else {
    rmSync(f('authorization-config.yaml'), { force: true });
    authorization = [
      `--authorization-mode=${o.mode}`,
      ...(webhook
        ? [
            `--authorization-webhook-config-file=${f('authz-webhook.kubeconfig')}`,
            '--authorization-webhook-version=v1',
            `--authorization-webhook-cache-authorized-ttl=${ttl}`,
            `--authorization-webhook-cache-unauthorized-ttl=${ttl}`,
          ]
        : []),
    ];
  }
  return [
    '--bind-address=127.0.0.1',
    `--secure-port=${a}`,
    ...(minor < 24 ? ['--insecure-port=0'] : []),
    '--advertise-address=127.0.0.1',
    '--endpoint-reconciler-type=none',
    `--etcd-servers=http://127.0.0.1:${e}`,
    '--service-cluster-ip-range=10.0.0.0/16',
    `--cert-dir=${o.dir}`,
    `--tls-cert-file=${f('serving.pem')}`,
    `--tls-private-key-file=${f('serving-key.pem')}`,
    `--client-ca-file=${f('client-ca.pem')}`,
    `--service-account-key-file=${f('sa.pub')}`,
    `--service-account-signing-key-file=${f('sa.key')}`,
    `--service-account-issuer=${o.issuer}`,
    `--api-audiences=${o.issuer}`,
    ...authorization,
    `--authentication-token-webhook-config-file=${f('authn-webhook.kubeconfig')}`,
    '--authentication-token-webhook-version=v1',
    `--authentication-token-webhook-cache-ttl=${ttl}`,
    '--anonymous-auth=false',
    '--profiling=false',
  ];
}

/** The `apiserver.config.k8s.io/v1` AuthorizationConfiguration of a mode (kube-apiserver 1.32+). */
export function authorizationConfiguration(mode: AuthorizationMode, webhookKubeconfig: string, ttl: string): Record<string, unknown> {
  // kube-apiserver requires each built-in authorizer's name to be its type in lower case.
  const authorizers: Record<string, unknown>[] =
    mode === 'AlwaysAllow'
      ? [{ type: 'AlwaysAllow', name: 'alwaysallow' }]
      : [
          { type: 'Node', name: 'node' },
          { type: 'RBAC', name: 'rbac' },
        ];
  if (mode === 'Node,RBAC,Webhook') {
    authorizers.push({
      type: 'Webhook',
      name: 'kentra-azure-rbac',
      webhook: {
        timeout: '10s',
        authorizedTTL: ttl,
        unauthorizedTTL: ttl,
        subjectAccessReviewVersion: 'v1',
        matchConditionSubjectAccessReviewVersion: 'v1',
        // As the --authorization-webhook-* flags behave: an unreachable webhook has no opinion (so nothing more is allowed).
        failurePolicy: 'NoOpinion',
        connectionInfo: { type: 'KubeConfigFile', kubeConfigFile: webhookKubeconfig },
      },
    });
  }
  return { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AuthorizationConfiguration', authorizers };
}

/** A port nobody listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** True when something accepts connections on the port (so it is not ours to take). */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The process of a pid file, when it still runs and its command line names `marker` (our folder). */
function ownProcess(pidFile: string, marker: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return null;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker) ? pid : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (alive(pid)) await sleep(50);
  }
}

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exitedWith: string | null = null;

  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  get pidFile(): string {
    return join(this.dir, `${this.name}.pid`);
  }
  get logFile(): string {
    return join(this.dir, `${this.name}.log`);
  }

  /** Stops a process an earlier Kentra left running for this folder (found by its pid file). */
  async stopLeftover(): Promise<void> {
    const pid = ownProcess(this.pidFile, this.dir);
    if (pid) await terminate(pid, 5_000);
    rmSync(this.pidFile, { force: true });
  }

  start(program: string, args: string[]): void {
    const log = openSync(this.logFile, 'w');
    this.exitedWith = null;
    const child = spawn(program, args, { stdio: ['ignore', log, log], cwd: this.dir });
    closeSync(log);
    child.on('error', (err) => {
      this.exitedWith = err.message;
    });
    child.on('exit', (code, signal) => {
      this.exitedWith = signal ? `signal ${signal}` : `exit code ${code}`;
      this.child = null;
    });
    this.child = child;
    if (child.pid) writeFileSync(this.pidFile, `${child.pid}\n`);
  }

  /** Why it stopped, or null while it runs. */
  exited(): string | null {
    return this.child ? null : (this.exitedWith ?? 'not started');
  }

  /** The last lines it wrote, for error messages. */
  tail(lines = 12): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (child?.pid) await terminate(child.pid, graceMs);
    this.child = null;
    rmSync(this.pidFile, { force: true });
  }
}
