#!/usr/bin/env node
// `npm run soak [-- <seconds> [<requests per second>]]`: the long soak of issue 16. Runs the reliability
// soak test (dist/test/reliability/soak.test.js, built first by `npm run soak`) for 1800 s by default,
// where it also checks the RSS growth bound, then prints the RSS series it sampled every second.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TEST = 'dist/test/reliability/soak.test.js';
const [secondsArg, rateArg] = process.argv.slice(2);
const whole = (value, name) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(
      `usage: npm run soak -- [seconds (default 1800)] [requests per second (default 200)]\n${name} must be a whole number of at least 1, not '${value}'`,
    );
    process.exit(2);
  }
  return n;
};
const seconds = secondsArg === undefined ? 1800 : whole(secondsArg, 'seconds');
const rate = rateArg === undefined ? undefined : whole(rateArg, 'requests per second');
if (!existsSync(TEST)) {
  console.error(`${TEST} is missing: run npm run build first (npm run soak does)`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'kentra-soak-'));
const rssFile = join(dir, 'rss.json');
console.log(`soak: ${seconds} s${rate ? ` at ${rate}/s` : ''}; the RSS growth bound is checked when the run lasts 600 s or more`);
const env = { ...process.env, SOAK_SECONDS: String(seconds), SOAK_RSS_FILE: rssFile, ...(rate ? { SOAK_RATE: String(rate) } : {}) };
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', TEST], { stdio: 'inherit', env });

if (existsSync(rssFile)) {
  const { samples } = JSON.parse(readFileSync(rssFile, 'utf8'));
  const mib = (kib) => (kib / 1024).toFixed(1);
  const kibs = samples.map((s) => s.kib);
  // One line per tenth of the run: the median RSS in it.
  const buckets = 10;
  const width = Math.max(1, Math.ceil(samples.length / buckets));
  const series = [];
  for (let i = 0; i < samples.length; i += width) {
    const part = samples
      .slice(i, i + width)
      .map((s) => s.kib)
      .sort((a, b) => a - b);
    series.push(`${Math.round(samples[i].t)} s ${mib(part[Math.floor(part.length / 2)])}`);
  }
  // Least-squares slope over the samples after warm-up (the first 15 %, as the test), in MiB per hour.
  const tail = samples.filter((s) => s.t >= seconds * 0.15);
  const n = tail.length;
  const mt = tail.reduce((a, s) => a + s.t, 0) / n;
  const mk = tail.reduce((a, s) => a + s.kib, 0) / n;
  const slope = tail.reduce((a, s) => a + (s.t - mt) * (s.kib - mk), 0) / (tail.reduce((a, s) => a + (s.t - mt) ** 2, 0) || 1);
  console.log(`soak RSS series (MiB, median per tenth of the run): ${series.join(', ')}`);
  console.log(
    `soak RSS: ${samples.length} samples, min ${mib(Math.min(...kibs))} MiB, max ${mib(Math.max(...kibs))} MiB, first ${mib(kibs[0])} MiB, last ${mib(kibs.at(-1))} MiB; trend after warm-up ${((slope * 3600) / 1024).toFixed(1)} MiB/h`,
  );
} else {
  console.log('soak: no RSS series was written (the test did not reach its end)');
}
rmSync(dir, { recursive: true, force: true });
process.exit(result.status ?? 1);
