import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startKentra, type Endpoints, type RunningKentra } from '../../src/kentra.js';
import type { Clock } from '../../src/shared/clock.js';

// The same Kentra as `kentra up` (startKentra, one HTTPS listener on a free port), started inside the
// test process so that the test holds its clock: a lifetime (a refresh token's reuse window, a
// token's expiry) passes with `clock.advance(ms)` instead of a real sleep.

/** Real time plus what the test has advanced: requests, TLS and timers keep working, lifetimes move on demand. */
export class TestClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface InProcessKentra {
  endpoints: Endpoints;
  dataDir: string;
  clock: TestClock;
  running: RunningKentra;
  /** Everything it logged, for assertions that nothing secret leaked. */
  logs(): string;
  close(): Promise<void>;
}

/** startKentra in a fresh data directory on a free port, with the test's clock, as startTestKentra's `kentra up` is started. */
export async function startInProcessKentra(opts: { seed?: string; clock?: TestClock } = {}): Promise<InProcessKentra> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kentra-test-'));
  const clock = opts.clock ?? new TestClock();
  let logs = '';
  const logger = pino({ level: 'info' }, { write: (line: string) => void (logs += line) });
  const running = await startKentra({
    dataDir,
    port: 0,
    deviceCodeInterval: 1,
    clock,
    logger,
    ...(opts.seed ? { seed: opts.seed } : {}),
  });
  return {
    endpoints: running.endpoints,
    dataDir,
    clock,
    running,
    logs: () => logs,
    async close() {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
