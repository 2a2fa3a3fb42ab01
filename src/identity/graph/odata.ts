import { graphErrors } from './errors.js';

// The OData query options Kentra's Graph answers: $filter (eq, ne, startswith, endswith, in, any(),
// and, or, not, parentheses), $select, $top with @odata.nextLink paging, and $count.
// Directory string comparisons are case-insensitive, as Graph's are.

/** Kentra's bounds on a `$filter`: its length, and how deep parentheses and `not` may nest. */
export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 32;

type Literal = string | number | boolean | null;
type Node =
  | { op: 'and' | 'or'; left: Node; right: Node }
  | { op: 'not'; expr: Node }
  | { op: 'eq' | 'ne'; path: string; value: Literal }
  | { op: 'in'; path: string; values: Literal[] }
  | { op: 'startswith' | 'endswith'; path: string; value: string }
  | { op: 'any'; path: string; value: Literal };

interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct';
  text: string;
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= input.length) throw graphErrors.badRequest(`Invalid filter clause: unterminated string literal.`);
        if (input[i] === "'") {
          if (input[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += input[i++];
      }
      tokens.push({ kind: 'string', text: value });
      continue;
    }
    if ('(),:'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
      continue;
    }
    const m = /^[A-Za-z_$@][A-Za-z0-9_./$@-]*|^-?\d+(\.\d+)?/.exec(input.slice(i));
    if (!m) throw graphErrors.badRequest(`Invalid filter clause: unexpected character '${c}' at position ${i}.`);
    tokens.push({ kind: /^-?\d/.test(m[0]) ? 'number' : 'ident', text: m[0] });
    i += m[0].length;
  }
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) throw graphErrors.badRequest('Invalid filter clause: the expression ends too early.');
    return t;
  }
  private expect(text: string): void {
    const t = this.next();
    if (t.text.toLowerCase() !== text) throw graphErrors.badRequest(`Invalid filter clause: expected '${text}' but found '${t.text}'.`);
  }
  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.kind === 'ident' && t.text.toLowerCase() === word;
  }

  parse(): Node {
    const node = this.or();
    if (this.peek()) throw graphErrors.badRequest(`Invalid filter clause: unexpected '${this.peek()!.text}'.`);
    return node;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('or')) {
      this.pos++;
      left = { op: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.unary();
    while (this.isWord('and')) {
      this.pos++;
      left = { op: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): Node {
    const t = this.peek();
    const nests = this.isWord('not') || (t?.kind === 'punct' && t.text === '(');
    if (!nests) return this.comparison();
    // Each `not` and `(` is one level of recursion: bounded, so no input reaches the stack's end.
    if (++this.depth > MAX_FILTER_DEPTH)
      throw graphErrors.badRequest(`Invalid filter clause: the expression nests deeper than ${MAX_FILTER_DEPTH} levels.`);
    this.pos++;
    let node: Node;
    if (t!.text === '(') {
      node = this.or();
      this.expect(')');
    } else {
      node = { op: 'not', expr: this.unary() };
    }
    this.depth--;
    return node;
  }

  private literal(): Literal {
    const t = this.next();
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'ident' && ['true', 'false', 'null'].includes(t.text.toLowerCase()))
      return t.text.toLowerCase() === 'null' ? null : t.text.toLowerCase() === 'true';
    throw graphErrors.badRequest(`Invalid filter clause: '${t.text}' is not a literal (strings are quoted with ').`);
  }

  private comparison(): Node {
    const t = this.next();
    if (t.kind !== 'ident') throw graphErrors.badRequest(`Invalid filter clause: expected a property name, found '${t.text}'.`);
    const fn = t.text.toLowerCase();
    if ((fn === 'startswith' || fn === 'endswith') && this.peek()?.text === '(') {
      this.pos++;
      const path = this.next();
      this.expect(',');
      const value = this.literal();
      this.expect(')');
      if (typeof value !== 'string') throw graphErrors.badRequest(`Invalid filter clause: ${fn} needs a string.`);
      return { op: fn, path: path.text, value };
    }
    const anyMatch = /^(.+)\/any$/i.exec(t.text);
    if (anyMatch && this.peek()?.text === '(') {
      this.pos++;
      const variable = this.next().text;
      this.expect(':');
      const v = this.next().text;
      if (v !== variable) throw graphErrors.badRequest(`Invalid filter clause: the lambda variable '${v}' is not '${variable}'.`);
      this.expect('eq');
      const value = this.literal();
      this.expect(')');
      return { op: 'any', path: anyMatch[1]!, value };
    }
    const op = this.next().text.toLowerCase();
    if (op === 'eq' || op === 'ne') return { op, path: t.text, value: this.literal() };
    if (op === 'in') {
      this.expect('(');
      const values: Literal[] = [this.literal()];
      while (this.peek()?.text === ',') {
        this.pos++;
        values.push(this.literal());
      }
      this.expect(')');
      return { op: 'in', path: t.text, values };
    }
    throw graphErrors.badRequest(`Invalid filter clause: the operator '${op}' is not supported.`);
  }
}

export type Filter = (item: Record<string, unknown>) => boolean;

function get(item: Record<string, unknown>, path: string): unknown {
  return path.split('/').reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), item);
}

