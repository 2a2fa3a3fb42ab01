import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpsFetch } from './http.js';
import { completeDeviceLogin, KENTRA_BIN, type TestKentra } from './kentra.js';
import type { Run } from './kentra-cli.js';
import { machinePath } from './user-shell.js';

// Upstream Azure/kubelogin (pinned, built from its Go module by scripts/build-go-tool.sh) as the
// exec plugin of the real kubectl, in a shell readied by `eval "$(kentra env)"`: the trust of
// Kentra's CA (SSL_CERT_FILE) and AZURE_AUTHORITY_HOST come from `kentra env`; only PATH is changed
// after it, so that `kubelogin` is upstream's and not the one `kentra env` puts on PATH.

export const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';

/** The environment `eval "$(kentra env)"` leaves in a fresh shell whose HOME is `home`. */
export function kentraEnvironment(k: TestKentra, home: string): NodeJS.ProcessEnv {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-c', `set -e; eval "$("${process.execPath}" "${KENTRA_BIN}" env)"; env -0`], {
    env: { PATH: machinePath(), HOME: home, KENTRA_DATA_DIR: k.dataDir, LANG: 'C.UTF-8' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`kentra env failed: ${r.stderr}`);
  const env: NodeJS.ProcessEnv = {};
  for (const entry of r.stdout.split('\0').filter(Boolean)) {
    const eq = entry.indexOf('=');
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  for (const noise of ['PWD', 'OLDPWD', 'SHLVL', '_']) delete env[noise];
  return env;
}

/** `<dir>/upstream-bin`: upstream's kubelogin, and an `xdg-open` that writes the URL it is given to `<dir>/opened-urls`. */
export function upstreamBin(dir: string, kubeloginPath: string): { bin: string; openedUrls: string } {
  const bin = join(dir, 'upstream-bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(kubeloginPath, join(bin, 'kubelogin'));
  const openedUrls = join(dir, 'opened-urls');
  // github.com/pkg/browser (MSAL Go's browser opener) runs the first of xdg-open, x-www-browser, www-browser on PATH.
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$1" >> '${openedUrls}'\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  return { bin, openedUrls };
}

/** Runs a command; completes a device-code sign-in as `signIn` when the command prints one. */
export function runCommand(
  env: NodeJS.ProcessEnv,
  cmd: string,
  args: string[],
  opts: {
    k?: TestKentra;
    signIn?: { username: string; password: string };
    onStderr?: (stderr: string) => void;
  } = {},
): Promise<Run & { signIns: number }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const signIns: Promise<string>[] = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr);
      const m = /enter the code ([A-Z0-9]{9}) to authenticate/.exec(stderr);
      if (m && signIns.length === 0 && opts.signIn && opts.k) {
        signIns.push(
          completeDeviceLogin(opts.k.endpoints.authority, opts.k.endpoints.caFile, m[1]!, opts.signIn.username, opts.signIn.password),
        );
      }
    });
    child.on('close', async (code) => {
      try {
        await Promise.all(signIns);
      } catch (e) {
        reject(e);
        return;
      }
      resolveRun({ code: code ?? -1, stdout, stderr, signIns: signIns.length });
    });
  });
}

/** How many `method` requests Kentra has answered on the routes matching `route` (every status), from its Prometheus metrics. */
export async function requestCount(k: TestKentra, route: RegExp, method = 'POST'): Promise<number> {
  const { text } = await httpsFetch(`${k.endpoints.authority}/metrics`, { caFile: k.endpoints.caFile });
  let total = 0;
  for (const m of text.matchAll(/^kentra_http_requests_total\{method="(\w+)",route="([^"]+)",status="\d+"\} (\d+)$/gm)) {
    if (m[1] === method && route.test(m[2]!)) total += Number(m[3]);
  }
  return total;
}
