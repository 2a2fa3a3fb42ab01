import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// `kentra aks check-access`: the support questions "You must be logged in to the server" and
// "Forbidden" answered step by step by the real CLI, against a running Kentra, with the cluster API's chains.

const ALICE = '88888888-0000-4000-8000-000000000001';
const BOB = '88888888-0000-4000-8000-000000000002';
const ADMINS = '88888888-0000-4000-8000-0000000000a1';
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: alice@kentra.onmicrosoft.com, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: bob@kentra.onmicrosoft.com, password: 'Bob-Passw0rd!', id: ${BOB} }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [${ALICE}] }
`;
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';

describe('kentra aks check-access', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  const check = (...args: string[]) => cli.run(['aks', 'check-access', '-g', 'rg1', '-n', 'c1', ...args]);

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '100'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-check-access-'));
    env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
    await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    await cli.json('group', 'create', '--name', 'rg1', '--location', 'westeurope');
    await cli.json(
      'aks',
      'create',
      '-g',
      'rg1',
      '-n',
      'c1',
      '--enable-aad',
      '--aad-admin-group-object-ids',
      ADMINS,
      '--aad-tenant-id',
      k.endpoints.tenantId,
    );
  });
  after(async () => {
    await k?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--user of an admin-group member: allowed by the AKS admin-group binding, groups from the directory', async () => {
    const r = await check('--user', 'alice@kentra.onmicrosoft.com', '--verb', 'list', '--resource', 'pods', '--namespace', 'default');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^1\. Identity: user 'alice@kentra\.onmicrosoft\.com' from the directory/m);
    assert.match(r.stdout, /username: alice@kentra\.onmicrosoft\.com \(the user principal name/);
    assert.match(r.stdout, /^2\. Groups from the directory \(what a token would carry, or overage resolution\): 1$/m);
    assert.match(r.stdout, new RegExp(`${ADMINS} \\(aks-admins\\)`));
    assert.match(r.stdout, /Authorizer system:masters: no-opinion/);
    assert.match(r.stdout, /Authorizer RBAC: allow\n\s+RBAC: allowed by ClusterRoleBinding "aks-cluster-admin-binding-aad"/);
    assert.match(r.stdout, /\nallowed: yes\n$/);

    const json = await cli.run([
      'aks',
      'check-access',
      '-g',
      'rg1',
      '-n',
      'c1',
      '--user',
      ALICE,
      '--verb',
      'delete',
      '--resource',
      'deployments.apps',
      '--namespace',
      'dev',
      '-o',
      'json',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(body.allowed, true);
    assert.equal(body.identity.source, 'directory');
    assert.equal(body.identity.groupsSource, 'directory');
    assert.deepEqual(body.identity.user, { username: 'alice@kentra.onmicrosoft.com', uid: '', groups: [ADMINS], extra: { oid: [ALICE] } });
    assert.deepEqual(body.request, {
      verb: 'delete',
      resource: 'deployments',
      apiGroup: 'apps',
      namespace: 'dev',
      description: 'delete deployments in API group "apps" in namespace "dev"',
    });
    assert.equal(body.authorization.steps.at(-1).name, 'RBAC');
    assert.match(body.authorization.reason, /ClusterRoleBinding "aks-cluster-admin-binding-aad"/);
  });

  it('--user of a non-member: not allowed, exit 1, no binding matched, what kubectl would say', async () => {
    const r = await check('--user', 'bob@kentra.onmicrosoft.com', '--verb', 'list', '--resource', 'pods', '--namespace', 'default');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /Groups from the directory \(what a token would carry, or overage resolution\): 0/);
    assert.match(r.stdout, /Authorizer RBAC: no-opinion\n\s+no RoleBinding or ClusterRoleBinding matched/);
    assert.match(
      r.stdout,
      /kubectl would say: Error from server \(Forbidden\): pods is forbidden: User "bob@kentra\.onmicrosoft\.com" cannot list resource "pods" in API group "" in the namespace "default"/,
    );
    assert.match(r.stdout, /\nallowed: no\n$/);
    const metrics = await check('--user', 'bob@kentra.onmicrosoft.com', '--verb', 'get', '--path', '/metrics', '-o', 'json');
    assert.equal(metrics.code, 1);
    assert.deepEqual(JSON.parse(metrics.stdout).request, {
      verb: 'get',
      path: '/metrics',
      description: 'get /metrics (a non-resource request)',
    });
  });

  it('--token: a wrong-audience (ARM) token fails the audience check and stops; a cluster token is allowed with its groups claim', async () => {
    const armToken = (await cli.json('account', 'get-access-token')).accessToken as string;
    const file = join(dir, 'arm-token.txt');
    writeFileSync(file, `${armToken}\n`);
    const r = await check('--token', file, '--verb', 'get', '--resource', 'pods', '--namespace', 'default');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^1\. Token: refused \(the audience check failed\)$/m);
    assert.match(r.stdout, /issuer: passed/);
    assert.match(
      r.stdout,
      /audience: failed — failed to verify token for azure: oidc: expected audience "6dae42f8-4368-4678-94ff-3960e28e3630"/,
    );
    assert.match(r.stdout, /kubectl would say: error: You must be logged in to the server \(Unauthorized\)/);
    assert.doesNotMatch(r.stdout, /Authorizer/, 'an unauthenticated request reaches no authorizer');
    assert.ok(!r.stdout.includes(armToken) && !r.stderr.includes(armToken), 'the token is never echoed');
    assert.match(r.stdout, /\nallowed: no\n$/);
    const json = JSON.parse((await check('--token', file, '--verb', 'get', '--resource', 'pods', '-o', 'json')).stdout);
    assert.equal(json.authenticated, false);
    assert.deepEqual(json.identity.checks.find((c: any) => c.result === 'failed').check, 'audience');
    assert.ok(!JSON.stringify(json).includes(armToken));

    const clusterToken = (await cli.json('account', 'get-access-token', '--resource', AKS_SERVER)).accessToken as string;
    writeFileSync(file, clusterToken);
    const admin = await check('--token', file, '--verb', 'get', '--resource', 'nodes');
    // The Kentra admin is in no group: authenticated, then forbidden.
    assert.equal(admin.code, 1, admin.stderr);
    assert.match(admin.stdout, /^1\. Token: accepted \(a Microsoft Entra ID token, checked as Guard does\)$/m);
    assert.match(admin.stdout, /audience: passed/);
    assert.match(admin.stdout, /Authorizer RBAC: no-opinion/);

    // alice's own token for the cluster: her groups come from the token's groups claim.
    const home = mkdtempSync(join(tmpdir(), 'kentra-check-access-alice-'));
    try {
      const alice = kentraCli(() => ({
        PATH: process.env.PATH,
        HOME: home,
        KENTRA_CONFIG_DIR: join(home, 'config'),
        KENTRA_DATA_DIR: k.dataDir,
      }));
      await alice.json('login', '-u', 'alice@kentra.onmicrosoft.com', '-p', 'Alice-Passw0rd!');
      writeFileSync(file, (await alice.json('account', 'get-access-token', '--resource', AKS_SERVER)).accessToken);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    const allowed = await check('--token', file, '--verb', 'get', '--resource', 'nodes');
    assert.equal(allowed.code, 0, allowed.stdout);
    assert.match(allowed.stdout, /Groups: groups from the token's `groups` claim: 1/);
    assert.match(allowed.stdout, /RBAC: allowed by ClusterRoleBinding "aks-cluster-admin-binding-aad"/);
  });

  it('bad input and an unknown cluster: exit 2 with ERROR', async () => {
    const unknown = await cli.run([
      'aks',
      'check-access',
      '-g',
      'rg1',
      '-n',
      'nope',
      '--user',
      ALICE,
      '--verb',
      'get',
      '--resource',
      'pods',
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^ERROR: \(ResourceNotFound\)/m);
    const both = await check('--user', ALICE, '--token', 'x', '--verb', 'get', '--resource', 'pods');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^ERROR: usage error/);
    const noUser = await check('--user', 'nobody@kentra.onmicrosoft.com', '--verb', 'get', '--resource', 'pods');
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /^ERROR: \(InvalidParameter\) No user or service principal 'nobody@kentra\.onmicrosoft\.com'/);
    const badPath = await check('--user', ALICE, '--verb', 'get', '--path', 'metrics');
    assert.equal(badPath.code, 2);
    assert.match(badPath.stderr, /^ERROR: \(InvalidRequestContent\)/);
  });

  it('a Reader of the subscription may not ask: ARM AuthorizationFailed', async () => {
    await cli.json(
      'role',
      'assignment',
      'create',
      '--assignee',
      'bob@kentra.onmicrosoft.com',
      '--role',
      'Reader',
      '--scope',
      `/subscriptions/${k.endpoints.subscriptionId}`,
    );
    const home = mkdtempSync(join(tmpdir(), 'kentra-check-access-bob-'));
    try {
      const bob = kentraCli(() => ({
        PATH: process.env.PATH,
        HOME: home,
        KENTRA_CONFIG_DIR: join(home, 'config'),
        KENTRA_DATA_DIR: k.dataDir,
      }));
      await bob.json('login', '-u', 'bob@kentra.onmicrosoft.com', '-p', 'Bob-Passw0rd!');
      assert.equal((await bob.json('aks', 'show', '-g', 'rg1', '-n', 'c1')).name, 'c1', 'a Reader sees the cluster');
      const refused = await bob.run([
        'aks',
        'check-access',
        '-g',
        'rg1',
        '-n',
        'c1',
        '--user',
        ALICE,
        '--verb',
        'get',
        '--resource',
        'pods',
      ]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^ERROR: \(AuthorizationFailed\)/m);
      assert.match(refused.stderr, /Microsoft\.ContainerService\/managedClusters\/checkAccess\/action/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