const same = (a: unknown, b: Literal) => (typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b);

function paths(node: Node): string[] {
  switch (node.op) {
    case 'and':
    case 'or':
      return [...paths(node.left), ...paths(node.right)];
    case 'not':
      return paths(node.expr);
    default:
      return [node.path];
  }
}

function compile(node: Node): Filter {
  switch (node.op) {
    case 'and': {
      const l = compile(node.left);
      const r = compile(node.right);
      return (x) => l(x) && r(x);
    }
    case 'or': {
      const l = compile(node.left);
      const r = compile(node.right);
      return (x) => l(x) || r(x);
    }
    case 'not': {
      const e = compile(node.expr);
      return (x) => !e(x);
    }
    case 'eq':
      return (x) => same(get(x, node.path) ?? null, node.value);
    case 'ne':
      return (x) => !same(get(x, node.path) ?? null, node.value);
    case 'in':
      return (x) => node.values.some((v) => same(get(x, node.path) ?? null, v));
    case 'startswith':
      return (x) =>
        String(get(x, node.path) ?? '')
          .toLowerCase()
          .startsWith(node.value.toLowerCase());
    case 'endswith':
      return (x) =>
        String(get(x, node.path) ?? '')
          .toLowerCase()
          .endsWith(node.value.toLowerCase());
    case 'any':
      return (x) => {
        const v = get(x, node.path);
        return Array.isArray(v) && v.some((e) => same(e, node.value));
      };
  }
}

/** Compiles `$filter`, refusing properties the resource does not filter on, as Graph does. */
export function parseFilter(text: string | undefined, resource: string, filterable: string[]): Filter | null {
  if (!text) return null;
  if (text.length > MAX_FILTER_LENGTH)
    throw graphErrors.badRequest(`Invalid filter clause: the expression is longer than ${MAX_FILTER_LENGTH} characters.`);
  const node = new Parser(tokenize(text)).parse();
  for (const path of paths(node)) {
    if (!filterable.some((f) => f.toLowerCase() === path.toLowerCase())) {
      throw graphErrors.unsupportedQuery(
        `Unsupported or invalid query filter clause specified for property '${path}' of resource '${resource}'.`,
      );
    }
  }
  // Property names are case-insensitive in OData queries: map them to the resource's spelling.
  const canonical = (p: string) => filterable.find((f) => f.toLowerCase() === p.toLowerCase())!;
  const fix = (n: Node): Node => {
    switch (n.op) {
      case 'and':
      case 'or':
        return { ...n, left: fix(n.left), right: fix(n.right) };
      case 'not':
        return { ...n, expr: fix(n.expr) };
      default:
        return { ...n, path: canonical(n.path) } as Node;
    }
  };
  return compile(fix(node));
}

export interface ListQuery {
  filter: Filter | null;
  select: string[] | null;
  top: number;
  skip: number;
  count: boolean;
  /** The store's cursor, from a $skiptoken a keyed page made (see keyedSkipToken); then `skip` is 0. */
  after?: string;
}

const AFTER = 'after:';

/** The $skiptoken of a page read by key: the store's cursor for the rest (opaque to clients, as Graph's). */
export function keyedSkipToken(cursor: string): string {
  return Buffer.from(AFTER + cursor).toString('base64url');
}

