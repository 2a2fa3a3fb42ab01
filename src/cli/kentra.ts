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

program.command('up')
  .description('Start Kentra: the identity provider, ARM and the sign-in pages on one HTTPS listener.')
  .option('--data-dir <dir>', 'data directory (CA, SQLite store, endpoints.json) [env KENTRA_DATA_DIR, default ~/.kentra]')
  .option('--port <port>', 'HTTPS port (0 picks a free one)', port, 8443)
  .option('--host <name>', 'an extra host name for the certificate and issuer (repeatable)', collect, [])
  .option('--listen <address>', 'address to listen on', '127.0.0.1')
  .option('--store <url>', 'store URL: sqlite: (default, in the data directory) or postgres://user:pass@host/db [env KENTRA_STORE]')
  .option('--seed <file>', 'YAML seed file applied at start (idempotent) [env KENTRA_SEED]')
  .option('--device-code-interval <seconds>', 'polling interval device-code clients are told to use', seconds, 5)
  .option('--provisioning-delay <ms>', 'milliseconds a cluster create, update or delete stays in progress', (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new InvalidArgumentError('a whole number of milliseconds from 0 to 600000');
    return n;
  }, 1000)
  .option('--log-level <level>', 'log level: fatal, error, warn, info, debug', 'info')
  .option('--kube-apiserver <path>', 'a kube-apiserver binary: every managed cluster gets a real API server with its own etcd [env KENTRA_KUBE_APISERVER]')
  .option('--etcd <path>', 'the etcd binary for those API servers [env KENTRA_ETCD]')
  .option('--key-encryption-key-file <file>', 'a file holding the 32-byte key (base64) that seals private keys in the store [env KENTRA_KEY_ENCRYPTION_KEY; default derived from <data-dir>/ca-key.pem]')
  .option('--sign-in-log-retention-days <days>', 'days the sign-in log (Graph auditLogs/signIns) keeps a sign-in; older ones are pruned', (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError('must be a whole number of days from 1 to 3650');
    return n;
  }, 30)
  .addHelpText('after', `
The first start creates a local CA (<data-dir>/ca.pem), a tenant, an admin user, a service
principal and a subscription, prints them, and writes them to <data-dir>/endpoints.json.
Later starts reuse all of it. Logs go to stderr; SIGINT or SIGTERM stop the server cleanly.

With --kube-apiserver and --etcd (scripts/build-kube-apiserver.sh builds a kube-apiserver from
Debian's source package), each managed cluster runs a real kube-apiserver on 127.0.0.1 that calls
Kentra's webhooks; get-credentials points at it. Its files live in <data-dir>/clusters/<uid>.`)
  .action(async (opts) => {
    const { runUp } = await import('./up.js');
    await runUp({
      dataDir: opts.dataDir, port: opts.port, hosts: opts.host, listen: opts.listen,
      store: opts.store ?? process.env.KENTRA_STORE, seed: opts.seed ?? process.env.KENTRA_SEED,
      deviceCodeInterval: opts.deviceCodeInterval, provisioningDelayMs: opts.provisioningDelay, logLevel: opts.logLevel,
      kubeApiserver: opts.kubeApiserver, etcd: opts.etcd,
      signInLogRetentionDays: opts.signInLogRetentionDays,
      keyEncryptionKey: opts.keyEncryptionKeyFile ? (await import('node:fs')).readFileSync(opts.keyEncryptionKeyFile, 'utf8') : undefined,
    });
  });

program.command('env')
  .description('Print the shell exports a client needs to trust and find a running Kentra.')
  .option('--data-dir <dir>', 'data directory [env KENTRA_DATA_DIR, default ~/.kentra]')
  .option('--json', 'print the whole endpoints.json instead')
  .action(async (opts) => (await import('./up.js')).runEnv(opts.dataDir, Boolean(opts.json)));

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

