#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';

import { registerAccountCommands } from './account.js';
import { azUsageMessage } from './command.js';
import { registerAdCommands } from './ad.js';
import { registerAksCommands } from './aks.js';
import { registerKeysCommands } from './keys.js';
import { registerWebhookCommand } from './webhook.js';

const program = new Command();
program
  .name('kentra')
  .description('Self-hosted AKS-managed Microsoft Entra ID integration: identity provider, control plane and cluster access.')
  .version(JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version as string, '-v, --version')
  .showHelpAfterError('(run with --help for usage)')
  // Usage errors as az prints them: `ERROR: <argparse's words>` (exit 2, below).
  .configureOutput({ outputError: (text, write) => write(`ERROR: ${azUsageMessage(text)}\n`) })
  // Usage errors exit 2, as az's do; set before the subcommands so they inherit it.
  .exitOverride();

const port = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
};
const seconds = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 60) throw new InvalidArgumentError('a whole number of seconds from 1 to 60');
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];
const wholeNumber = (unit: string, min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new InvalidArgumentError(`a whole number of ${unit} from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`);
  return n;
};
const count = (min: number, max: number) => wholeNumber('entries', min, max);

program
  .command('up')
  .description('Start Kentra: the identity provider, ARM and the sign-in pages on one HTTPS listener.')
  .option('--data-dir <dir>', 'data directory (CA, SQLite store, endpoints.json) [env KENTRA_DATA_DIR, default ~/.kentra]')
  .option('--port <port>', 'HTTPS port (0 picks a free one)', port, 8443)
  .option('--host <name>', 'an extra host name for the certificate and issuer (repeatable)', collect, [])
  .option('--listen <address>', 'address to listen on', '127.0.0.1')
  .option(
    '--azure-hostnames',
    "also serve Microsoft's host names (login.microsoftonline.com, management.azure.com, graph.microsoft.com, …) on port 443, for clients left unchanged: see `kentra env --hosts`",
  )
  .option('--store <url>', 'store URL: sqlite: (default, in the data directory) or postgres://user:pass@host/db [env KENTRA_STORE]')
  .option('--seed <file>', 'YAML seed file applied at start (idempotent) [env KENTRA_SEED]')
  .option('--device-code-interval <seconds>', 'polling interval device-code clients are told to use', seconds, 5)
  .option(
    '--provisioning-delay <ms>',
    'milliseconds a cluster create, update or delete stays in progress',
    wholeNumber('milliseconds', 0, 600_000),
    1000,
  )
  .option('--log-level <level>', 'log level: fatal, error, warn, info, debug', 'info')
  .option(
    '--kube-apiserver <path>',
    'a kube-apiserver binary: every managed cluster gets a real API server with its own etcd [env KENTRA_KUBE_APISERVER]',
  )
  .option('--etcd <path>', 'the etcd binary for those API servers [env KENTRA_ETCD]')
  .option(
    '--key-encryption-key-file <file>',
    'a file holding the 32-byte key (base64) that seals private keys in the store [env KENTRA_KEY_ENCRYPTION_KEY; default derived from <data-dir>/ca-key.pem]',
  )
  .option(
    '--sign-in-log-retention-days <days>',
    'days the sign-in log (Graph auditLogs/signIns) keeps a sign-in; older ones are pruned',
    wholeNumber('days', 1, 3650),
    30,
  )
  .option(
    '--access-log-retention-days <days>',
    'days the cluster access log (ARM managedClusters/accessLogs) keeps a decision; older ones are pruned',
    wholeNumber('days', 1, 3650),
    30,
  )
  .option(
    '--token-cache-size <n>',
    'token review results kept per cluster (least recently used dropped first)',
    count(1, 10_000_000),
    10_000,
  )
  .option(
    '--token-cache-ttl <seconds>',
    "how long an authenticated token review is kept (never past the token's expiry)",
    wholeNumber('seconds', 1, 3600),
    120,
  )
  .option('--cluster-cache-size <n>', 'clusters whose access chains (and their caches) are kept in memory', count(1, 1_000_000), 1_000)
  .option('--group-cache-size <n>', 'users whose group memberships (overage look-ups) are kept for 30 s', count(1, 10_000_000), 10_000)
  .option('--decision-cache-size <n>', 'Azure RBAC decisions kept per cluster (for 3 minutes, as Guard)', count(1, 10_000_000), 50_000)
  .option(
    '--verified-token-cache-size <n>',
    'tokens whose signature ARM and Graph checked, kept so that a token seen again skips the RS256 check (0: none)',
    count(0, 10_000_000),
    10_000,
  )
  .option(
    '--sealed-cache-mb <MiB>',
    'private material (cluster secrets, keys) kept opened in memory, so a read of the same sealed value skips its AES-GCM opening (0: none)',
    wholeNumber('MiB', 0, 4096),
    16,
  )
  .option(
    '--heap-growth <percent>',
    "how far V8's heap may grow past what its last full collection kept before it collects again (0: V8's own sizing, up to 300 % on a machine with much memory)",
    wholeNumber('percent', 0, 1000),
    50,
  )
  .option(
    '--settings-check <ms>',
    "reuse a cluster's settings revision read for this long before reading it again (0: every request reads it)",
    wholeNumber('milliseconds', 0, 60_000),
    250,
  )
  .addHelpText(
    'after',
    `
The first start creates a local CA (<data-dir>/ca.pem), a tenant, an admin user, a service
principal and a subscription, prints them, and writes them to <data-dir>/endpoints.json.
Later starts reuse all of it. Logs go to stderr; SIGINT or SIGTERM stop the server cleanly.

With --kube-apiserver and --etcd (scripts/build-go-tool.sh kube-apiserver|etcd builds v1.36.3 and
v3.6.16 from their Go modules), each managed cluster runs a real kube-apiserver on 127.0.0.1 that
calls Kentra's webhooks; get-credentials points at it, and the cluster's kubernetesVersion is the
binary's. Its files live in <data-dir>/clusters/<uid>.

Memory is bounded by the cache options: each cluster kept (--cluster-cache-size) holds at most
--token-cache-size token review results and --decision-cache-size Azure RBAC decisions; the group
cache holds --group-cache-size users, and ARM and Graph keep --verified-token-cache-size verified
tokens (every claim is still checked on each request); --sealed-cache-mb MiB of private material
read from the store stay opened. What those caches let go is collected before
V8's heap grows --heap-growth percent past what it kept. A settings change made on another instance (same store) is
seen within --settings-check milliseconds, before its ARM operation reports Succeeded as long as
--provisioning-delay is not shorter. See docs/performance.md.

With --azure-hostnames, Kentra also listens on port 443 of the listen address (root, or
CAP_NET_BIND_SERVICE) and answers as login.microsoftonline.com (and its aliases login.windows.net,
login.microsoft.com, sts.windows.net), management.azure.com (and management.core.windows.net) and
graph.microsoft.com, with certificates from its CA. Point those names at it with the lines of
\`kentra env --hosts\` in /etc/hosts and trust the CA (\`eval "$(kentra env)"\`): az in its default
AzureCloud, msal, @azure/identity and kubelogin then need no other setting. Each name reaches only
its own routes; anything Kentra does not implement there is refused, naming the host and path.
Issuers are Entra's: https://login.microsoftonline.com/<tenant>/v2.0 and https://sts.windows.net/<tenant>/.
See docs/azure-by-name.md.`,
  )
  .action(async (opts) => {
    const { runUp } = await import('./up.js');
    await runUp({
      dataDir: opts.dataDir,
      port: opts.port,
      hosts: opts.host,
      listen: opts.listen,
      azureHostnames: Boolean(opts.azureHostnames),
      store: opts.store ?? process.env.KENTRA_STORE,
      seed: opts.seed ?? process.env.KENTRA_SEED,
      deviceCodeInterval: opts.deviceCodeInterval,
      provisioningDelayMs: opts.provisioningDelay,
      logLevel: opts.logLevel,
      heapGrowthPercent: opts.heapGrowth,
      kubeApiserver: opts.kubeApiserver,
      etcd: opts.etcd,
      signInLogRetentionDays: opts.signInLogRetentionDays,
      accessLogRetentionDays: opts.accessLogRetentionDays,
      accessCaches: {
        tokens: opts.tokenCacheSize,
        tokenTtlMs: opts.tokenCacheTtl * 1000,
        clusters: opts.clusterCacheSize,
        groups: opts.groupCacheSize,
        decisions: opts.decisionCacheSize,
        settingsCheckMs: opts.settingsCheck,
      },
      verifiedTokenCacheSize: opts.verifiedTokenCacheSize,
      sealedCacheBytes: opts.sealedCacheMb * 2 ** 20,
      keyEncryptionKey: opts.keyEncryptionKeyFile ? (await import('node:fs')).readFileSync(opts.keyEncryptionKeyFile, 'utf8') : undefined,
    });
  });

program
  .command('env')
  .description('Print the shell exports a client needs to trust and find a running Kentra.')
  .option('--data-dir <dir>', 'data directory [env KENTRA_DATA_DIR, default ~/.kentra]')
  .option('--json', 'print the whole endpoints.json instead')
  .option('--hosts', "print the /etc/hosts lines that send Microsoft's host names to a Kentra started with --azure-hostnames")
  .action(async (opts) => (await import('./up.js')).runEnv(opts.dataDir, Boolean(opts.json), Boolean(opts.hosts)));

registerAccountCommands(program);
registerAdCommands(program);
registerAksCommands(program);
registerKeysCommands(program);
registerWebhookCommand(program);

program.parseAsync(process.argv).catch((err: Error) => {
  if (err instanceof CommanderError) {
    process.exit(['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code) ? 0 : 2);
  }
  process.stderr.write(`ERROR: ${err.message}\n`);
  process.exit(1);
});
