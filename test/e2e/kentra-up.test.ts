import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { httpsFetch, postForm } from '../support/http.js';
import { KENTRA_BIN, startTestKentra } from '../support/kentra.js';

describe('kentra up', { timeout: 120_000 }, () => {
  it('writes endpoints.json with the documented keys, and a restart reuses all of it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kentra-up-'));
    // Stopped in `finally` too, so that a failed assertion does not leave a server running.
    let running: { close(): Promise<void> } | undefined;
    try {
      const first = await startTestKentra({ dataDir });
      running = first;
      const e = first.endpoints;
      for (const key of ['authority', 'tenantId', 'subscriptionId', 'armEndpoint', 'graphEndpoint', 'caFile'])
        assert.ok((e as any)[key], key);
      assert.ok(e.admin.userPrincipalName && e.admin.password && e.servicePrincipal.appId && e.servicePrincipal.secret);
      assert.deepEqual(Object.keys(e.env).sort(), ['AZURE_AUTHORITY_HOST', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE']);
      assert.equal(e.env.AZURE_AUTHORITY_HOST, `${e.authority}/`);
      assert.equal(statSync(join(dataDir, 'endpoints.json')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dataDir, 'ca-key.pem')).mode & 0o777, 0o600);
      assert.match(readFileSync(e.caFile, 'utf8'), /BEGIN CERTIFICATE/);
      const ca1 = readFileSync(e.caFile, 'utf8');
      const kid1 = (await httpsFetch(`${e.authority}/${e.tenantId}/discovery/v2.0/keys`, { caFile: e.caFile })).json().keys[0].kid;
      await first.close();

      const second = await startTestKentra({ dataDir, extraArgs: ['--sealed-cache-mb', '1'] });
      running = second;
      const e2 = second.endpoints;
      assert.equal(e2.tenantId, e.tenantId);
      assert.equal(e2.subscriptionId, e.subscriptionId);
      assert.equal(e2.admin.password, e.admin.password);
      assert.equal(e2.servicePrincipal.secret, e.servicePrincipal.secret);
      assert.equal(readFileSync(e2.caFile, 'utf8'), ca1, 'the CA is kept');
      assert.equal(
        (await httpsFetch(`${e2.authority}/${e2.tenantId}/discovery/v2.0/keys`, { caFile: e2.caFile })).json().keys[0].kid,
        kid1,
        'and the signing key',
      );
      const res = await postForm(
        `${e2.authority}/${e2.tenantId}/oauth2/v2.0/token`,
        {
          client_id: e2.servicePrincipal.appId,
          client_secret: e2.servicePrincipal.secret,
          grant_type: 'client_credentials',
          scope: 'https://management.azure.com/.default',
        },
        e2.caFile,
      );
      assert.equal(res.status, 200, 'the bootstrap secret still works after a restart');
      // The signing key read back from the store was opened once and is kept within --sealed-cache-mb.
      const metrics = (await httpsFetch(`${e2.authority}/metrics`, { caFile: e2.caFile })).text;
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
      assert.equal(gauge('kentra_sealed_cache_max_bytes'), 2 ** 20);
      assert.ok(gauge('kentra_sealed_cache_entries') >= 1 && gauge('kentra_sealed_cache_misses') >= 1, metrics);
      assert.ok(gauge('kentra_sealed_cache_bytes') > 1000 && gauge('kentra_sealed_cache_bytes') <= 2 ** 20);

      const env = execFileSync(process.execPath, [KENTRA_BIN, 'env', '--data-dir', dataDir], { encoding: 'utf8' });
      assert.match(env, new RegExp(`^export NODE_EXTRA_CA_CERTS='${e.caFile}'$`, 'm'));
      assert.match(env, /^export AZURE_AUTHORITY_HOST='https:\/\/localhost:\d+\/'$/m);

      const exited = new Promise<number | null>((r) => second.process.once('exit', (code) => r(code)));
      second.process.kill('SIGTERM');
      assert.equal(await exited, 0, 'SIGTERM shuts down cleanly');
      await second.close();
    } finally {
      await running?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses bad options with a clear error and a non-zero exit', () => {
    const run = (...args: string[]) => {
      try {
        execFileSync(process.execPath, [KENTRA_BIN, ...args], { encoding: 'utf8', stdio: 'pipe' });
        return { code: 0, stderr: '' };
      } catch (err: any) {
        return { code: err.status as number, stderr: String(err.stderr) };
      }
    };
    const badPort = run('up', '--port', 'eighty');
    assert.notEqual(badPort.code, 0);
    assert.match(badPort.stderr, /a port number from 0 to 65535/);
    const badHeap = run('up', '--heap-growth', '-5');
    assert.notEqual(badHeap.code, 0);
    assert.match(badHeap.stderr, /--heap-growth .*a whole number of percent from 0 to 1,000/);
    for (const bad of ['-1', '1.5', '5000']) {
      const badSealed = run('up', '--sealed-cache-mb', bad);
      assert.notEqual(badSealed.code, 0);
      assert.match(badSealed.stderr, /--sealed-cache-mb .*a whole number of MiB from 0 to 4,096/);
    }
    const noData = run('env', '--data-dir', join(tmpdir(), 'kentra-none-here'));
    assert.equal(noData.code, 1);
    assert.match(noData.stderr, /^ERROR: no endpoints.json in /);
    // Refused before anything is written: the data directory named is not even made.
    const parent = mkdtempSync(join(tmpdir(), 'kentra-bad-'));
    try {
      const badStore = run('up', '--port', '0', '--data-dir', join(parent, 'store'), '--store', 'mysql://kentra:hunter2@db/x');
      assert.equal(badStore.code, 1);
      assert.match(badStore.stderr, /ERROR: unsupported store URL .*mysql:\/\/\*\*\*@db\/x/);
      assert.doesNotMatch(badStore.stderr, /hunter2/);
      const badSeed = run('up', '--port', '0', '--data-dir', join(parent, 'seed'), '--seed', '/nonexistent/seed.yaml');
      assert.equal(badSeed.code, 1);
      assert.match(badSeed.stderr, /ERROR: seed: cannot read \/nonexistent\/seed.yaml/);
      writeFileSync(join(parent, 'broken.yaml'), 'tenants: [ {');
      const brokenSeed = run('up', '--port', '0', '--data-dir', join(parent, 'broken'), '--seed', join(parent, 'broken.yaml'));
      assert.equal(brokenSeed.code, 1);
      assert.match(brokenSeed.stderr, /ERROR: seed: /);
      assert.deepEqual(readdirSync(parent), ['broken.yaml'], 'no data directory was made for a start that was refused');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
