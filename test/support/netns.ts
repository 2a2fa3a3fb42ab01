import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Endpoints } from '../../src/kentra.js';
import { KENTRA_BIN } from './kentra.js';
import { commandPath, packageSkip } from './packages.js';

// A network namespace for tests of clients that reach Kentra at Microsoft's own host names (issue 19):
// `ip netns exec` bind-mounts /etc/netns/<name>/hosts over /etc/hosts for the programs it runs, so the
// names resolve to 127.0.0.1 inside the namespace only; the machine's own /etc/hosts is never touched.
// Kentra runs inside it too (on 127.0.0.1:443 there), and so does every client.

/** The skip reason when network namespaces cannot be made here (no `ip`, not root); false when they can. */
export function netnsSkip(): false | string {
  const ip = packageSkip(commandPath('ip') !== '', 'iproute2', 'ip (network namespaces)');
  if (ip) return ip;
  if (process.getuid?.() !== 0) {
    if (process.env.CI) throw new Error('the network-namespace tests need root in CI');
    return 'network namespaces need root';
  }
  return false;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Netns {
  name: string;
  /** Starts a program inside the namespace (the caller stops it by pid, or `close` does). */
  spawn(command: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): ChildProcess;
  /** Runs a program inside the namespace to its end (killed after `timeoutMs`). */
  run(
    command: string,
    args: string[],
    opts?: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number },
  ): Promise<RunResult>;
  /** Adds lines to the namespace's /etc/hosts (read by every program started after). */
  addHosts(lines: string): void;
  /** Deletes the namespace and /etc/netns/<name>, after stopping what `spawn` started. */
  close(): Promise<void>;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/** A fresh namespace `kentra-<random>` with `lo` up and `hostsLines` in its /etc/hosts (after localhost). */
export function createNetns(hostsLines = ''): Netns {
  const name = `kentra-${randomBytes(4).toString('hex')}`;
  const etc = join('/etc/netns', name);
  ip(['netns', 'add', name]);
  const started = new Set<ChildProcess>();
  try {
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'hosts'), `127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n${hostsLines}`);
  } catch (err) {
    spawnSync('ip', ['netns', 'delete', name]);
    rmSync(etc, { recursive: true, force: true });
    throw err;
  }
  const spawnIn = (command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => {
    // `ip netns exec` execs the program after entering the namespace: the child's pid is the program's.
    const child = spawn('ip', ['netns', 'exec', name, command, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    started.add(child);
    child.once('exit', () => started.delete(child));
    return child;
  };
  return {
    name,
    spawn: spawnIn,
    addHosts: (lines) =>
      writeFileSync(join(etc, 'hosts'), `${readFileSync(join(etc, 'hosts'), 'utf8')}${lines.endsWith('\n') ? lines : `${lines}\n`}`),
    run(command, args, opts = {}) {
      return new Promise((resolvePromise) => {
        const child = spawnIn(command, args, opts);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const timer = setTimeout(() => {
          stderr += `\n(killed after ${opts.timeoutMs} ms)`;
          child.kill('SIGKILL');
        }, opts.timeoutMs ?? 120_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolvePromise({ code, stdout, stderr });
        });
        child.stdin!.end(opts.input ?? '');
      });
    },
    async close() {
      for (const child of [...started]) {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      }
      spawnSync('ip', ['netns', 'delete', name]);
      rmSync(etc, { recursive: true, force: true });
    },
  };
}

export interface KentraInNetns {
  endpoints: Endpoints;
  dataDir: string;
  process: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

/** Runs the real `kentra up --azure-hostnames` inside the namespace and waits until it serves. */
export async function startKentraIn(
  ns: Netns,
  opts: { seed?: string; dataDir?: string; extraArgs?: string[]; azureHostnames?: boolean } = {},
): Promise<KentraInNetns> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kentra-byname-'));
  const args = [KENTRA_BIN, 'up', '--data-dir', dataDir, '--port', '0', '--device-code-interval', '1', '--provisioning-delay', '200'];
  if (opts.azureHostnames !== false) args.push('--azure-hostnames');
  if (opts.seed) {
    writeFileSync(join(dataDir, 'seed.yaml'), opts.seed);
    args.push('--seed', join(dataDir, 'seed.yaml'));
  }
  args.push(...(opts.extraArgs ?? []));
  const child = ns.spawn(process.execPath, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`kentra did not start within 60 s\nstdout: ${stdout}\nstderr: ${stderr}`)), 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`kentra exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
    };
    child.on('exit', onExit);
    child.stdout!.on('data', () => {
      if (stdout.includes('Stop with Ctrl-C.')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolvePromise();
      }
    });
  });
  const endpoints = JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8')) as Endpoints;
  return {
    endpoints,
    dataDir,
    process: child,
    logs: () => `${stdout}\n${stderr}`,
    /** Stops it by pid; removes the data directory unless the caller gave it. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface NsResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json<T = any>(): T;
}

const SELF = fileURLToPath(import.meta.url);

export interface NsRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  pathAsWritten?: string;
}

/**
 * HTTPS requests made in turn from inside the namespace (by this file run as a script, one process),
 * trusting `caFile`. `headers.host` overrides the Host header while the connection and the certificate
 * check go where the URL says; `pathAsWritten` is sent exactly (no dot-segment resolution or re-encoding).
 */
export async function nsFetchAll(ns: Netns, caFile: string, requests: NsRequest[]): Promise<NsResponse[]> {
  const r = await ns.run(process.execPath, [SELF, JSON.stringify({ caFile, requests })], { timeoutMs: 60_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: { status: number; headers: Record<string, string>; text: string; error?: string }[];
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`requests in ${ns.name} printed nothing: ${r.stdout} ${r.stderr}`);
  }
  return parsed.map((p, i) => {
    if (p.error) throw new Error(`request ${requests[i]!.url} in ${ns.name} failed: ${p.error}`);
    return { ...p, json: () => JSON.parse(p.text) };
  });
}

/** One request of `nsFetchAll`. */
export async function nsFetch(ns: Netns, url: string, opts: Omit<NsRequest, 'url'> & { caFile: string }): Promise<NsResponse> {
  const { caFile, ...rest } = opts;
  return (await nsFetchAll(ns, caFile, [{ url, ...rest }]))[0]!;
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const { caFile, requests } = JSON.parse(process.argv[2]!) as { caFile: string; requests: NsRequest[] };
  const ca = readFileSync(caFile);
  const one = (o: NsRequest) =>
    new Promise<unknown>((resolvePromise) => {
      const u = new URL(o.url);
      const req = httpsRequest(
        {
          hostname: u.hostname,
          port: u.port || 443,
          path: o.pathAsWritten ?? `${u.pathname}${u.search}`,
          method: o.method ?? 'GET',
          headers: o.headers,
          ca,
          servername: u.hostname,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolvePromise({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', (err) => resolvePromise({ error: err.message }));
      req.end(o.body);
    });
  const results: unknown[] = [];
  for (const o of requests) results.push(await one(o));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

/** The variables `kentra env` exports (run inside the namespace), as a client's shell would have them. */
export async function kentraEnv(ns: Netns, dataDir: string): Promise<Record<string, string>> {
  const r = await ns.run(process.execPath, [KENTRA_BIN, 'env', '--data-dir', dataDir], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`kentra env failed: ${r.stderr}`);
  const vars: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)) vars[m[1]!] = m[2]!;
  return vars;
}
