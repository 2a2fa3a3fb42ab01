import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Az, startKentraWithCurrentAz, type CurrentAzKentra } from '../support/az.js';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { currentAzureCli } from '../support/tools.js';

// `kentra … -o table` as az prints it: the columns of az's table transformers (acs/_format.py
// `aks_versions_table_format`, resource/commands.py `transform_resource_group_list` and the feature
// query, role/commands.py `get_graph_object_transformer`) and tabulate's column widths (at least the
// header plus two). First against what az's source says, then byte for byte against the current az
// run on the same Kentra.

/** The same commands for both: each reads state both clients see alike. */
const COMMANDS = [
  ['aks', 'get-versions', '-l', 'westeurope'],
  ['group', 'list'],
  ['feature', 'list', '--namespace', 'Microsoft.ContainerService'],
  ['feature', 'show', '--namespace', 'Microsoft.ContainerService', '-n', 'AAD-V2'],
  ['ad', 'sp', 'list', '--display-name', 'Kentra'],
  ['ad', 'app', 'list'],
];

/** A CLI signed in as the bootstrap service principal, with one resource group. */
async function signedInCli(k: TestKentra) {
  const dir = mkdtempSync(join(tmpdir(), 'kentra-cli-tables-'));
  const env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
  const cli = kentraCli(() => env);
  const sp = k.endpoints.servicePrincipal;
  await cli.ok('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', k.endpoints.tenantId);
  await cli.ok('group', 'create', '--name', 'rgTables', '--location', 'westeurope');
  return { cli, close: () => rmSync(dir, { recursive: true, force: true }) };
}

describe("kentra -o table: az's table transformers", { timeout: 120_000 }, () => {
  let k: TestKentra;
  let signedIn: Awaited<ReturnType<typeof signedInCli>>;
  const table = async (...args: string[]) => (await signedIn.cli.ok(...args, '-o', 'table')).split('\n');

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    signedIn = await signedInCli(k);
  });
  after(async () => {
    signedIn?.close();
    await k?.close();
  });

  it('aks get-versions -o table: KubernetesVersion, Upgrades, SupportPlan, one row per patch version, newest first', async () => {
    const json = await signedIn.cli.json('aks', 'get-versions', '-l', 'westeurope');
    const patches = json.values.flatMap((v: any) => Object.keys(v.patchVersions));
    const lines = await table('aks', 'get-versions', '-l', 'westeurope');
    assert.equal(lines[0], 'KubernetesVersion    Upgrades        SupportPlan');
    assert.equal(lines[1], '-------------------  --------------  ------------------');
    const rows = lines.slice(2, -1).map((l) => l.split(/\s{2,}/));
    assert.equal(rows.length, patches.length, lines.join('\n'));
    assert.equal(lines.at(-1), '');
    const versions = rows.map((r) => r[0]!);
    const numeric = (v: string) => v.split('.').map(Number);
    const newestFirst = [...versions].sort((a, b) => {
      const [x, y] = [numeric(a), numeric(b)];
      return y[0]! - x[0]! || y[1]! - x[1]! || y[2]! - x[2]!;
    });
    assert.deepEqual(versions, newestFirst);
    assert.deepEqual(rows[0], [versions[0], 'None available', 'KubernetesOfficial'], 'the newest has no upgrade');
    for (const [version, upgrades] of rows.slice(1)) {
      const release = json.values.find((v: any) => version! in v.patchVersions);
      assert.equal(upgrades, release.patchVersions[version!].upgrades.join(', '), version);
    }
  });

  it('group list -o table: Name, Location, Status', async () => {
    assert.deepEqual(await table('group', 'list'), [
      'Name      Location    Status',
      '--------  ----------  ---------',
      'rgTables  westeurope  Succeeded',
      '',
    ]);
  });

  it('feature list and show -o table: Name, RegistrationState', async () => {
    const list = await table('feature', 'list', '--namespace', 'Microsoft.ContainerService');
    assert.match(list[0]!, /^Name\s+RegistrationState$/);
    assert.match(list.join('\n'), /^Microsoft\.ContainerService\/AAD-V2\s+NotRegistered$/m);
    assert.deepEqual(await table('feature', 'show', '--namespace', 'Microsoft.ContainerService', '-n', 'AAD-V2'), [
      'Name                               RegistrationState',
      '---------------------------------  -------------------',
      'Microsoft.ContainerService/AAD-V2  NotRegistered',
      '',
    ]);
  });

  it('ad sp list and ad app list -o table: DisplayName, Id, AppId, CreatedDateTime, sorted by display name', async () => {
    const sps = await signedIn.cli.json('ad', 'sp', 'list', '--display-name', 'Kentra');
    const lines = await table('ad', 'sp', 'list', '--display-name', 'Kentra');
    assert.match(lines[0]!, /^DisplayName\s+Id\s+AppId\s+CreatedDateTime$/);
    const names = lines.slice(2, -1).map((l) => l.split(/\s{2,}/)[0]);
    assert.deepEqual(names, sps.map((s: any) => s.displayName).sort(), 'code-point order, as Python sorts');
    const bootstrap = sps.find((s: any) => s.appId === k.endpoints.servicePrincipal.appId);
    assert.ok(lines.includes(`kentra-bootstrap  ${bootstrap.id}  ${bootstrap.appId}  ${bootstrap.createdDateTime}`), lines.join('\n'));
    const apps = await table('ad', 'app', 'list');
    assert.match(apps[0]!, /^DisplayName\s+Id\s+AppId\s+CreatedDateTime$/);
  });
});

const azCli = currentAzureCli();

describe('kentra -o table prints what the current az prints, on the same Kentra', { skip: azCli.skip, timeout: 300_000 }, () => {
  let setup: CurrentAzKentra;
  let az: Az;
  let signedIn: Awaited<ReturnType<typeof signedInCli>>;

  before(async () => {
    setup = await startKentraWithCurrentAz({ extraArgs: ['--provisioning-delay', '0'] });
    az = setup.az;
    signedIn = await signedInCli(setup.k);
    const { tenantId, servicePrincipal: sp } = setup.k.endpoints;
    await az.json('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
  });
  after(async () => {
    signedIn?.close();
    await setup?.close();
  });

  for (const args of COMMANDS) {
    it(`${args.join(' ')} -o table`, async () => {
      const mine = await signedIn.cli.ok(...args, '-o', 'table');
      const theirs = await az.run(...args, '-o', 'table');
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(mine, theirs.stdout);
    });
  }
});
