#!/usr/bin/env node
// `npm test`: runs every compiled test file (dist/**/*.test.js) with node's test runner.
// Extra arguments are test files or node --test options: `npm test -- dist/src/store/sqlite.test.js`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', ...options, ...selected], {
  stdio: ['inherit', 'pipe', 'inherit'],
});
// The output passes through as it comes; each failed test's report (its `not ok` line and YAML block:
// location, error, stack) is also kept and printed again at the end, so that the tail of a long run,
// which is all a CI log may show, names what failed.
const failures = [];
// An error raised after a file's tests ended (an uncaught exception from a handler still running) fails
// the file with no failed test to show: node prints it only as a `# Error: …` diagnostic, kept here too.
const lateErrors = [];
let current = null;
for await (const line of createInterface({ input: child.stdout })) {
  process.stdout.write(`${line}\n`);
  if (/^\s*# Error: /.test(line)) lateErrors.push(line.trimStart());
  if (current) {
    current.lines.push(line);
    if (line.trim() === '...' && line.length - line.trimStart().length === current.indent + 2) {
      // A suite that failed only because a test inside it did is not repeated.
      if (!current.lines.some((l) => /failureType: 'subtestsFailed'/.test(l))) failures.push(current.lines);
      current = null;
    }
  } else {
    const m = /^(\s*)not ok \d+ /.exec(line);
    if (m) current = { indent: m[1].length, lines: [line] };
  }
}
const code = await new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('close', (c) => resolve(c))));
if (failures.length) {
  console.log(`\n# ${failures.length} failed test(s), again:`);
  for (const lines of failures) {
    const shown = lines.length > 60 ? [...lines.slice(0, 60), '  (… cut)'] : lines;
    console.log(shown.map((l) => l.trimStart()).join('\n# '));
  }
  if (lateErrors.length) console.log(`\n# errors outside the tests:\n${lateErrors.join('\n')}`);
}
process.exit(code ?? 1);
