import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sealerForDataDir } from '../../src/shared/key-sealing.js';

/**
 * Kentra's private signing key `kid`, read from the SQLite store in `dataDir` and opened with the
 * data directory's key-encryption key (the store holds it sealed). For tests that must forge a token
 * with a valid signature: an expired copy, a foreign issuer, a `crit` header.
 */
export function storeSigningKeyPem(dataDir: string, kid: string): string {
  const db = new Database(join(dataDir, 'kentra.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('select private_key_pem as pem from signing_keys where kid = ?').get(kid) as { pem: string } | undefined;
    assert.ok(row, `the signing key ${kid} is in the store`);
    const pem = sealerForDataDir(dataDir).unseal(row.pem);
    assert.match(pem, /BEGIN PRIVATE KEY/);
    return pem;
  } finally {
    db.close();
  }
}
