import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Run } from './kentra-cli.js';

// What the kubectl end-to-end suites share: a folder of command shims to put first on PATH (so a
// kubeconfig's `command: kubelogin`, or a script's `kentra`, runs this checkout's build with this
// node), and a process runner with kubectl helpers over one environment.

export const KUBELOGIN_BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src/kubelogin/bin.cjs');

/** `<dir>/bin` with one shell shim per command, each running `node <script>`. */
export function commandShims(dir: string, scripts: Record<string, string>): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, script] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** Runs commands with `env()` (plus per-call additions); `onStderr` sees stderr as it grows. */
export function processRunner(env: () => NodeJS.ProcessEnv) {
  const run = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, onStderr?: (s: string) => void): Promise<Run> => new Promise((resolveRun) => {
    const child = spawn(cmd, args, { env: { ...env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); onStderr?.(stderr); });
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
  const kubectl = (kubeconfig: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], extraEnv);
  const kubectlOk = async (kubeconfig: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = await kubectl(kubeconfig, args, extraEnv);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  return { run, kubectl, kubectlOk };
}
