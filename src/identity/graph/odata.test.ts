import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GraphError } from './errors.js';
import { listQuery, pageJson, pageOf, parseFilter } from './odata.js';

// The OData parser takes text straight from a URL: whatever it gets, it answers with a filter or
// Graph's 400, never another exception (issue 12 finding 11: deep nesting overflowed the stack).

const FIELDS = ['id', 'displayName', 'securityEnabled', 'servicePrincipalNames', 'tags'];
const ITEMS: Record<string, unknown>[] = [
  { id: '1', displayName: 'Alpha', securityEnabled: true, servicePrincipalNames: ['api://a'], tags: [] },
  { id: '2', displayName: "O'Brien", securityEnabled: false, servicePrincipalNames: [], tags: null },
  { id: '3', displayName: null },
];

/** Runs a parse and the filter it gives over a few items; only a Graph 400 may escape. */
function parseOrGraph400(text: string): void {
  try {
    const filter = parseFilter(text, 'Group', FIELDS);
    if (filter) for (const item of ITEMS) assert.equal(typeof filter(item), 'boolean');
  } catch (err) {
    assert.ok(err instanceof GraphError, `not a GraphError: ${String(err)} for ${JSON.stringify(text)}`);
    assert.equal(err.status, 400);
    assert.match(err.code, /^Request_(BadRequest|UnsupportedQuery)$/);
  }
}

const PIECES = [
  '(',
  ')',
  ' ',
  "'",
  "''",
  'not ',
  ' and ',
  ' or ',
  'displayName',
  'DISPLAYNAME',
  'securityEnabled',
  ' eq ',
  ' ne ',
  ' in ',
  'startswith(',
  'endswith(',
  ',',
  ':',
  'servicePrincipalNames/any(',
  'c',
  'c:c',
  '1',
  '-2.5',
  'true',
  'null',
  "'a'",
  '$',
  '\u0000',
  '\ud800',
  '@',
  '/',
];

describe('OData $filter parser', () => {
  it('answers deep nesting with a 400 "Invalid filter clause", not a stack overflow (issue 12 finding 11)', () => {
    for (const text of [
      `${'('.repeat(10_000)}displayName eq 'x'${')'.repeat(10_000)}`,
      `${'not '.repeat(10_000)}displayName eq 'x'`,
      `${'(not '.repeat(5_000)}displayName eq 'x'${')'.repeat(5_000)}`,
    ]) {
      assert.throws(
        () => parseFilter(text, 'Group', FIELDS),
        (err: unknown) =>
          err instanceof GraphError &&
          err.status === 400 &&
          err.code === 'Request_BadRequest' &&
          /^Invalid filter clause/.test(err.message),
      );
    }
  });

  it('still parses the nesting people write', () => {
    const filter = parseFilter("(((displayName eq 'alpha') and not (securityEnabled eq false)) or id in ('9', '8'))", 'Group', FIELDS)!;
    assert.deepEqual(
      ITEMS.filter(filter).map((i) => i.id),
      ['1'],
    );
  });

  it('refuses a $filter longer than its bound with a 400 "Invalid filter clause"', () => {
    const long = Array.from({ length: 1000 }, (_, i) => `id eq '${i}'`).join(' or ');
    assert.throws(
      () => parseFilter(long, 'Group', FIELDS),
      (err: unknown) => err instanceof GraphError && err.status === 400 && /^Invalid filter clause/.test(err.message),
    );
  });

  it("never throws anything but Graph's 400 for arbitrary text (fast-check)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => parseOrGraph400(text)),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (text) => parseOrGraph400(text)),
      { numRuns: 1000 },
    );
  });

  it("never throws anything but Graph's 400 for token soup (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }), (pieces) => parseOrGraph400(pieces.join(''))),
      { numRuns: 5000 },
    );
  });

  it("never throws anything but Graph's 400 for arbitrary query options (fast-check)", () => {
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.constant(undefined));
    const options = fc.record({ $filter: value, $top: value, $skiptoken: value, $count: value, $select: value }, { requiredKeys: [] });
    fc.assert(
      fc.property(options, fc.constantFrom('eventual', '', 'x'), (query, consistency) => {
        try {
          listQuery(query as Record<string, unknown>, { consistencylevel: consistency }, 'Group', FIELDS);
        } catch (err) {
          assert.ok(err instanceof GraphError && err.status === 400, `not a Graph 400: ${String(err)}`);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('makes the same page from items as JSON text (pageJson) as from the items (pageOf)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.uuid(), displayName: fc.string({ maxLength: 12 }), n: fc.option(fc.integer()) }), { maxLength: 8 }),
        fc.nat(20),
        fc.integer({ min: 1, max: 999 }),
        fc.nat(30),
        fc.boolean(),
        fc.constantFrom(
          'https://localhost:8443/v1.0/users/x/transitiveMemberOf',
          'https://h/v1.0/me/memberOf?$top=3&$count=true&a=%22q%22',
        ),
        (items, extra, top, skip, count, url) => {
          const q = { filter: null, select: null, top, skip, count };
          const total = items.length + (extra as number) + skip;
          const context = 'https://h/v1.0/$metadata#directoryObjects';
          const text = pageJson(
            items.map((i) => JSON.stringify(i)),
            total,
            q,
            new URL(url),
            context,
          );
          assert.equal(text, JSON.stringify(pageOf(items, total, q, new URL(url), context)));
        },
      ),
      { numRuns: 500 },
    );
    assert.throws(() => pageJson([], 0, { filter: null, select: ['id'], top: 1, skip: 0, count: false }, new URL('https://h/'), 'c'));
  });
});
