// One way for every benchmark to print a figure next to the limit it is measured against, and to
// keep the run's figures as JSON (docs/bench/<bench>.json) that scripts/bench-chart.mjs draws as
// docs/bench/chart.svg. A figure is never a pass/fail: the goal is printed beside the ratio.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fmt } from './_measure.js';

export interface Figure {
  /** What was measured, e.g. 'client_credentials tokens/s (SQLite)'. */
  name: string;
  value: number;
  unit: string;
  /** What the figure is held against in the same run (raw sign rate, bare HTTPS, a peer server, a fixed goal). */
  limit?: { name: string; value: number; unit?: string };
  /** The goal for value ÷ limit: at least (≥) or at most (≤) `ratio`. */
  goal?: { op: '>=' | '<='; ratio: number };
  /** Free text printed under the figure (sample sizes, errors). */
  detail?: string;
  /**
   * The ratio, when it is better taken otherwise than value ÷ limit: for runs made in pairs (on, off),
   * the median of each pair's ratio, which a machine whose speed drifts between pairs disturbs less.
   */
  ratio?: number;
}

export interface BenchResult {
  bench: string;
  at: string;
  node: string;
  cpus: string;
  /** The 1-minute load average when the bench started and when it ended. */
  load: { start: number; end: number };
  figures: (Figure & { ratio?: number; met?: boolean })[];
}

export class Report {
  private readonly figures: BenchResult['figures'] = [];
  private readonly startLoad = loadavg()[0]!;
  constructor(private readonly bench: string) {
    console.log(
      `${bench}: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), load average ${this.startLoad.toFixed(2)}`,
    );
  }

  /** Prints the figure, its limit, the ratio and the goal, and keeps it for the JSON. */
  add(f: Figure): void {
    const digits = Math.abs(f.value) >= 100 ? 0 : 2;
    let line = `  ${f.name}: ${fmt(f.value, digits)} ${f.unit}`;
    let ratio: number | undefined;
    let met: boolean | undefined;
    if (f.limit) {
      ratio = f.ratio ?? f.value / f.limit.value;
      const ld = Math.abs(f.limit.value) >= 100 ? 0 : 2;
      line += `   | ${f.limit.name}: ${fmt(f.limit.value, ld)} ${f.limit.unit ?? f.unit}   | ${f.ratio === undefined ? 'ratio' : 'paired ratio'} ${fmt(ratio, 2)}`;
      if (f.goal) {
        met = f.goal.op === '>=' ? ratio >= f.goal.ratio : ratio <= f.goal.ratio;
        line += ` (goal ${f.goal.op} ${fmt(f.goal.ratio, 2)}: ${met ? 'met' : 'NOT met'})`;
      }
    }
    console.log(line);
    if (f.detail) console.log(`      ${f.detail}`);
    this.figures.push({ ...f, ...(ratio === undefined ? {} : { ratio }), ...(met === undefined ? {} : { met }) });
  }

  /** Writes docs/bench/<bench>.json (the chart is drawn from every such file by scripts/bench-chart.mjs). */
  save(dir = 'docs/bench'): BenchResult {
    const result: BenchResult = {
      bench: this.bench,
      at: new Date().toISOString(),
      node: process.version,
      cpus: `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown'}`,
      load: { start: this.startLoad, end: loadavg()[0]! },
      figures: this.figures,
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${this.bench}.json`, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`  load average at the end ${result.load.end.toFixed(2)}; figures written to ${dir}/${this.bench}.json`);
    return result;
  }
}
