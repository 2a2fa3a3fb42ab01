// npm run bench -- tokens [--process]
// Client-credentials token issuance over HTTPS next to the raw RS256 signing rate of node:crypto,
// both measured in the same run on the same machine. A token costs one RS256 signature plus the
// HTTP/TLS, parsing, secret check, directory look-ups and JSON around it, so the ratio says how
// much of the time is the signature.
//
// Default: Kentra runs in this process (startKentra, temporary data directory, SQLite, port 0,
// silent logger), so the server and the load generator share one thread: the token rate is what one
// core does, comparable with one core's signing rate. `--process` runs the real `kentra up` in a
// child process instead (the server gets its own core; needs `npm run build` of the tests).
// Benchmarks never fail on timing: this prints figures and exits 0 unless a token request fails.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startKentra, type Endpoints } from '../src/index.js';
import { fmt, httpsClient, load, rate } from './_measure.js';

const WORKERS = 8;
const COUNT = 4000;
const MAX_SECONDS = 20;

async function startServer(spawned: boolean): Promise<{ endpoints: Endpoints; close(): Promise<void>; where: string }> {
  if (spawned) {
    const { startTestKentra } = await import('../test/support/kentra.js');
    const k = await startTestKentra({ extraArgs: ['--log-level', 'warn'] });
    return { endpoints: k.endpoints, close: () => k.close(), where: 'a `kentra up` child process' };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'kentra-bench-'));
  const k = await startKentra({ dataDir, port: 0, logger: pino({ level: 'silent' }) });
  return {
    endpoints: k.endpoints, where: 'this process (startKentra)',
    close: async () => {
      await k.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const spawned = process.argv.includes('--process');
const server = await startServer(spawned);
let failed = false;
try {
  const { authority, tenantId, caFile, servicePrincipal: sp } = server.endpoints;
  const post = httpsClient(caFile);
  const url = `${authority}/${tenantId}/oauth2/v2.0/token`;
  const body = new URLSearchParams({ client_id: sp.appId, client_secret: sp.secret, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' }).toString();
  const first = await post(url, body);
  if (first.status !== 200 || !JSON.parse(first.text).access_token) throw new Error(`the token request failed: ${first.status} ${first.text}`);
  const call = async () => (await post(url, body)).status === 200;

  await load(call, { workers: 4, count: 300, maxSeconds: 10 }); // warm-up: TLS sessions, JIT, SQLite pages
  const tokens = await load(call, { workers: WORKERS, count: COUNT, maxSeconds: MAX_SECONDS });
  failed = tokens.errors > 0;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // What the server signs for each token: the header and claims of the token it just issued.
  const data = Buffer.from((JSON.parse(first.text).access_token as string).split('.').slice(0, 2).join('.'));
  rate(() => sign('sha256', data, privateKey), 300); // warm-up
  const signs = rate(() => sign('sha256', data, privateKey), 3000);

  console.log(`tokens: Kentra in ${server.where}, SQLite, node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'})`);
  console.log(`  client_credentials over HTTPS: ${fmt(tokens.perSecond)} tokens/s, p50 ${fmt(tokens.p50, 2)} ms, p99 ${fmt(tokens.p99, 2)} ms`);
  console.log(`      (${tokens.count} requests in ${fmt(tokens.seconds, 1)} s from ${WORKERS} concurrent keep-alive clients, ${tokens.errors} errors)`);
  console.log(`  raw RS256 sign (node:crypto, 2048-bit key, ${data.length}-byte token input): ${fmt(signs)} signs/s`);
  console.log(`  ratio: ${fmt(tokens.perSecond / signs, 2)} (tokens/s over signs/s; 1.00 would mean the signature is the whole cost)`);
  if (failed) console.log(`  WARNING: ${tokens.errors} token requests failed`);
} finally {
  await server.close();
}
process.exit(failed ? 1 : 0);
