import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandPath } from './packages.js';

/**
 * Upstream programs the tests run, built or installed by the project's own scripts into the cache
 * (~/.cache/kentra, or $KENTRA_CACHE_DIR): `.ci/run` fills the cache first, so in CI these return at
 * once; on a developer's machine the first call builds (a lock makes parallel test files wait for
 * one build). Each returns the program's path, or a skip reason naming what is missing; in CI a
 * missing prerequisite is an error, so nothing skips there.
 */
export type ToolResult = { path: string; skip: false } | { path: ''; skip: string };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const scripts = join(root, 'scripts');
const found = new Map<string, ToolResult>();

function missing(what: string, need: string): ToolResult {
  if (process.env.CI) throw new Error(`${what} is required in CI: ${need}`);
  return { path: '', skip: `${what} not available: ${need}` };
}

function runScript(key: string, script: string, args: string[], what: string, need: string): ToolResult {
  const known = found.get(key);
  if (known) return known;
  const run = spawnSync(join(scripts, script), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 60 * 60_000 });
  const path = run.stdout?.trim().split('\n').pop() ?? '';
  const result: ToolResult =
    run.status === 0 && path ? { path, skip: false } : missing(what, `${need} (scripts/${script} exited ${run.status})`);
  found.set(key, result);
  return result;
}

const hasGo = (): boolean => commandPath('go') !== '' || spawnSync('test', ['-x', '/usr/local/go/bin/go']).status === 0;

/** Pinned upstream Go programs built by scripts/build-go-tool.sh. */
export type GoTool = 'kubelogin' | 'helm' | 'etcd' | 'kube-apiserver' | 'guard';
export function goTool(tool: GoTool): ToolResult {
  if (!hasGo()) return missing(`upstream ${tool}`, 'Go 1.26 (with the Go module proxy) to build it');
  return runScript(`go:${tool}`, 'build-go-tool.sh', [tool], `upstream ${tool}`, 'Go 1.26 and the Go module proxy');
}

/** The current Azure CLI from PyPI, in a virtual environment made by scripts/install-azure-cli.sh. */
export function currentAzureCli(): ToolResult {
  if (commandPath('python3') === '') return missing('the current Azure CLI', 'Python 3 with venv (Debian: python3-venv)');
  return runScript('az-current', 'install-azure-cli.sh', [], 'the current Azure CLI', 'Python 3 with venv and PyPI');
}
