import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

// The two programs behind a real cluster: etcd and kube-apiserver, started on 127.0.0.1 with their
// output in files of the cluster's folder and their process ids in pid files, so that a Kentra
// started again finds (and replaces) what an earlier one left running.

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
}

/** The binaries from the options, else `KENTRA_KUBE_APISERVER` / `KENTRA_ETCD`, else none. */
export function binariesFrom(opts: { kubeApiserver?: string; etcd?: string }, env: NodeJS.ProcessEnv = process.env): Binaries | null {
  const kubeApiserver = opts.kubeApiserver || env.KENTRA_KUBE_APISERVER || '';
  const etcd = opts.etcd || env.KENTRA_ETCD || '';
  if (!kubeApiserver && !etcd) return null;
  if (!kubeApiserver || !etcd) throw new Error('a real API server needs both --kube-apiserver and --etcd (or KENTRA_KUBE_APISERVER and KENTRA_ETCD)');
  for (const [flag, path] of [['--kube-apiserver', kubeApiserver], ['--etcd', etcd]] as const) {
    const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.error || r.status !== 0) throw new Error(`${flag} ${path}: not a program that runs here (${r.error?.message ?? `exit ${r.status}`})`);
  }
  return { kubeApiserver, etcd };
}

/** The version a kube-apiserver binary reports (`Kubernetes v1.20.2` → `1.20.2`). */
export function apiserverVersion(path: string): string {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 }).stdout ?? '';
  return /v(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? '';
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
  try { process.kill(pid, 0); return true; } catch { return false; }
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
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid)) await sleep(50);
  }
}

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exitedWith: string | null = null;

  constructor(readonly name: string, private readonly dir: string) {}

  get pidFile(): string { return join(this.dir, `${this.name}.pid`); }
  get logFile(): string { return join(this.dir, `${this.name}.log`); }

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
    child.on('error', (err) => { this.exitedWith = err.message; });
    child.on('exit', (code, signal) => { this.exitedWith = signal ? `signal ${signal}` : `exit code ${code}`; this.child = null; });
    this.child = child;
    if (child.pid) writeFileSync(this.pidFile, `${child.pid}\n`);
  }

  /** Why it stopped, or null while it runs. */
  exited(): string | null {
    return this.child ? null : (this.exitedWith ?? 'not started');
  }

  /** The last lines it wrote, for error messages. */
  tail(lines = 12): string {
    try { return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return ''; }
  }

  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (child?.pid) await terminate(child.pid, graceMs);
    this.child = null;
    rmSync(this.pidFile, { force: true });
  }
}
