import { after } from 'node:test';
import { storeMatrix } from '../support/postgres.js';
import { killDuringWritesTest } from './kill9.js';

// storeMatrix starts one throwaway PostgreSQL for this file (and fails in CI if it cannot).
for (const store of storeMatrix(after).filter((s) => s.name === 'PostgreSQL')) killDuringWritesTest(store);
