import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Endpoints } from '../../src/kentra.js';
import { formAction, hiddenField, httpsFetch, postForm } from './http.js';

export type { Endpoints };

export interface TestKentra {
  endpoints: Endpoints;
  dataDir: string;
  process: ChildProcess;
  /** Everything the process wrote to stderr (its logs), for assertions that nothing secret leaked. */
  logs(): string;
  /** Everything it wrote to stdout (the start summary). */
  stdout(): string;
  /** The port this process listens on, from its own summary (endpoints.json names the last instance to start when several share a data directory). */
  port: number;
  close(): Promise<void>;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const KENTRA_BIN = join(root, 'dist/src/cli/bin.cjs');

/** Spawns the real `kentra up` on a free port in a fresh data directory and waits until it serves. */
export async function startTestKentra(
  opts: {
    seed?: string;
    store?: string;
    extraArgs?: string[];
    dataDir?: string;
    env?: Record<string, string>;
    /** Options for node itself, before the command's file. */
    nodeArgs?: string[];
  } = {},
): Promise<TestKentra> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kentra-test-'));
  const args = [KENTRA_BIN, 'up', '--data-dir', dataDir, '--port', '0', '--device-code-interval', '1', '--log-level', 'info'];
  if (opts.seed) {
    const seedFile = join(dataDir, 'seed.yaml');
    writeFileSync(seedFile, opts.seed);
    args.push('--seed', seedFile);
  }
  if (opts.store) args.push('--store', opts.store);
  args.push(...(opts.extraArgs ?? []));
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
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
    const check = () => {
      if (stdout.includes('Kentra is running.') && stdout.includes('Stop with Ctrl-C.')) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kentra exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
  const endpoints = JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8')) as Endpoints;
  return {
    endpoints,
    dataDir,
    process: child,
    logs: () => stderr,
    stdout: () => stdout,
    port: Number(/Authority\s+https:\/\/localhost:(\d+)/.exec(stdout)?.[1] ?? new URL(endpoints.authority).port),
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Completes a device-code sign-in the way a person does on `<authority>/devicelogin`: enter the
 * code, sign in, accept consent if asked. Plain form posts; throws with the page text on failure.
 */
export async function completeDeviceLogin(
  authority: string,
  caFile: string,
  userCode: string,
  username: string,
  password: string,
  decision: 'accept' | 'decline' = 'accept',
): Promise<string> {
  const entry = await httpsFetch(`${authority}/devicelogin`, { caFile });
  if (entry.status !== 200 || !entry.text.includes('name="user_code"')) throw new Error(`device login page: ${entry.status} ${entry.text}`);
  const signIn = await postForm(`${authority}/devicelogin`, { user_code: userCode }, caFile);
  const state = hiddenField(signIn.text, 'state');
  if (signIn.status !== 200 || !state) throw new Error(`entering the code failed: ${signIn.status} ${pageText(signIn.text)}`);
  let page = await postForm(`${authority}${formAction(signIn.text)}`, { state, username, password }, caFile);
  if (page.text.includes('name="decision"')) {
    page = await postForm(`${authority}${formAction(page.text)}`, { state: hiddenField(page.text, 'state')!, decision }, caFile);
  }
  const text = pageText(page.text);
  if (page.status !== 200) throw new Error(`device sign-in failed: ${page.status} ${text}`);
  return text;
}

/** The visible text of a page. */
export function pageText(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>|<script>[\s\S]*?<\/script>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
