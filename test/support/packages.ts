import { spawnSync } from 'node:child_process';

/** Where `command` is on PATH, or '' when it is not. */
export const commandPath = (command: string): string =>
  spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim();
export const onPath = (command: string): boolean => commandPath(command) !== '';

/**
 * The `skip` value for tests that need a Debian package: false when it is present; otherwise the
 * reason naming the package. In CI (.ci/run installs every such package) a missing one is an error,
 * so nothing skips there.
 */
export function packageSkip(present: boolean, debianPackage: string, what: string): false | string {
  if (present) return false;
  if (process.env.CI) throw new Error(`${what} is required in CI: install the Debian package ${debianPackage}`);
  return `${what} not found: install the Debian package ${debianPackage}`;
}
