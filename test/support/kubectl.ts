import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
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
  const run = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, onStderr?: (s: string) => void): Promise<Run> =>
    new Promise((resolveRun) => {
      const child = spawn(cmd, args, { env: { ...env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr);
      });
      child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    });
  const kubectl = (kubeconfig: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    run('kubectl', ['--kubeconfig', kubeconfig, ...args], extraEnv);
  const kubectlOk = async (kubeconfig: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = await kubectl(kubeconfig, args, extraEnv);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** The bearer token a kubeconfig's user sends: its static token, or what its exec plugin prints. */
  const tokenOf = async (kubeconfig: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> => {
    const user = parse(readFileSync(kubeconfig, 'utf8')).users[0].user;
    if (user.token) return String(user.token);
    const pluginEnv = Object.fromEntries(((user.exec?.env ?? []) as { name: string; value: string }[]).map((e) => [e.name, e.value]));
    const r = await run(user.exec.command, user.exec.args ?? [], { ...extraEnv, ...pluginEnv });
    assert.equal(r.code, 0, `exec plugin: ${r.stderr}`);
    return JSON.parse(r.stdout).status.token as string;
  };
  /**
   * `kubectl auth whoami`'s table. An API server without SelfSubjectReview (kube-apiserver 1.20, before
   * 1.26) cannot say who the caller is, so there the credential's token is put to the server's TokenReview
   * by `reviewer` (an admin kubeconfig) and the answer printed the same way.
   */
  const whoami = async (kubeconfig: string, extraEnv: NodeJS.ProcessEnv = {}, reviewer?: string): Promise<Run> => {
    if (!reviewer) return kubectl(kubeconfig, ['auth', 'whoami'], extraEnv);
    const token = await tokenOf(kubeconfig, extraEnv);
    const dir = mkdtempSync(join(tmpdir(), 'kentra-whoami-'));
    try {
      const file = join(dir, 'review.json');
      writeFileSync(file, JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }));
      const r = await kubectl(reviewer, ['create', '-f', file, '-o', 'json']);
      assert.equal(r.code, 0, `TokenReview: ${r.stderr}`);
      const status = JSON.parse(r.stdout).status;
      // Refused: what the server itself answers that credential (kubectl's own 401 message).
      if (!status.authenticated) return kubectl(kubeconfig, ['get', '--raw', '/version'], extraEnv);
      const rows = [
        ['ATTRIBUTE', 'VALUE'],
        ['Username', status.user.username],
        ...(status.user.uid ? [['UID', status.user.uid]] : []),
        ['Groups', `[${(status.user.groups ?? []).join(' ')}]`],
      ];
      for (const [k, v] of Object.entries((status.user.extra ?? {}) as Record<string, string[]>))
        rows.push([`Extra: ${k}`, `[${v.join(' ')}]`]);
      return { code: 0, stdout: rows.map(([a, b]) => `${a!.padEnd(20)}${b}`).join('\n') + '\n', stderr: '' };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { run, kubectl, kubectlOk, whoami, tokenOf };
}
