import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { httpsFetch } from './http.js';
import { KENTRA_BIN, startTestKentra, type Endpoints, type TestKentra } from './kentra.js';
import { onPath, packageSkip } from './packages.js';
import { currentAzureCli } from './tools.js';

// The real Azure CLI registered against a Kentra, in its two set-ups (docs/clients.md):
// - Debian's azure-cli 2.45 (`az` on PATH) with the ADFS-style authority `<authority>/adfs`, because its
//   MSAL cannot turn instance discovery off (docs/azure-cli.md);
// - the current azure-cli from PyPI (scripts/install-azure-cli.sh) with Kentra's tenant authority itself
//   as the cloud's Entra endpoint and `core.instance_discovery=false`.

export const hasAz = onPath('az');
export const azSkip = packageSkip(hasAz, 'azure-cli', 'the Azure CLI (az)');

export interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Az {
  /** The az program this runs (`az` on PATH, or the current az's path). */
  bin: string;
  env: NodeJS.ProcessEnv;
  run(...args: string[]): Promise<AzResult>;
  /** Runs az, calling `onStderr` with all of stderr so far each time it grows (prompts such as the device code). */
  spawn(args: string[], onStderr: (stderr: string) => void): Promise<AzResult>;
  json(...args: string[]): Promise<any>;
  tsv(...args: string[]): Promise<string>;
  close(): void;
}

