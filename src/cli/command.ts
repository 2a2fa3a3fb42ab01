import type { Logger } from 'pino';
import { Command, Option } from 'commander';
import { applyQuery, formatOutput, OUTPUT_FORMATS, UsageError, type OutputFormat } from './output.js';
import { CliError, Session } from './session.js';

// Every leaf command gets az's global options and one way to print results and errors:
// `ERROR: <message>` on stderr; exit 1 error, 2 usage, 3 not found.

export interface Context {
  session: Session;
  opts: Record<string, any>;
  warn(message: string): void;
}

export function leaf(parent: Command, name: string, description: string, build: (c: Command) => Command, run: (ctx: Context) => Promise<unknown>): Command {
  const c = parent.command(name).description(description);
  build(c);
  c.addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('json'))
    .option('--query <jmespath>', 'JMESPath query string, see http://jmespath.org/')
    .option('--only-show-errors', 'only show errors, suppressing warnings')
    .option('--debug', 'increase logging verbosity to show all debug logs')
    .option('--verbose', 'increase logging verbosity');
  c.action(async (opts: Record<string, any>) => {
    const session = new Session();
    if (opts.debug) session.debug = (line) => process.stderr.write(`DEBUG: ${line}\n`);
    const ctx: Context = { session, opts, warn: (m) => { if (!opts.onlyShowErrors) process.stderr.write(`WARNING: ${m}\n`); } };
    try {
      const result = applyQuery(await run(ctx), opts.query);
      process.stdout.write(formatOutput(result, opts.output as OutputFormat, process.stdout.isTTY === true));
    } catch (err) {
      const exitCode = err instanceof CliError ? err.exitCode : err instanceof UsageError ? 2 : 1;
      process.stderr.write(`ERROR: ${(err as Error).message}\n`);
      process.exitCode = exitCode;
    }
  });
  return c;
}

/** SIGINT or SIGTERM: close once, then exit 0 (1 with an ERROR line when closing fails). */
export function stopOnSignals(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close().then(() => process.exit(0), (err) => {
      process.stderr.write(`ERROR: shutdown failed: ${(err as Error).message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
