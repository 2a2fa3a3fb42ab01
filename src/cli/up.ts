import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import pino from 'pino';
import { defaultDataDir, startKentra, type Endpoints, type KentraOptions } from '../kentra.js';
import { clientEnvironment, hostsLines, kentraEnvCommand, shellExports } from './client-env.js';
import { stopOnSignals } from './command.js';

function summary(e: Endpoints): string {
  const rows: [string, string][] = [
    ['Authority', e.authority],
    ['Tenant', `${e.tenantDomain} (${e.tenantId})`],
    ['Subscription', e.subscriptionId],
    ['ARM', e.armEndpoint],
    // The Graph resource URL, as endpoints.json and `kentra env --json` give it (az's microsoftGraphResourceId):
    // clients call `<graphEndpoint>v1.0/…`.
    ['Graph', e.graphEndpoint],
    ['Device login', e.deviceLoginUrl],
    ['ADFS authority (az)', e.adfsAuthority],
    ['CA certificate', e.caFile],
    ['Admin', `${e.admin.userPrincipalName}  password: ${e.admin.password}`],
    ['Service principal', `${e.servicePrincipal.appId}  secret: ${e.servicePrincipal.secret}`],
    ...(e.azureHostnames
      ? [['Azure host names', `${e.azureHostnames.names.join(', ')} on ${e.azureHostnames.address}:443`] as [string, string]]
      : []),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  // As the user's next shell can run it: kentra is not on its PATH yet, and it reads ~/.kentra unless told.
  const env = kentraEnvCommand(e.dataDir);
  return [
    'Kentra is running.',
    '',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    '',
    `  Ready a shell with: eval "$(${env})"   (it prints:)`,
    ...shellExports(e)
      .trimEnd()
      .split('\n')
      .map((line) => `    ${line}`),
    '',
    ...(e.azureHostnames ? [`  Point Microsoft's names at it: ${env} --hosts | sudo tee -a /etc/hosts`, ''] : []),
    `  Written to ${join(e.dataDir, 'endpoints.json')}. Stop with Ctrl-C.`,
    '',
  ].join('\n');
}

/**
 * Caps how far V8's old generation may grow past what the last full collection kept (V8's
 * --heap-growing-percent, which it reads each time it sets the next limit). Left alone on a machine with
 * several GB of memory, V8 lets it grow up to four times: after 100,000 distinct token reviews and
 * 100,000 tokens, `kentra up` held 108–194 MB of heap for about 50 MB of live objects, and its resident
 * size ended anywhere between 245 and 340 MB. At 50 % it held 94 MB, at no cost measured in the token
 * and review rates (docs/performance.md, "Memory"). 0 leaves V8's own sizing.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

export async function runUp(opts: KentraOptions & { logLevel?: string; heapGrowthPercent?: number }): Promise<void> {
  limitHeapGrowth(opts.heapGrowthPercent ?? 0);
  const logger = pino({ level: opts.logLevel ?? 'info' }, pino.destination(2));
  let running;
  try {
    running = await startKentra({ ...opts, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new Error(`port ${opts.port} is already in use: stop what listens there or pass --port (0 picks a free one)`, { cause: err });
    throw err;
  }
  process.stdout.write(summary(running.endpoints));
  stopOnSignals(logger, () => running.close());
}

export function runEnv(dataDir: string | undefined, json: boolean, hosts = false): void {
  const dir = resolve(dataDir ?? defaultDataDir());
  let endpoints: Endpoints;
  try {
    endpoints = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as Endpoints;
  } catch {
    throw new Error(`no endpoints.json in ${dir}: start Kentra there first with \`kentra up --data-dir ${dir}\``);
  }
  if (hosts) {
    if (!endpoints.azureHostnames)
      throw new Error(`the Kentra in ${dir} does not serve Microsoft's host names: start it with \`kentra up --azure-hostnames\``);
    process.stdout.write(hostsLines(endpoints));
    return;
  }
  if (json) {
    const { binDir, vars } = clientEnvironment(endpoints);
    process.stdout.write(`${JSON.stringify({ ...endpoints, binDir, env: Object.fromEntries(vars) }, null, 2)}\n`);
    return;
  }
  process.stdout.write(shellExports(endpoints));
}
