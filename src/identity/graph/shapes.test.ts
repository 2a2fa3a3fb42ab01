import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { groupJson, securityIdentifier } from './shapes.js';

describe('Graph shapes', () => {
  it("a group's securityIdentifier is Entra's S-1-12-1 form of its object id", () => {
    // The published pair of @shi-corp/objectid-converter's README (a port of the PowerShell helpers that read
    // Guid.ToByteArray() as four UInt32s).
    assert.equal(securityIdentifier('f82d79af-1278-4894-ac01-d90e30875cf8'), 'S-1-12-1-4163729839-1217663608-249102764-4166813488');
    // And back, as .NET does it: the four numbers little-endian are the GUID's bytes, whose first three
    // fields are little-endian too.
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      const sid = securityIdentifier(id);
      assert.match(sid, /^S-1-12-1-\d+-\d+-\d+-\d+$/);
      const bytes = Buffer.alloc(16);
      sid
        .split('-')
        .slice(4)
        .forEach((n, j) => bytes.writeUInt32LE(Number(n), 4 * j));
      const hex = (from: number, to: number, le: boolean) => {
        const b = bytes.subarray(from, to);
        return Buffer.from(le ? [...b].reverse() : b).toString('hex');
      };
      const back = `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
      assert.equal(back, id);
    }
  });

  it('writes dates to the second, in UTC, as Graph does', () => {
    const g = groupJson({
      tenantId: randomUUID(),
      id: randomUUID(),
      displayName: 'g',
      mailNickname: 'g',
      description: null,
      securityEnabled: true,
      mailEnabled: false,
      createdAt: Date.UTC(2026, 11, 6, 9, 8, 7, 654),
    });
    assert.equal(g.createdDateTime, '2026-12-06T09:08:07Z');
    assert.equal(g.renewedDateTime, '2026-12-06T09:08:07Z');
  });
});
