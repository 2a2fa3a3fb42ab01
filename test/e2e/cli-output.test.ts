import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kentraCli } from '../support/kentra-cli.js';
import { pageText, startTestKentra, type TestKentra } from '../support/kentra.js';
import { hiddenField, postForm } from '../support/http.js';

// Issue 13, "Wrong output": what a user types and sees, with the real `kentra` CLI and the real kubectl,
// compared with what az and AKS print.

describe('kentra CLI output as az and AKS print it (issue 13)', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  let upn: string;
  let userId: string;

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-cli-output-'));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      KENTRA_CONFIG_DIR: join(dir, 'config'),
      KENTRA_DATA_DIR: k.dataDir,
      KUBECONFIG: join(dir, 'kube', 'config'),
    };
    upn = k.endpoints.admin.userPrincipalName;
    await cli.json('login', '-u', upn, '-p', k.endpoints.admin.password);
    userId = (await cli.ok('ad', 'signed-in-user', 'show', '--query', 'id', '-o', 'tsv')).trim();
    await cli.json('group', 'create', '--name', 'rgOut', '--location', 'westeurope');
    await cli.json('aks', 'create', '-g', 'rgOut', '-n', 'out1', '--kubernetes-version', '1.30.5');
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("role assignment list/create print az's flattened shape; -o table shows Principal, Role, Scope", async () => {
    const scope = `/subscriptions/${k.endpoints.subscriptionId}/resourceGroups/rgOut`;
    const created = await cli.json('role', 'assignment', 'create', '--role', 'Reader', '--assignee', upn, '--scope', scope);
    assert.equal(created.principalId, userId);
    assert.equal(created.principalType, 'User');
    assert.equal(created.scope, scope);
    assert.match(created.roleDefinitionId, /\/providers\/Microsoft\.Authorization\/roleDefinitions\/acdd72a7-3385-48ef-bd42-f606fba81ae7$/);
    assert.equal(created.type, 'Microsoft.Authorization/roleAssignments');
    assert.equal(created.resourceGroup, 'rgOut');
    assert.equal(created.properties, undefined, 'no nested ARM properties');
    const roleDefinitionId = (
      await cli.ok(
        'role',
        'assignment',
        'create',
        '--role',
        'Contributor',
        '--assignee',
        upn,
        '--scope',
        scope,
        '--query',
        'roleDefinitionId',
        '-o',
        'tsv',
      )
    ).trim();
    assert.match(roleDefinitionId, /\/roleDefinitions\/b24988ac-6180-42a0-ab88-20f7382dd24c$/);

    const list = await cli.json('role', 'assignment', 'list', '--assignee', upn, '--scope', scope);
    const mine = list.find((x: any) => x.name === created.name);
    assert.ok(mine, JSON.stringify(list));
    assert.equal(mine.principalName, upn);
    assert.equal(mine.principalType, 'User');
    assert.equal(mine.roleDefinitionName, 'Reader');
    assert.equal(mine.scope, scope);
    assert.equal(mine.id, created.id);
    assert.equal(mine.principalId, userId);
    assert.equal(mine.roleDefinitionId, created.roleDefinitionId);
    assert.equal(mine.properties, undefined);
    const names = (
      await cli.ok('role', 'assignment', 'list', '--assignee', upn, '--scope', scope, '--query', '[].roleDefinitionName', '-o', 'tsv')
    )
      .trim()
      .split('\n');
    assert.deepEqual(names.sort(), ['Contributor', 'Reader']);

    const table = (await cli.ok('role', 'assignment', 'list', '--assignee', upn, '--scope', scope, '-o', 'table')).split('\n');
    assert.match(table[0]!, /^Principal\s+Role\s+Scope$/);
    const row = (role: string) => new RegExp(`^${upn.replace(/[.]/g, '\\.')}\\s+${role}\\s+${scope}$`);
    assert.ok(table.some((l) => row('Reader').test(l)) && table.some((l) => row('Contributor').test(l)), table.join('\n'));
  });

  it("role definition list prints az's flattened shape; -o table shows Name, Type, Description", async () => {
    const [reader] = await cli.json('role', 'definition', 'list', '--name', 'Reader');
    assert.equal(reader.properties, undefined, 'no nested ARM properties');
    assert.deepEqual(Object.keys(reader), [
      'assignableScopes',
      'createdBy',
      'createdOn',
      'description',
      'id',
      'name',
      'permissions',
      'roleName',
      'roleType',
      'type',
      'updatedBy',
      'updatedOn',
    ]);
    assert.equal(reader.roleName, 'Reader');
    assert.equal(reader.roleType, 'BuiltInRole');
    assert.equal(reader.type, 'Microsoft.Authorization/roleDefinitions');
    assert.equal(reader.name, 'acdd72a7-3385-48ef-bd42-f606fba81ae7');
    assert.equal(
      reader.id,
      `/subscriptions/${k.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`,
    );
    assert.deepEqual(reader.assignableScopes, ['/']);
    assert.deepEqual(reader.permissions, [
      { actions: ['*/read'], condition: null, conditionVersion: null, dataActions: [], notActions: [], notDataActions: [] },
    ]);
    // What users pipe: `--query "[].roleName"` over the whole list, as with az.
    const names = (await cli.ok('role', 'definition', 'list', '--query', '[].roleName', '-o', 'tsv')).trim().split('\n');
    assert.ok(names.includes('Azure Kubernetes Service RBAC Cluster Admin') && names.includes('Owner'), names.join(','));
    const table = (await cli.ok('role', 'definition', 'list', '--name', 'Reader', '-o', 'table')).split('\n');
    assert.match(table[0]!, /^Name\s+Type\s+Description$/);
    assert.match(table[2]!, /^Reader\s+Microsoft\.Authorization\/roleDefinitions\s+View all resources/);
  });

  it("aks list / aks show -o table print az's 7 columns", async () => {
    const header = /^Name\s+Location\s+ResourceGroup\s+KubernetesVersion\s+CurrentKubernetesVersion\s+ProvisioningState\s+Fqdn$/;
    for (const args of [
      ['aks', 'list'],
      ['aks', 'show', '-g', 'rgOut', '-n', 'out1'],
    ]) {
      const lines = (await cli.ok(...args, '-o', 'table')).trimEnd().split('\n');
      assert.match(lines[0]!, header, `${args.join(' ')}: ${lines[0]}`);
      assert.match(lines[2]!, /^out1\s+westeurope\s+rgOut\s+1\.30\.5\s+1\.30\.5\s+Succeeded\s+\S+\.azmk8s\.io$/, lines[2]);
      assert.equal(lines.length, 3);
    }
    const queried = (await cli.ok('aks', 'list', '--query', '[].{n:name}', '-o', 'table')).split('\n');
    assert.equal(queried[0]!.trim(), 'N', 'with --query the table transformer is not applied, as in az');
  });

  it('kentra env --json and the start banner name the same graphEndpoint, the Graph resource URL with its trailing slash', async () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist/src/cli/bin.cjs'), 'env', '--json'], {
      env: { ...env, KENTRA_DATA_DIR: k.dataDir },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const graphEndpoint = JSON.parse(r.stdout).graphEndpoint as string;
    assert.equal(graphEndpoint, `${k.endpoints.authority}/`);
    const banner = /^\s*Graph\s+(\S+)$/m.exec(k.stdout())?.[1];
    assert.equal(banner, graphEndpoint, k.stdout());
  });

  it('the device-code sign-in page names the application, escaped', async () => {
    const appId = (
      await cli.ok(
        'ad',
        'app',
        'create',
        '--display-name',
        'Ops <script>alert(1)</script> tool',
        '--is-fallback-public-client',
        'true',
        '--query',
        'appId',
        '-o',
        'tsv',
      )
    ).trim();
    const dc = await postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/devicecode`,
      { client_id: appId, scope: 'openid profile' },
      k.endpoints.caFile,
    );
    assert.equal(dc.status, 200, dc.text);
    const userCode = JSON.parse(dc.text).user_code as string;
    const signIn = await postForm(`${k.endpoints.authority}/devicelogin`, { user_code: userCode }, k.endpoints.caFile);
    assert.equal(signIn.status, 200);
    assert.ok(!signIn.text.includes('<script>alert(1)'), 'the name is escaped');
    assert.ok(signIn.text.includes('Ops &lt;script&gt;alert(1)&lt;/script&gt; tool'));
    const text = pageText(signIn.text);
    assert.match(text, /Sign in to Ops &lt;script&gt;alert\(1\)&lt;\/script&gt; tool/);
    assert.match(text, /You&#39;re signing in to Ops &lt;script&gt;alert\(1\)&lt;\/script&gt; tool on another device/);
    // A wrong password shows the same page again, still naming the application.
    const again = await postForm(
      `${k.endpoints.authority}/devicelogin/signin`,
      { state: hiddenField(signIn.text, 'state')!, username: upn, password: 'wrong-password' },
      k.endpoints.caFile,
    );
    assert.equal(again.status, 400);
    assert.match(pageText(again.text), /You&#39;re signing in to Ops &lt;script&gt;alert\(1\)&lt;\/script&gt; tool on another device/);
    assert.ok(!again.text.includes('<script>alert(1)'));
  });

  it('kubectl logs, create deployment and top nodes against the built-in cluster API say what it does not serve', async () => {
    const got = await cli.run(['aks', 'get-credentials', '-g', 'rgOut', '-n', 'out1', '--admin']);
    assert.equal(got.code, 0, got.stderr);
    const kubectl = (...args: string[]) => spawnSync('kubectl', args, { env, encoding: 'utf8', timeout: 60_000 });
    const pods = kubectl('get', 'pods', '-n', 'kube-system', '-o', 'name');
    assert.equal(pods.status, 0, pods.stderr);
    const pod = pods.stdout.split('\n').find((p) => p.includes('coredns-'))!;
    const logs = kubectl('logs', '-n', 'kube-system', pod);
    assert.notEqual(logs.status, 0);
    assert.match(
      logs.stderr,
      /the built-in cluster API of Kentra does not serve pods\/log: run a real kube-apiserver with kentra up --kube-apiserver/,
      logs.stderr,
    );
    const deploy = kubectl('create', 'deployment', 'web', '--image', 'nginx');
    assert.notEqual(deploy.status, 0);
    assert.match(
      deploy.stderr,
      /the built-in cluster API of Kentra does not serve deployments\.apps: run a real kube-apiserver with kentra up --kube-apiserver/,
      deploy.stderr,
    );
    // No metrics API, so no metrics-server listed as Running either.
    const top = kubectl('top', 'nodes');
    assert.notEqual(top.status, 0);
    assert.match(top.stderr, /Metrics API not available/);
    assert.ok(!pods.stdout.includes('metrics-server'), pods.stdout);
  });
  // Last: it adds a second cluster, which the 7-column test above does not expect.
  it("get-credentials names every missing argument and refuses a merge in az's words", async () => {
    const bare = await cli.run(['aks', 'get-credentials', '--format', 'azure']);
    assert.equal(bare.code, 2);
    assert.equal(bare.stderr.split('\n')[0], 'ERROR: the following arguments are required: --resource-group/-g, --name/-n');
    const noName = await cli.run(['aks', 'get-credentials', '-g', 'rgOut']);
    assert.equal(noName.code, 2);
    assert.equal(noName.stderr.split('\n')[0], 'ERROR: the following arguments are required: --name/-n');
    // The exec-format user is in the file; the azure-format one differs: with no TTY, az refuses and names the section.
    const groupId = (
      await cli.ok('ad', 'group', 'create', '--display-name', 'outAdmins', '--mail-nickname', 'outAdmins', '--query', 'id', '-o', 'tsv')
    ).trim();
    await cli.json(
      'aks',
      'create',
      '-g',
      'rgOut',
      '-n',
      'aad1',
      '--kubernetes-version',
      '1.30.5',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      groupId,
    );
    const file = join(dir, 'merge', 'config');
    const first = await cli.run(['aks', 'get-credentials', '-g', 'rgOut', '-n', 'aad1', '-f', file]);
    assert.equal(first.code, 0, first.stderr);
    const merge = await cli.run(['aks', 'get-credentials', '-g', 'rgOut', '-n', 'aad1', '-f', file, '--format', 'azure']);
    assert.equal(merge.code, 1);
    assert.equal(merge.stderr, 'ERROR: A different object named clusterUser_rgOut_aad1 already exists in users in your kubeconfig file.\n');
  });
});
