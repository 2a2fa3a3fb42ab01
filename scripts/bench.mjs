#!/usr/bin/env node
// `npm run bench -- <name>`: runs dist/bench/<name>.js. Benchmarks print their figure next to the
// limit it is measured against in the same run; they never fail on a timing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

const names = existsSync('dist/bench')
  ? readdirSync('dist/bench')
      .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
  : [];
const [name, ...rest] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- <name>   (available: ${names.join(', ') || 'none: run npm run build'})`);
  process.exit(2);
}
const result = spawnSync(process.execPath, [`dist/bench/${name}.js`, ...rest], { stdio: 'inherit' });
// Each bench writes docs/bench/<name>.json through bench/_report.ts; the chart is redrawn from all of them.
if (existsSync('docs/bench')) spawnSync(process.execPath, ['scripts/bench-chart.mjs'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
