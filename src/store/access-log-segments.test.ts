import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cursorOf, parseCursor, SEGMENT_MAX_ENTRIES, segmentRows, trimSegment } from './access-log-segments.js';
import type { AccessLogRecord } from './types.js';

const rec = (clusterUid: string, time: number, over: Partial<AccessLogRecord> = {}): AccessLogRecord => ({
  clusterUid,
  time,
  kind: 'authentication',
  source: 'webhook',
  user: 'ann@example.com',
  userObjectId: null,
  groups: [],
  groupsSource: null,
  verb: null,
  resource: null,
  subresource: null,
  apiGroup: null,
  namespace: null,
  name: null,
  path: null,
  decision: 'allowed',
  reason: 'authenticated',
  ...over,
});

describe('access log segments', () => {
  it('packs a batch into one row per cluster, at most SEGMENT_MAX_ENTRIES each, with the oldest and newest time', () => {
    const batch = [...Array.from({ length: SEGMENT_MAX_ENTRIES + 1 }, (_, i) => rec('a', 1000 + i)), rec('b', 5), rec('b', 3)];
    const rows = segmentRows(batch);
    assert.deepEqual(
      rows.map((r) => r.slice(0, 4)),
      [
        ['a', 1000, 1000 + SEGMENT_MAX_ENTRIES - 1, SEGMENT_MAX_ENTRIES],
        ['a', 1000 + SEGMENT_MAX_ENTRIES, 1000 + SEGMENT_MAX_ENTRIES, 1],
        ['b', 3, 5, 2],
      ],
    );
    // Fields the record leaves undefined are stored as null, never dropped from their place.
    const [only] = segmentRows([rec('c', 1, { userObjectId: undefined as unknown as null, reason: 'x' })]);
    assert.equal(
      only![4],
      '[[1,"authentication","webhook","ann@example.com",null,[],null,null,null,null,null,null,null,null,"allowed","x"]]',
    );
  });

  it('trims a segment to the entries at or after a time, and says how many went', () => {
    const [row] = segmentRows([rec('a', 10), rec('a', 30), rec('a', 20)]);
    const t = trimSegment(row![4] as string, 20);
    assert.equal(t?.count, 2);
    assert.equal(t?.removed, 1);
    assert.equal(t?.minTime, 20);
    assert.equal(trimSegment(row![4] as string, 31), null);
  });

  it('reads back only the skip tokens it makes', () => {
    const key = { time: 1767225600000, seq: 42, index: 199 };
    assert.deepEqual(parseCursor(cursorOf(key)), key);
    for (const bad of [
      '',
      'not-a-cursor',
      Buffer.from('1.2').toString('base64url'),
      Buffer.from('1.2.3.4').toString('base64url'),
      Buffer.from('1.2.1000').toString('base64url'),
    ])
      assert.equal(parseCursor(bad), null, bad);
  });
});
