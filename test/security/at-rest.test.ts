import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { httpsFetch, postForm } from '../support/http.js';
import { KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';

// Issue 12 finding 9: what the data directory holds at rest. The SQLite files are the owner's alone
// whatever the folder's mode was, and no private key (signing keys, a cluster's CA and service-account
// keys, its admin token) is readable from the database without the key-encryption key, which is not in it.

const API = 'api-version=2022-11-01';
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('Data at rest (issue 12 finding 9)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let dataDir: string;

  before(async () => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'kentra-at-rest-')), 'data');
    // A data directory that already exists and is world-readable, as a user's own folder may be.
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    k = await startTestKentra({ dataDir, extraArgs: ['--provisioning-delay', '0'] });
    const token = (
      await postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        {
          scope: 'https://management.azure.com/.default',
          grant_type: 'client_credentials',
          client_id: k.endpoints.servicePrincipal.appId,
          client_secret: k.endpoints.servicePrincipal.secret,
        },
        k.endpoints.caFile,
      )
    ).json().access_token as string;
    const arm = (method: string, path: string, body: unknown) =>
      httpsFetch(`${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}${path}?${API}`, {
        method,
        caFile: k.endpoints.caFile,
        body: JSON.stringify(body),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
    assert.equal((await arm('PUT', '/resourcegroups/rg1', { location: 'eastus' })).status, 201);
    const created = await arm('PUT', '/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1', {
      location: 'eastus',
      properties: { dnsPrefix: 'c1', agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true } },
    });
    assert.equal(created.status, 201, created.text);
  });
  after(async () => {
    await k?.close();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('finding 9: kentra.db, its -wal and -shm are 0600 in a data directory that already existed as 0755', () => {
    for (const f of ['kentra.db', 'kentra.db-wal', 'kentra.db-shm'])
      assert.equal(mode(join(dataDir, f)), '600', `${f} is ${mode(join(dataDir, f))}`);
  });

  it('finding 9: the store holds no private key or admin token in clear (signing keys and cluster secrets are sealed)', () => {
    const db = new Database(join(dataDir, 'kentra.db'), { readonly: true, fileMustExist: true });
    try {
      const keys = db.prepare('SELECT private_key_pem FROM signing_keys').all() as { private_key_pem: string }[];
      assert.ok(keys.length >= 1);
      for (const { private_key_pem: pem } of keys) {
        assert.doesNotMatch(pem, /PRIVATE KEY/);
        assert.match(pem, /^kentra-sealed:v1:[0-9a-f]{8}:/);
      }
      const clusters = db
        .prepare("SELECT secrets FROM arm_resources WHERE type_lower = 'microsoft.containerservice/managedclusters'")
        .all() as { secrets: string }[];
      assert.equal(clusters.length, 1);
      assert.doesNotMatch(clusters[0]!.secrets, /PRIVATE KEY|adminToken|caKeyPem/);
      assert.match(clusters[0]!.secrets, /^kentra-sealed:v1:/);
    } finally {
      db.close();
    }
  });

  it("finding 9: `kentra keys list` opens the sealed keys with the data directory's key; a different key-encryption key is refused clearly", () => {
    const listed = spawnSync(process.execPath, [KENTRA_BIN, 'keys', 'list', '--data-dir', dataDir], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /signing/);
    const wrongKey = join(dataDir, '..', 'wrong.key');
    writeFileSync(wrongKey, Buffer.alloc(32, 7).toString('base64'));
    const refused = spawnSync(
      process.execPath,
      [KENTRA_BIN, 'up', '--data-dir', dataDir, '--port', '0', '--key-encryption-key-file', wrongKey],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /sealed with key-encryption key [0-9a-f]{8}, but this instance has [0-9a-f]{8}/);
  });
});
