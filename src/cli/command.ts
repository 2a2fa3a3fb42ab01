import type { Logger } from 'pino';
import { Command, Option, type OptionValues } from 'commander';
import { applyQuery, formatOutput, OUTPUT_FORMATS, UsageError, type OutputFormat } from './output.js';
import { CliError, Session } from './session.js';

// Every leaf command gets az's global options and one way to print results and errors:
// `ERROR: <message>` on stderr; exit 1 error, 2 usage, 3 not found.

export interface Context {
  session: Session;
  /** The parsed options, as commander gives them. */
  opts: OptionValues;
  warn(message: string): void;
}

/**
 * az's table transformer: with `-o table` and no `--query`, the result is reshaped first (the columns
 * az's command module chose, e.g. `aks list`'s seven); with a --query, az prints the query's result.
 */
export type TableTransformer = (result: unknown) => unknown;

export function leaf(
  parent: Command,
  name: string,
  description: string,
  build: (c: Command) => Command,
  run: (ctx: Context) => Promise<unknown>,
  tableTransformer?: TableTransformer,
): Command {
  const c = parent.command(name).description(description);
  build(c);
  // argparse names every missing required argument at once; commander stops at the first.
  const required = c.options.filter((o) => o.mandatory);
  for (const o of required) o.mandatory = false;
  c.hook('preAction', () => {
    const missing = required.filter((o) => c.getOptionValue(o.attributeName()) === undefined);
    if (missing.length)
      c.error(`error: the following arguments are required: ${missing.map((o) => azFlags(o.flags)).join(', ')}`, {
        code: 'commander.missingMandatoryOptionValue',
      });
  });
  c.addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('json'))
    .option('--query <jmespath>', 'JMESPath query string, see http://jmespath.org/')
    .option('--subscription <name-or-id>', 'name or ID of subscription (default: the one `kentra login` chose)')
    .option('--only-show-errors', 'only show errors, suppressing warnings')
    .option('--debug', 'increase logging verbosity to show all debug logs')
    .option('--verbose', 'increase logging verbosity');
  c.action(async (opts: OptionValues) => {
    const session = new Session();
    session.subscription = opts.subscription;
    if (opts.debug) session.debug = (line) => process.stderr.write(`DEBUG: ${line}\n`);
    const ctx: Context = {
      session,
      opts,
      warn: (m) => {
        if (!opts.onlyShowErrors) process.stderr.write(`WARNING: ${m}\n`);
      },
    };
    try {
      const raw = await run(ctx);
      const result =
        opts.output === 'table' && !opts.query && tableTransformer && raw !== undefined
          ? tableTransformer(raw)
          : applyQuery(raw, opts.query);
      process.stdout.write(formatOutput(result, opts.output as OutputFormat, process.stdout.isTTY === true));
    } catch (err) {
      const exitCode = err instanceof CliError ? err.exitCode : err instanceof UsageError ? 2 : 1;
      process.stderr.write(`ERROR: ${(err as Error).message}\n`);
      process.exitCode = exitCode;
    }
  });
  return c;
}

/** An option's flags as argparse names them: `-g, --resource-group <rg>` → `--resource-group/-g`. */
function azFlags(flags: string): string {
  const names = flags
    .replace(/\s*[<[].*$/, '')
    .split(/[ ,|]+/)
    .filter(Boolean);
  const long = names.filter((n) => n.startsWith('--'));
  const short = names.filter((n) => !n.startsWith('--'));
  return [...long, ...short].join('/');
}

/**
 * A usage error in az's words (argparse's), from commander's: `the following arguments are required:
 * --name/-n`, `unrecognized arguments: --x`, `argument --name/-n: expected one argument`.
 */
export function azUsageMessage(commanderMessage: string): string {
  const text = commanderMessage.replace(/^error: /, '').trim();
  let m = /^required option '([^']+)' not specified$/.exec(text);
  if (m) return `the following arguments are required: ${azFlags(m[1]!)}`;
  m = /^option '([^']+)' argument missing$/.exec(text);
  if (m) return `argument ${azFlags(m[1]!)}: expected one argument`;
  m = /^unknown option '([^']+)'/.exec(text);
  if (m) return `unrecognized arguments: ${m[1]}`;
  m = /^too many arguments.*?Expected (\d+) arguments? but got (\d+)\.$/.exec(text);
  if (m) return `unrecognized arguments: ${text}`;
  m = /^unknown command '([^']+)'/.exec(text);
  if (m) return `'${m[1]}' is misspelled or not recognized by the system.`;
  return text;
}

/** SIGINT or SIGTERM: close once, then exit 0 (1 with an ERROR line when closing fails). */
export function stopOnSignals(logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`ERROR: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
