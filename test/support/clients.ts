import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENT = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'e2e/clients/client.js');

export interface ClientRun<T> {
  ok: boolean;
  result: T;
  error?: string;
  stderr: string;
}

/**
 * Runs one client-library scenario (test/e2e/clients/client.ts) in its own process, trusting Kentra's
 * CA through NODE_EXTRA_CA_CERTS. `onUserCode` completes a device-code sign-in when the client asks.
 */
export function runClient<T = any>(
  scenario: Record<string, unknown>,
  opts: { caFile: string; onUserCode?: (code: string) => Promise<void> },
): Promise<ClientRun<T>> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLIENT, JSON.stringify(scenario)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: opts.caFile, AZURE_AUTHORITY_HOST: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signIn: Promise<void> | undefined;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /USER_CODE ([A-Z0-9]+)/.exec(stderr);
      if (m && !signIn && opts.onUserCode)
        signIn = opts.onUserCode(m[1]!).catch((err) => {
          child.kill();
          reject(err);
        });
    });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`client timed out: ${stderr}`));
    }, 90_000);
    child.on('close', async () => {
      clearTimeout(timer);
      await signIn;
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolvePromise({ ...JSON.parse(line), stderr });
      } catch {
        reject(new Error(`client printed no result: ${stdout} ${stderr}`));
      }
    });
  });
}
