#!/usr/bin/env node
// Draws docs/bench/chart.svg from the figures the benchmarks wrote (docs/bench/<bench>.json): one
// bar per figure that has a limit, its length the ratio to that limit, with the goal marked. The
// README shows the chart; the JSON files keep the figures, limits and load averages of the run.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const dir = process.argv[2] ?? 'docs/bench';
const results = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')));
const rows = results.flatMap((r) =>
  r.figures.filter((f) => typeof f.ratio === 'number').map((f) => ({ ...f, bench: r.bench, load: r.load, at: r.at })),
);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (n) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
const max = Math.max(2, ...rows.map((r) => Math.min(r.ratio, 4)), ...rows.map((r) => r.goal?.ratio ?? 0));
const W = 1000,
  labelW = 430,
  barW = 420,
  rowH = 34,
  top = 50;
const x = (ratio) => labelW + (Math.min(ratio, max) / max) * barW;
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${top + rows.length * rowH + 40}" font-family="sans-serif" font-size="12">`,
  `<rect width="100%" height="100%" fill="#fff"/>`,
  `<text x="10" y="22" font-size="15" font-weight="bold">Kentra benchmarks: each figure ÷ the limit measured in the same run</text>`,
  `<text x="10" y="40" fill="#555">bar = ratio (0 … ${max}); black tick = goal; green = goal met, orange = not met. Figures and load averages: docs/bench/*.json</text>`,
];
rows.forEach((r, i) => {
  const y = top + i * rowH;
  const met = r.met === undefined ? '#888' : r.met ? '#2e7d32' : '#e65100';
  parts.push(`<text x="10" y="${y + 14}">${esc(`${r.bench}: ${r.name}`.slice(0, 62))}</text>`);
  parts.push(
    `<text x="10" y="${y + 27}" fill="#555" font-size="10">${esc(`${num(r.value)} ${r.unit} vs ${r.limit.name} ${num(r.limit.value)} ${r.limit.unit ?? r.unit}; load ${r.load.start.toFixed(1)}`.slice(0, 95))}</text>`,
  );
  parts.push(`<rect x="${labelW}" y="${y + 6}" width="${x(r.ratio) - labelW}" height="16" fill="${met}"/>`);
  parts.push(
    `<text x="${Math.max(x(r.ratio), r.goal ? x(r.goal.ratio) : 0) + 6}" y="${y + 18}">${esc(`${r.ratio.toFixed(2)}${r.goal ? ` (goal ${r.goal.op} ${r.goal.ratio})` : ''}`)}</text>`,
  );
  if (r.goal)
    parts.push(`<line x1="${x(r.goal.ratio)}" x2="${x(r.goal.ratio)}" y1="${y + 2}" y2="${y + 26}" stroke="#000" stroke-width="2"/>`);
});
parts.push('</svg>');
writeFileSync(`${dir}/chart.svg`, parts.join('\n') + '\n');
console.log(`chart: ${dir}/chart.svg (${rows.length} figures from ${results.length} benchmarks)`);
