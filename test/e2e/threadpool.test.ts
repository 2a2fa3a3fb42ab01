import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { startTestKentra } from '../support/kentra.js';

// The `kentra` command sizes libuv's thread pool (where tokens are signed and verified) to the machine:
// one thread per core, at least two, unless UV_THREADPOOL_SIZE says otherwise. libuv starts every pool
// thread at once, so the difference in a process's threads against a pool of one is the pool's size less one.

const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

async function threadsOfKentra(env: Record<string, string>): Promise<number> {
  const k = await startTestKentra({ extraArgs: ['--log-level', 'warn'], env });
  try {
    return threadsOf(k.process.pid!);
  } finally {
    await k.close();
  }
}

// It also turns off V8's allocation-site pretenuring (src/cli/bin.cts, docs/performance-history.md "Stop 26"), unless node
// is told otherwise on its command line. V8 reports its pretenuring decisions at each scavenge with
// --trace-pretenuring-statistics ("pretenuring: … visited_sites=…"), and makes none with it off; starting
// up alone runs dozens of scavenges.
async function pretenuringReports(nodeArgs: string[]): Promise<number> {
  const k = await startTestKentra({ extraArgs: ['--log-level', 'warn'], nodeArgs: ['--trace-pretenuring-statistics', ...nodeArgs] });
  try {
    return k
      .stdout()
      .split('\n')
      .filter((line) => /pretenuring: .*visited_sites=/.test(line)).length;
  } finally {
    await k.close();
  }
}

describe('the thread pool of kentra up', { timeout: 120_000 }, () => {
  it('has one thread per core (at least two) by default, and the size UV_THREADPOOL_SIZE gives when it is set', async () => {
    // Empty is unset for the command (the test runner's own environment may name a size).
    const env = { UV_THREADPOOL_SIZE: '' };
    const one = await threadsOfKentra({ ...env, UV_THREADPOOL_SIZE: '1' });
    const byDefault = await threadsOfKentra(env);
    const six = await threadsOfKentra({ ...env, UV_THREADPOOL_SIZE: '6' });
    assert.equal(byDefault - one, Math.max(2, availableParallelism()) - 1, `threads: ${one} with a pool of 1, ${byDefault} by default`);
    assert.equal(six - one, 5, `threads: ${one} with a pool of 1, ${six} with UV_THREADPOOL_SIZE=6`);
  });
});

describe('V8 allocation-site pretenuring in kentra up', { timeout: 120_000 }, () => {
  it('is off by default, and on when node is started with --allocation-site-pretenuring', async () => {
    assert.equal(await pretenuringReports([]), 0, 'no pretenuring decisions by default');
    const on = await pretenuringReports(['--allocation-site-pretenuring']);
    assert.ok(on > 0, `V8 reports pretenuring decisions when node is told to make them (${on} reports)`);
  });
});
