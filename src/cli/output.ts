import jmespath from 'jmespath';
import { stringify as toYaml } from 'yaml';

// az's output formats (knack): json, jsonc, yaml, yamlc, tsv, table, none, after an optional --query.

export type OutputFormat = 'json' | 'jsonc' | 'yaml' | 'yamlc' | 'tsv' | 'table' | 'none';
export const OUTPUT_FORMATS: OutputFormat[] = ['json', 'jsonc', 'yaml', 'yamlc', 'tsv', 'table', 'none'];

export class UsageError extends Error {}

export function applyQuery(result: unknown, query: string | undefined): unknown {
  if (!query) return result;
  try {
    return jmespath.search(result, query);
  } catch (err) {
    throw new UsageError(`argument --query: invalid jmespath_type value: '${query}' (${(err as Error).message})`);
  }
}

function colorJson(text: string): string {
  return text.replace(/("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g, (m, str, colon, lit, num) => {
    if (str) return colon ? `\x1b[94m${str}\x1b[0m${colon}` : `\x1b[32m${str}\x1b[0m`;
    if (lit) return `\x1b[95m${lit}\x1b[0m`;
    if (num) return `\x1b[93m${num}\x1b[0m`;
    return m;
  });
}

function tsvValue(v: unknown): string {
  if (Array.isArray(v)) return String(v.length);
  if (v && typeof v === 'object') return '';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

function tsv(result: unknown): string {
  const rows = Array.isArray(result) ? result : [result];
  return rows
    .map((row) => {
      if (row && typeof row === 'object' && !Array.isArray(row)) {
        return Object.keys(row)
          .sort()
          .map((k) => tsvValue((row as Record<string, unknown>)[k]))
          .join('\t');
      }
      if (Array.isArray(row)) return row.map(tsvValue).join('\t');
      if (typeof row === 'boolean') return String(row).toLowerCase();
      return tsvValue(row);
    })
    .map((line) => `${line}\n`)
    .join('');
}

const SKIP_KEYS = new Set(['id', 'type', 'etag']);

function tableRow(item: unknown): Record<string, string> {
  const row: Record<string, string> = {};
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    for (const [k, v] of Object.entries(item)) {
      if (SKIP_KEYS.has(k) || v === null || v === undefined || typeof v === 'object') continue;
      row[k.charAt(0).toUpperCase() + k.slice(1)] = typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
    }
  } else if (Array.isArray(item)) {
    item.forEach((v, i) => {
      row[`Column${i + 1}`] = String(v);
    });
  } else {
    row.Result = String(item);
  }
  return row;
}

/** tabulate's "simple" format, as az prints tables: a column is at least its header plus tabulate's MIN_PADDING (2) wide. */
function table(result: unknown): string {
  const rows = (Array.isArray(result) ? result : [result]).map(tableRow);
  const headers = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (!headers.length) return '';
  const widths = headers.map((h) => Math.max(h.length + 2, ...rows.map((r) => (r[h] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return (
    [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(headers.map((h) => r[h] ?? '')))].join('\n') + '\n'
  );
}

export function formatOutput(result: unknown, format: OutputFormat, color = false): string {
  if (result === undefined || format === 'none') return '';
  switch (format) {
    case 'json':
      return `${JSON.stringify(result, null, 2)}\n`;
    case 'jsonc':
      return `${color ? colorJson(JSON.stringify(result, null, 2)) : JSON.stringify(result, null, 2)}\n`;
    case 'yaml':
    case 'yamlc':
      return toYaml(result);
    case 'tsv':
      return tsv(result);
    case 'table':
      return table(result);
  }
}