/** Reads the query options of a list request. */
export function listQuery(
  query: Record<string, unknown>,
  headers: Record<string, unknown>,
  resource: string,
  filterable: string[],
): ListQuery {
  const str = (k: string) => (typeof query[k] === 'string' ? (query[k] as string) : undefined);
  const topText = str('$top');
  const top = topText === undefined ? 100 : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 999)
    throw graphErrors.badRequest(`Invalid page size specified: '${topText}'. Must be between 1 and 999 inclusive.`);
  let skip = 0;
  let after: string | undefined;
  const token = str('$skiptoken');
  if (token) {
    const text = Buffer.from(token, 'base64url').toString('utf8');
    if (text.startsWith(AFTER) && text.length > AFTER.length) after = text.slice(AFTER.length);
    else {
      skip = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
      if (!Number.isInteger(skip) || skip < 0) throw graphErrors.badRequest('The $skiptoken is not valid.');
    }
  }
  const count = str('$count') === 'true';
  if (count && String(headers.consistencylevel ?? '').toLowerCase() !== 'eventual') {
    throw graphErrors.badRequest("$count is only supported with the header 'ConsistencyLevel: eventual'.");
  }
  const select =
    str('$select')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean) ?? null;
  return { filter: parseFilter(str('$filter'), resource, filterable), select, top, skip, count, ...(after === undefined ? {} : { after }) };
}

export function applySelect(item: Record<string, unknown>, select: string[] | null): Record<string, unknown> {
  if (!select) return item;
  const out: Record<string, unknown> = {};
  for (const key of select) {
    const actual = Object.keys(item).find((k) => k.toLowerCase() === key.toLowerCase());
    if (actual) out[actual] = item[actual];
  }
  return out;
}

/** One page of a collection, with the absolute @odata.nextLink Graph clients follow. */
export function page(items: Record<string, unknown>[], q: ListQuery, requestUrl: URL, context: string): Record<string, unknown> {
  const filtered = q.filter ? items.filter(q.filter) : items;
  return pageOf(filtered.slice(q.skip, q.skip + q.top), filtered.length, q, requestUrl, context);
}

/**
 * The same page, when the caller has made only its items (those from `q.skip`, at most `q.top`) out of
 * `total` in the whole collection (after any $filter).
 */
export function pageOf(
  items: Record<string, unknown>[],
  total: number,
  q: ListQuery,
  requestUrl: URL,
  context: string,
): Record<string, unknown> {
  notKeyed(q);
  const body: Record<string, unknown> = { '@odata.context': context };
  if (q.count) body['@odata.count'] = total;
  body.value = items.map((i) => applySelect(i, q.select));
  const next = nextLink(q, total, requestUrl);
  if (next) body['@odata.nextLink'] = next;
  return body;
}

/**
 * The text of pageOf's page without $select, from its items' JSON as it is (an item's JSON can then be
 * made once and sent many times): the same members in the same order.
 */
export function pageJson(items: readonly string[], total: number, q: ListQuery, requestUrl: URL, context: string): string {
  if (q.select) throw new Error('pageJson makes whole items only: $select goes through pageOf');
  notKeyed(q);
  let text = `{"@odata.context":${JSON.stringify(context)}`;
  if (q.count) text += `,"@odata.count":${total}`;
  text += `,"value":[${items.join(',')}]`;
  const next = nextLink(q, total, requestUrl);
  if (next) text += `,"@odata.nextLink":${JSON.stringify(next)}`;
  return `${text}}`;
}

/** A page counted by position cannot follow a keyed page's $skiptoken (only keyed lists make them). */
function notKeyed(q: ListQuery): void {
  if (q.after !== undefined) throw graphErrors.badRequest('The $skiptoken is not valid.');
}

/** The absolute @odata.nextLink of a page, if more follow. */
function nextLink(q: ListQuery, total: number, requestUrl: URL): string | undefined {
  if (q.skip + q.top >= total) return undefined;
  return linkWithSkipToken(requestUrl, Buffer.from(String(q.skip + q.top)).toString('base64url'));
}

/** The request's URL with another $skiptoken: the absolute @odata.nextLink Graph clients follow. */
export function linkWithSkipToken(requestUrl: URL, token: string): string {
  const next = new URL(requestUrl);
  next.searchParams.set('$skiptoken', token);
  // Graph writes the OData options with a literal `$` (`?$top=3&$skiptoken=…`).
  return next.toString().replace(/%24/g, '$');
}
