#!/usr/bin/env node
// `npm test`: runs every compiled test file (dist/**/*.test.js) with node's test runner.
// Extra arguments are test files or node --test options: `npm test -- dist/src/store/sqlite.test.js`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const options = args.filter((a) => a.startsWith('-'));
const selected = files.length ? files : [...find('dist/src'), ...find('dist/test')].sort();
if (selected.length === 0) {
  console.error('no test files found under dist/: run `npm run build` first');
  process.exit(1);
}
// Two cores: the end-to-end files start servers and real clients, so run two files at a time.
// No --test-force-exit: a test file whose process does not end by itself after its tests has left a
// handle open, and that is a bug to find, not to hide.
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...options, ...selected], { stdio: 'inherit' });
process.exit(result.status ?? 1);
