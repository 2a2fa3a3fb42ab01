import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { AZ_VERSION_CHECK, kentraEnv, type Az, startKentraWithCurrentAz, type CurrentAzKentra } from '../support/az.js';
import { completeDeviceLogin, type TestKentra } from '../support/kentra.js';
import { processRunner } from '../support/kubectl.js';
import { currentAzureCli } from '../support/tools.js';
import { machinePath } from '../support/user-shell.js';

// Documents 000 and 002 with the current Azure CLI from PyPI against Kentra as a custom cloud
// (test/support/az.ts currentAzFor): `az aks create/update/show/list/get-credentials/delete`, and the
// kubeconfigs get-credentials writes used as the documents use them, with the real kubectl and
// Kentra's kubelogin on PATH as `kentra env` puts it; device-code prompts are completed on
// /devicelogin as the admin-group member.

const NODES = /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n(\S+\s+Ready\s.*\n)+$/;
const DEVICE_CODE = /enter the code ([A-Z0-9]{9}) to authenticate/;
const azCli = currentAzureCli();

describe('the current Azure CLI running documents 000 and 002 against Kentra', { skip: azCli.skip, timeout: 300_000 }, () => {
  let k: TestKentra;
  let az: Az;
  let setup: CurrentAzKentra;
  let groupA: string;
  let groupB: string;
  let tools: ReturnType<typeof processRunner>;
  let shellEnv: NodeJS.ProcessEnv;
  const rg = 'myResourceGroup';
  const aadProfile = (groups: string[]) => ({
    adminGroupObjectIDs: groups,
    clientAppId: null,
    enableAzureRbac: false,
    managed: true,
    serverAppId: null,
    serverAppSecret: null,
    tenantId: k.endpoints.tenantId,
  });
  /** kubectl with a kubeconfig; a device-code prompt from kubelogin is completed as the admin, who is in the admin group. */
  const kubectl = async (kubeconfig: string, ...args: string[]) => {
    const { admin, authority, caFile } = k.endpoints;
    let signIn: Promise<string> | undefined;
    const r = await tools.run('kubectl', ['--kubeconfig', kubeconfig, ...args], {}, (stderr) => {
      const code = DEVICE_CODE.exec(stderr)?.[1];
      if (code && !signIn) signIn = completeDeviceLogin(authority, caFile, code, admin.userPrincipalName, admin.password);
    });
    if (signIn) await signIn;
    return { ...r, signedIn: !!signIn };
  };

  before(async () => {
    setup = await startKentraWithCurrentAz({ extraArgs: ['--provisioning-delay', '300'] });
    ({ k, az } = setup);
    const { env, binDir } = kentraEnv(k.endpoints);
    shellEnv = { ...env, PATH: `${binDir}:${machinePath()}`, HOME: az.env.HOME };
    tools = processRunner(() => shellEnv);
    const { servicePrincipal: sp, tenantId, admin } = k.endpoints;
    await az.json('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
    groupA = await az.tsv(
      'ad',
      'group',
      'create',
      '--display-name',
      'myAKSAdminGroup',
      '--mail-nickname',
      'myAKSAdminGroup',
      '--query',
      'id',
    );
    groupB = await az.tsv('ad', 'group', 'create', '--display-name', 'secondAdmins', '--mail-nickname', 'secondAdmins', '--query', 'id');
    await az.run('ad', 'group', 'member', 'add', '--group', groupA, '--member-id', admin.objectId);
  });
  after(async () => setup?.close());

  it('document 000: group create, aks create with an admin group, get-credentials, kubectl get nodes; break-glass --admin', async () => {
    assert.equal((await az.json('group', 'create', '--name', rg, '--location', 'centralus')).properties.provisioningState, 'Succeeded');
    const cluster = await az.json(
      'aks',
      'create',
      '-g',
      rg,
      '-n',
      'myManagedCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupA,
      '--aad-tenant-id',
      k.endpoints.tenantId,
      '--generate-ssh-keys',
    );
    assert.equal(cluster.provisioningState, 'Succeeded', 'az waited for the long-running operation');
    assert.deepEqual(cluster.aadProfile, aadProfile([groupA]));

    const file = join(az.env.HOME!, 'kubeconfig');
    const merged = await az.run('aks', 'get-credentials', '--resource-group', rg, '--name', 'myManagedCluster', '--file', file);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, new RegExp(`Merged "myManagedCluster" as current context in ${file}`));
    const exec = parse(readFileSync(file, 'utf8')).users[0].user.exec;
    assert.equal(exec.command, 'kubelogin');
    assert.deepEqual(exec.args.slice(-3), ['--authority-host', `${k.endpoints.authority}/`, '--disable-instance-discovery']);
    const nodes = await kubectl(file, 'get', 'nodes');
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.ok(nodes.signedIn, 'kubelogin asked for a device-code sign-in');
    assert.match(nodes.stdout, NODES);

    const admin = await az.run('aks', 'get-credentials', '--resource-group', rg, '--name', 'myManagedCluster', '--admin', '--file', file);
    assert.match(admin.stderr, /Merged "myManagedCluster-admin" as current context/);
    const adminNodes = await kubectl(file, 'get', 'nodes');
    assert.equal(adminNodes.code, 0, adminNodes.stderr);
    assert.equal(adminNodes.signedIn, false, 'the local admin credential needs no sign-in');
    assert.match(adminNodes.stdout, NODES);
  });

  it('document 000: change the admin groups; show, list; --enable-aad twice is refused by az', async () => {
    const updated = await az.json(
      'aks',
      'update',
      '-g',
      rg,
      '-n',
      'myManagedCluster',
      '--aad-admin-group-object-ids',
      `${groupA},${groupB}`,
      '--query',
      'aadProfile',
    );
    assert.deepEqual(updated, aadProfile([groupA, groupB]));
    assert.deepEqual(await az.json('aks', 'show', '-g', rg, '-n', 'myManagedCluster', '--query', 'aadProfile'), updated);
    assert.deepEqual(await az.json('aks', 'list', '--query', '[].name'), ['myManagedCluster']);
    const again = await az.run('aks', 'update', '-g', rg, '-n', 'myManagedCluster', '--enable-aad');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /Cannot specify "--enable-aad" if managed AAD is already enabled/);
  });

  it("document 002: kubelogin convert-kubeconfig -l azurecli, then kubectl get nodes with the current az's sign-in", async () => {
    const { servicePrincipal: sp } = k.endpoints;
    await az.run('ad', 'group', 'member', 'add', '--group', groupA, '--member-id', sp.objectId);
    const file = join(az.env.HOME!, 'kubeconfig-azurecli');
    assert.equal((await az.run('aks', 'get-credentials', '--resource-group', rg, '--name', 'myManagedCluster', '--file', file)).code, 0);
    const converted = await tools.run('kubelogin', ['convert-kubeconfig', '-l', 'azurecli'], { KUBECONFIG: file });
    assert.equal(converted.code, 0, converted.stderr);
    const args = parse(readFileSync(file, 'utf8')).users[0].user.exec.args as string[];
    assert.equal(args[args.indexOf('--login') + 1], 'azurecli');
    // kubelogin runs `az account get-access-token` from PATH: the current az, in the configuration the service principal
    // signed in to (with its telemetry off, as everywhere here: else az posts to dc.services.visualstudio.com).
    const azOnPath = mkdtempSync(join(az.env.HOME!, 'az-bin-'));
    symlinkSync(az.bin, join(azOnPath, 'az'));
    const azEnv = { ...az.env, PATH: `${azOnPath}:${shellEnv.PATH}` };
    const nodes = await tools.run('kubectl', ['--kubeconfig', file, 'get', 'nodes'], azEnv);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, NODES);
  });

  it('document 002: enable the integration on an existing cluster; --format azure, kubectl refuses, kubelogin convert-kubeconfig, kubectl get nodes', async () => {
    const plain = await az.json('aks', 'create', '--resource-group', rg, '--name', 'existingCluster', '--generate-ssh-keys');
    assert.equal(plain.aadProfile, null);
    const enabled = await az.json(
      'aks',
      'update',
      '--resource-group',
      rg,
      '--name',
      'existingCluster',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      `${groupA},${groupB}`,
      '--aad-tenant-id',
      k.endpoints.tenantId,
      '--query',
      'aadProfile',
    );
    assert.deepEqual(enabled, aadProfile([groupA, groupB]));

    const file = join(az.env.HOME!, 'kubeconfig-azure');
    const written = await az.run(
      'aks',
      'get-credentials',
      '--resource-group',
      rg,
      '--name',
      'existingCluster',
      '--format',
      'azure',
      '--file',
      file,
    );
    assert.equal(written.code, 0, written.stderr);
    assert.equal(parse(readFileSync(file, 'utf8')).users[0].user['auth-provider'].name, 'azure');
    const refused = await kubectl(file, 'get', 'nodes');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /The azure auth plugin has been removed\./i);
    const converted = await tools.run('kubelogin', ['convert-kubeconfig'], { KUBECONFIG: file });
    assert.equal(converted.code, 0, converted.stderr);
    const nodes = await kubectl(file, 'get', 'nodes');
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, NODES);
  });

  it('deletes a cluster; show then answers ResourceNotFound (exit 3)', async () => {
    const deleted = await az.run('aks', 'delete', '-g', rg, '-n', 'existingCluster', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    const gone = await az.run('aks', 'show', '-g', rg, '-n', 'existingCluster');
    assert.equal(gone.code, 3);
    assert.match(gone.stderr, /\(ResourceNotFound\)/);
    assert.deepEqual(await az.json('aks', 'list', '--query', '[].name'), ['myManagedCluster']);
  });

  it('sent nothing anywhere but Kentra (but its version check on a fresh config directory)', () => {
    assert.deepEqual(
      setup.proxy.refused.filter((r) => r !== AZ_VERSION_CHECK),
      [],
    );
  });
});
