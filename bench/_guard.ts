// Guard (github.com/kubeguard/guard, v0.16.28) as the TokenReview webhook of a Kentra tenant, for the
// access bench's side-by-side figures, set up as reference/current-clients.md §5.2–5.3 says: the
// AzureStackCloud environment file naming Kentra as the AAD endpoint, passthrough mode without Graph
// (groups from the token), --clock-check-interval=0 (no NTP offline), its own PKI from `guard init`.
//
// Guard reads the issuer from Kentra's v1 discovery document, `https://sts.windows.net/<tid>/`, and
// go-oidc then fetches `<issuer>/.well-known/openid-configuration` from that host (no flag names
// another issuer or JWKS URL). So Kentra runs with --azure-hostnames (its certificate then names
// sts.windows.net and login.microsoftonline.com, and those Host names reach its login routes), and
// Guard reaches those names through HTTPS_PROXY: a CONNECT proxy in the bench that tunnels every
// connection to Kentra's port. Nothing outside this machine is contacted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why there is no Guard binary by default: what the Go module proxy answers, and how to build one anyway. */
export const GUARD_UNAVAILABLE =
  'scripts/build-go-tool.sh guard cannot build it on a fresh machine: the Go module proxy refuses the module ' +
  '(`go list -m -versions go.kubeguard.dev/guard` → "reading https://proxy.golang.org/go.kubeguard.dev/guard/@v/list: 403 Forbidden"). ' +
  'Build it from a checkout of github.com/kubeguard/guard at v0.16.28 (5bcf8b53), which vendors its dependencies: ' +
  '`CGO_ENABLED=0 GOFLAGS=-mod=vendor go build -o /tmp/guard-bin/guard .` in the checkout, then KENTRA_BENCH_GUARD=/tmp/guard-bin/guard npm run bench -- access.';

export interface RunningGuard {
  process: ChildProcess;
  url: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  close(): void;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** An HTTP CONNECT proxy that tunnels every connection to 127.0.0.1:`port` (Guard's route to sts.windows.net). */
async function connectProxy(port: number): Promise<{ port: number; close(): void }> {
  const server = createServer((client) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      if (!/^CONNECT [^\s]+:443 HTTP\/1\.[01]\r\n/.test(head.toString('latin1', 0, end))) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const upstream = tcpConnect(port, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

export async function startGuard(o: {
  bin: string;
  kentra: { port: number; dataDir: string; endpoints: { caFile: string } };
  tenantId: string;
  serverAppId: string;
}): Promise<RunningGuard> {
  const dir = mkdtempSync(join(tmpdir(), 'kentra-guard-'));
  // A Guard that cannot start leaves nothing behind: its process stopped, the proxy closed, its folder gone.
  const held: Held = {};
  try {
    return await startGuardIn(dir, o, held);
  } catch (err) {
    held.process?.kill();
    held.proxy?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** What a start made so far, to be undone if it fails. */
interface Held {
  process?: ChildProcess;
  proxy?: { close(): void };
}

async function startGuardIn(dir: string, o: Parameters<typeof startGuard>[0], held: Held): Promise<RunningGuard> {
  const run = (...args: string[]) => {
    const r = spawnSync(o.bin, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`guard ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  run('init', 'ca', '--pki-dir', dir);
  run('init', 'server', '--pki-dir', dir, '--ips', '127.0.0.1');
  run('init', 'client', '-o', 'Azure', '--pki-dir', dir);
  const pki = join(dir, 'pki');
  const files = readdirSync(pki);
  const clientBase = files.find((f) => f.endsWith('.crt') && !['ca.crt', 'server.crt'].includes(f))!.slice(0, -4);
  const env = join(dir, 'kentra-env.json');
  const origin = `https://127.0.0.1:${o.kentra.port}/`;
  writeFileSync(env, JSON.stringify({ name: 'AzureStackCloud', activeDirectoryEndpoint: origin, resourceManagerEndpoint: origin }));
  const proxy = (held.proxy = await connectProxy(o.kentra.port));
  const port = await freePort();
  const p = spawn(
    o.bin,
    [
      'run',
      `--secure-addr=127.0.0.1:${port}`,
      `--tls-ca-file=${join(pki, 'ca.crt')}`,
      `--tls-cert-file=${join(pki, 'server.crt')}`,
      `--tls-private-key-file=${join(pki, 'server.key')}`,
      '--auth-providers=azure',
      '--clock-check-interval=0',
      '--azure.environment=AzureStackCloud',
      `--azure.tenant-id=${o.tenantId}`,
      `--azure.client-id=${o.serverAppId}`,
      '--azure.verify-clientID',
      '--azure.auth-mode=passthrough',
      '--azure.graph-call-on-overage-claim=true',
      '--azure.skip-group-membership-resolution=true',
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        AZURE_ENVIRONMENT_FILEPATH: env,
        SSL_CERT_FILE: o.kentra.endpoints.caFile,
        SSL_CERT_DIR: '/nonexistent',
        HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
        NO_PROXY: '',
      },
    },
  );
  held.process = p;
  let log = '';
  p.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
  // Ready when its port answers.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`guard exited ${p.exitCode}: ${log}`);
    const up = await new Promise<boolean>((r) => {
      const s = tcpConnect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`guard did not listen within 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  p.on('exit', () => proxy.close());
  return {
    process: p,
    url: `https://127.0.0.1:${port}/tokenreviews`,
    caPem: readFileSync(join(pki, 'ca.crt'), 'utf8'),
    certPem: readFileSync(join(pki, `${clientBase}.crt`), 'utf8'),
    keyPem: readFileSync(join(pki, `${clientBase}.key`), 'utf8'),
    close: () => {
      // Its folder (Guard's CA and keys, the env file) goes once Guard has exited.
      const remove = () => rmSync(dir, { recursive: true, force: true });
      if (p.exitCode !== null || p.signalCode !== null) remove();
      else p.once('exit', remove);
      p.kill();
      proxy.close();
    },
  };
}
