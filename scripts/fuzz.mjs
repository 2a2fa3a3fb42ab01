#!/usr/bin/env node
// `npm run fuzz [-- REQUESTS]`: the fuzzing suite of test/security/fuzz.test.ts at length (default
// 100,000 requests on each store; CI runs 3,000). FUZZ_SEED picks another sample of requests.
import { spawnSync } from 'node:child_process';

const requests = process.argv[2] ?? process.env.FUZZ_REQUESTS ?? '100000';
const result = spawnSync(process.execPath, ['--test', 'dist/test/security/fuzz.test.js'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_REQUESTS: requests },
});
process.exit(result.status ?? 1);
