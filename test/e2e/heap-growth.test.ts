import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// `kentra up --heap-growth` (default 50) caps how far V8's old generation grows past what its last full
// collection kept. Kentra's caches keep bounded live data but let go of an entry for every new one
// (token reviews, verified tokens), and that garbage reaches the old generation. This runs the same churn
// in a fresh node process with V8's own sizing and with `limitHeapGrowth` as `kentra up` calls it: the
// live data is the same, the heap it takes is not.

const upModule = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/up.js');

/** The largest heap (used, MB) a process reached while replacing 3 million entries of a 200,000-entry live table. */
function peakHeapMb(percent: number): number {
  const script = `
    import { getHeapStatistics } from 'node:v8';
    const { limitHeapGrowth } = await import(${JSON.stringify(upModule)});
    limitHeapGrowth(${percent});
    const N = 200_000;
    const table = Array.from({ length: N }, (_, i) => ({ id: 'entry-' + i, groups: ['a' + i, 'b' + i], at: i }));
    let peak = 0;
    for (let i = 0; i < 3_000_000; i++) {
      // Each replaced entry lived long enough to be promoted: it dies in the old generation.
      table[(i * 7919) % N] = { id: 'entry-' + i, groups: ['a' + i, 'b' + i], at: i };
      if (i % 10_000 === 0) peak = Math.max(peak, getHeapStatistics().used_heap_size);
    }
    console.log(JSON.stringify({ peak: peak / 1048576 }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return (JSON.parse(out) as { peak: number }).peak;
}

describe('kentra up --heap-growth', { timeout: 120_000 }, () => {
  it("keeps V8's heap closer to what is live than V8's own sizing does, for the same churn", () => {
    const own = peakHeapMb(0);
    const capped = peakHeapMb(10);
    // On this project's machines: about 97 MB against 255 MB.
    assert.ok(capped < own * 0.8, `peak heap: ${capped.toFixed(1)} MB with --heap-growth 10, ${own.toFixed(1)} MB with V8's own sizing`);
  });
});
