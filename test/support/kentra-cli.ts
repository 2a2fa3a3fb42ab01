import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { KENTRA_BIN } from './kentra.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real `kentra` CLI process, with the given environment (config dir, HOME, KUBECONFIG…). */
export function kentraCli(env: () => NodeJS.ProcessEnv) {
  const run = (args: string[], opts: { onStderr?: (text: string) => void } = {}): Promise<Run> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [KENTRA_BIN, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        opts.onStderr?.(stderr);
      });
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const ok = async (...args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `kentra ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return { run, ok, json: async (...args: string[]) => JSON.parse(await ok(...args)) };
}
