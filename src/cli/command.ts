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
