import type { AccessLogEntry, AccessLogRecord } from './types.js';

/**
 * The cluster access log is stored in segments: one row per cluster per written batch (at most a
 * batch's 200 entries), its entries packed as one JSON array. A decision's entry then costs a share of
 * one row instead of a row of its own with 17 columns and two index entries: about 2 µs of SQLite's
 * work instead of 10 (docs/access-log.md, "Cost"). Reading unpacks the segments a page touches and
 * filters their entries (see SegmentMerger).
 *
 * Each entry is an array of its fields in Packed's order; a field the record leaves out is null. The
 * order is part of the stored format: change it only with a migration that rewrites the segments.
 */
type Packed = [
  time: number,
  kind: AccessLogRecord['kind'],
  source: AccessLogRecord['source'],
  user: string,
  userObjectId: string | null,
  groups: string[],
  groupsSource: string | null,
  verb: string | null,
  resource: string | null,
  subresource: string | null,
  apiGroup: string | null,
  namespace: string | null,
  name: string | null,
  path: string | null,
  decision: AccessLogRecord['decision'],
  reason: string,
];

/** A segment as it is inserted, in SEGMENT_COLUMNS' order. */
export const SEGMENT_COLUMNS = ['cluster_uid', 'min_time', 'max_time', 'count', 'entries'] as const;

/** The most entries one segment holds (the access log writes batches of 200). */
export const SEGMENT_MAX_ENTRIES = 200;

function pack(e: AccessLogRecord): Packed {
  return [
    e.time,
    e.kind,
    e.source,
    e.user,
    e.userObjectId ?? null,
    e.groups,
    e.groupsSource ?? null,
    e.verb ?? null,
    e.resource ?? null,
    e.subresource ?? null,
    e.apiGroup ?? null,
    e.namespace ?? null,
    e.name ?? null,
    e.path ?? null,
    e.decision,
    e.reason,
  ];
}

/** The rows (SEGMENT_COLUMNS) that hold `records`: one per cluster and per SEGMENT_MAX_ENTRIES, in the records' order. */
export function segmentRows(records: readonly AccessLogRecord[]): unknown[][] {
  const byCluster = new Map<string, AccessLogRecord[]>();
  for (const r of records) {
    const list = byCluster.get(r.clusterUid);
    if (list) list.push(r);
    else byCluster.set(r.clusterUid, [r]);
  }
  const rows: unknown[][] = [];
  for (const [clusterUid, list] of byCluster) {
    for (let i = 0; i < list.length; i += SEGMENT_MAX_ENTRIES) {
      const part = list.slice(i, i + SEGMENT_MAX_ENTRIES);
      let min = part[0]!.time;
      let max = min;
      for (const r of part) {
        if (r.time < min) min = r.time;
        if (r.time > max) max = r.time;
      }
      rows.push([clusterUid, min, max, part.length, JSON.stringify(part.map(pack))]);
    }
  }
  return rows;
}

/** A stored entry's place: newest first is (time, seq, index) descending. */
export interface EntryKey {
  time: number;
  seq: number;
  index: number;
}

/** A segment as read back. */
export interface StoredSegment {
  seq: number;
  clusterUid: string;
  maxTime: number;
  entries: string;
}

/** The entries of a stored segment, each with its key and its id (`<seq>.<index>`). */
export function unpackSegment(s: StoredSegment): { key: EntryKey; entry: AccessLogEntry }[] {
  const packed = JSON.parse(s.entries) as Packed[];
  return packed.map((p, index) => ({
    key: { time: p[0], seq: s.seq, index },
    entry: {
      id: `${s.seq}.${index}`,
      clusterUid: s.clusterUid,
      time: p[0],
      kind: p[1],
      source: p[2],
      user: p[3],
      userObjectId: p[4],
      groups: p[5],
      groupsSource: p[6],
      verb: p[7],
      resource: p[8],
      subresource: p[9],
      apiGroup: p[10],
      namespace: p[11],
      name: p[12],
      path: p[13],
      decision: p[14],
      reason: p[15],
    },
  }));
}

/** Which key comes first, newest first: negative when `a` does. */
export function compareNewestFirst(a: EntryKey, b: EntryKey): number {
  return b.time - a.time || b.seq - a.seq || b.index - a.index;
}

/** The skip token of the entry with `key` (the next page starts after it). */
export function cursorOf(key: EntryKey): string {
  return Buffer.from(`${key.time}.${key.seq}.${key.index}`, 'utf8').toString('base64url');
}

/** The key a skip token names, or null when it is not one this store made. */
export function parseCursor(token: string): EntryKey | null {
  const m = /^(\d{1,16})\.(\d{1,16})\.(\d{1,3})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? { time: Number(m[1]), seq: Number(m[2]), index: Number(m[3]) } : null;
}

/**
 * Yields the entries of segments newest first. Segments arrive ordered by their newest entry
 * (max_time, then seq, descending); their entries are not assumed to be in order, and segments written
 * by different instances overlap in time, so an entry is given out only once every segment that could
 * hold a newer one has been read: a segment is read while its max_time is at least the newest entry
 * waiting.
 */
export class SegmentMerger {
  private waiting: { key: EntryKey; entry: AccessLogEntry }[] = [];
  private sorted = true;

  constructor(private readonly keep: (key: EntryKey, e: AccessLogEntry) => boolean) {}

  /** Whether `nextMaxTime` (the next unread segment's) must be read before the next entry is given out. */
  needs(nextMaxTime: number): boolean {
    const top = this.peek();
    return top === undefined || nextMaxTime >= top.key.time;
  }

  add(s: StoredSegment): void {
    for (const item of unpackSegment(s)) {
      if (!this.keep(item.key, item.entry)) continue;
      this.waiting.push(item);
      this.sorted = false;
    }
  }

  private peek() {
    if (!this.sorted) {
      this.waiting.sort((a, b) => compareNewestFirst(a.key, b.key));
      this.sorted = true;
    }
    return this.waiting[0];
  }

  /** The newest waiting entry, taken out (undefined when none waits). */
  take(): { key: EntryKey; entry: AccessLogEntry } | undefined {
    this.peek();
    return this.waiting.shift();
  }
}

/** A segment with its entries older than `before` taken out (retention), or null when none is left. */
export function trimSegment(entries: string, before: number): { entries: string; count: number; minTime: number; removed: number } | null {
  const packed = JSON.parse(entries) as Packed[];
  const kept = packed.filter((p) => p[0] >= before);
  if (kept.length === 0) return null;
  return {
    entries: JSON.stringify(kept),
    count: kept.length,
    minTime: Math.min(...kept.map((p) => p[0])),
    removed: packed.length - kept.length,
  };
}