function azRunner(bin: string, env: NodeJS.ProcessEnv) {
  const spawnAz = (args: string[], onStderr?: (stderr: string) => void) =>
    new Promise<AzResult>((resolve) => {
      const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr);
      });
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  const run = (...args: string[]) => spawnAz(args);
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    assert.equal(r.code, 0, `az ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  };
  return { spawnAz, run, ok };
}

/** A fresh az configuration (own HOME and config dir) for `bin`, trusting `caBundle`: the Az, and its runner for the set-up steps. */
function freshAzConfig(bin: string, prefix: string, caBundle: string, extraEnv: NodeJS.ProcessEnv) {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    AZURE_CONFIG_DIR: join(home, '.azure'),
    AZURE_CORE_COLLECT_TELEMETRY: 'false',
    AZURE_CORE_NO_COLOR: 'true',
    REQUESTS_CA_BUNDLE: caBundle,
    ...extraEnv,
  };
  const { spawnAz, run, ok } = azRunner(bin, env);
  const az: Az = {
    bin,
    env,
    run,
    spawn: spawnAz,
    json: async (...args) => JSON.parse((await ok(...args, '-o', 'json')).stdout || 'null'),
    tsv: async (...args) => (await ok(...args, '-o', 'tsv')).stdout.trim(),
    close: () => rmSync(home, { recursive: true, force: true }),
  };
  return { home, env, ok, az };
}

/**
 * A fresh az configuration (own config dir and HOME) with Kentra registered as the active cloud in the
 * ADFS-style set-up of docs/azure-cli.md: Debian's `az` by default, or another az program (`bin`).
 */
export async function azFor(e: Endpoints, bin = 'az', extraEnv: NodeJS.ProcessEnv = {}): Promise<Az> {
  const { home, ok, az } = freshAzConfig(bin, 'kentra-az-', e.caFile, extraEnv);
  const cloud = {
    endpoints: {
      resourceManager: `${e.authority}/`,
      activeDirectory: `${e.authority}/adfs`,
      activeDirectoryResourceId: 'https://management.core.windows.net/',
      activeDirectoryGraphResourceId: 'https://graph.windows.net/',
      microsoftGraphResourceId: `${e.authority}/`,
      management: 'https://management.core.windows.net/',
    },
    suffixes: { storageEndpoint: 'core.windows.net', keyvaultDns: '.vault.azure.net', acrLoginServerEndpoint: '.azurecr.io' },
  };
  writeFileSync(join(home, 'cloud.json'), JSON.stringify(cloud));
  await ok('cloud', 'register', '-n', 'Kentra', '--cloud-config', `@${join(home, 'cloud.json')}`);
  await ok('cloud', 'set', '-n', 'Kentra');
  return az;
}

/** What `kentra env` gives a shell for this Kentra: its variables (REQUESTS_CA_BUNDLE: the system roots plus Kentra's CA) and the folder with `kentra` and `kubelogin`. */
export function kentraEnv(e: Endpoints): { env: Record<string, string>; binDir: string } {
  const r = spawnSync(process.execPath, [KENTRA_BIN, 'env', '--json', '--data-dir', e.dataDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `kentra env --json: ${r.stderr}`);
  const json = JSON.parse(r.stdout) as { env: Record<string, string>; binDir: string };
  return { env: json.env, binDir: json.binDir };
}

/** The one request for anything but Kentra the current az makes: its version check, once per fresh config directory (silent when refused). */
export const AZ_VERSION_CHECK = 'CONNECT azcliprod.blob.core.windows.net:443';

/**
 * An HTTPS proxy (CONNECT only) that carries az's traffic to Kentra and refuses and records
 * everything else, so a test can prove az talked to nothing but Kentra. It also stands in for
 * "Kentra on port 443": MSAL Python drops the authority's port for its user-realm lookup (`az login
 * -u -p` asks `https://localhost/common/userrealm/…`), so a tunnel to localhost:443 goes to Kentra's
 * port, as `kentra up --port 443` or a port forward would give a user.
 */
export async function kentraOnlyProxy(
  kentraPort: number,
): Promise<{ url: string; refused: string[]; tunnelsTo443: () => number; close(): void }> {
  const refused: string[] = [];
  let to443 = 0;
  const server = createServer((req, res) => {
    refused.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const m = /^(localhost|127\.0\.0\.1):(\d+)$/.exec(req.url ?? '');
    const port = m ? Number(m[2]) : 0;
    if (!m || (port !== 443 && port !== kentraPort)) {
      refused.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    if (port === 443) to443++;
    const upstream = connect(kentraPort, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused,
    tunnelsTo443: () => to443,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A fresh configuration of the current Azure CLI with Kentra registered the way `kentra env` prints it
 * (docs/clients.md): `az cloud register` reads the endpoints from Kentra's `/metadata/endpoints` (Kentra's
 * tenant authority as the Entra endpoint, Kentra's Graph), then `az config set core.instance_discovery=false`.
 * The printed commands run as written, in bash, with the current az first on PATH.
 */
export async function currentAzFor(e: Endpoints, extraEnv: NodeJS.ProcessEnv = {}): Promise<Az> {
  const currentAz = currentAzureCli();
  if (currentAz.skip) throw new Error(currentAz.skip);
  const { env, az } = freshAzConfig(currentAz.path, 'kentra-az-current-', kentraEnv(e).env.REQUESTS_CA_BUNDLE!, extraEnv);
  const printed = spawnSync(process.execPath, [KENTRA_BIN, 'env', '--data-dir', e.dataDir], { encoding: 'utf8' }).stdout;
  const setup = printed
    .split('\n')
    .filter((line) => line.startsWith('#   az '))
    .map((line) => line.slice('#   '.length));
  assert.equal(setup.length, 2, `kentra env prints the az set-up:\n${printed}`);
  // Not spawnSync: az may go through a proxy served by this very process.
  const bash = azRunner('bash', { ...env, PATH: `${dirname(currentAz.path)}:${env.PATH}` });
  for (const command of setup) await bash.ok('-c', command);
  return az;
}

/** A Kentra (`kentra up`), the kentra-only proxy in front of it, and the current az registered through it: the set-up of the current-az files. */
export interface CurrentAzKentra {
  k: TestKentra;
  proxy: Awaited<ReturnType<typeof kentraOnlyProxy>>;
  az: Az;
  /** Another fresh az configuration for this Kentra, through the same proxy (closed with the rest). */
  freshAz(): Promise<Az>;
  /** A token's claims, its signature checked against the tenant's published keys. */
  verify(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

export async function startKentraWithCurrentAz(opts: Parameters<typeof startTestKentra>[0] = {}): Promise<CurrentAzKentra> {
  const k = await startTestKentra(opts);
  const proxy = await kentraOnlyProxy(k.port);
  const azs: Az[] = [];
  const freshAz = async () => {
    const az = await currentAzFor(k.endpoints, { HTTPS_PROXY: proxy.url });
    azs.push(az);
    return az;
  };
  try {
    const az = await freshAz();
    const { authority, caFile, tenantId } = k.endpoints;
    const jwks = createLocalJWKSet((await httpsFetch(`${authority}/${tenantId}/discovery/v2.0/keys`, { caFile })).json<JSONWebKeySet>());
    return {
      k,
      proxy,
      az,
      freshAz,
      verify: async (token) => (await jwtVerify(token, jwks)).payload,
      async close() {
        await k.close();
        for (const a of azs) a.close();
        proxy.close();
      },
    };
  } catch (err) {
    await k.close();
    for (const a of azs) a.close();
    proxy.close();
    throw err;
  }
}
