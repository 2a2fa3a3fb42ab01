// `node dist/bench/_profile-top.js <file.cpuprofile> [n]`: the functions with the most self time in a
// V8 CPU profile (as written by --cpu-prof or the access bench's KENTRA_BENCH_PROFILE), and the share
// of the time under a few groups (TLS, crypto, fastify, the access layer, the store).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const [file, n = '25'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byId = new Map(profile.nodes.map((x) => [x.id, x]));
const where = (x: Node) => {
  const url = x.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
  return `${x.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${x.callFrame.lineNumber + 1}` : ''}`.trim();
};
const sums = new Map<string, number>();
for (const [id, t] of self) {
  const key = where(byId.get(id)!);
  sums.set(key, (sums.get(key) ?? 0) + t);
}
const idle = [...sums].filter(([k]) => /^\((idle|program|garbage collector)\)/.test(k));
console.log(`total ${(total / 1e6).toFixed(1)} s sampled; ${idle.map(([k, t]) => `${k} ${((100 * t) / total).toFixed(1)} %`).join(', ')}`);
const busy = total - idle.filter(([k]) => k.startsWith('(idle)')).reduce((a, [, t]) => a + t, 0);
console.log(`busy (not idle) ${(busy / 1e6).toFixed(1)} s; shares below are of busy time`);
for (const [k, t] of [...sums]
  .filter(([k]) => !k.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(n)))
  console.log(`${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`);
// Inclusive time per group: a sample counts for a group when any frame on its stack is in that group.
const parent = new Map<number, number>();
for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
const groups: [string, RegExp][] = [
  ['TLS (node:_tls_wrap, tls)', /node:(_tls|tls)/],
  ['crypto verify', /verify|node:internal\/crypto/i],
  ['fastify', /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify)/],
  ['access layer (dist/src/access)', /dist\/src\/access\//],
  ['store (dist/src/store, kysely, better-sqlite3)', /dist\/src\/store\/|node_modules\/(kysely|better-sqlite3)/],
  ['JSON', /JSON|stringify|parse/],
];
const incl = new Map<string, number>();
for (const [id, t] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const x = byId.get(cur)!;
    const s = `${x.callFrame.functionName} ${x.callFrame.url}`;
    for (const [g, re] of groups) if (!seen.has(g) && re.test(s)) seen.add(g);
  }
  for (const g of seen) incl.set(g, (incl.get(g) ?? 0) + t);
}
for (const [g] of groups) console.log(`inclusive ${(((incl.get(g) ?? 0) * 100) / busy).toFixed(1).padStart(5)} %  ${g}`);
