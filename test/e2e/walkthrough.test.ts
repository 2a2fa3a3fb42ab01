import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { machinePath, UserShell, type SignIn } from '../support/user-shell.js';

// The README's walkthrough, run as written (issue 13). Every shell block of README.md marked
// `<!-- walkthrough step=NAME [sign-in=admin|UPN:PASSWORD] -->` runs, in order, in one bash that
// keeps its variables from block to block, as a user's second terminal does. The shell starts with
// HOME set to a temporary folder, the machine's PATH without kentra or kubelogin, and the checkout
// as its working folder; nothing else comes from the test.
//
// Step 1 of the walkthrough (`npm ci && npm start` in a first terminal) is replaced by the test's
// own `kentra up`: the same command npm start runs, but on a free port, with its data directory at
// $HOME/.kentra, which is where `npm start` puts it for that HOME, so `kentra env` and `kentra login`
// find it by themselves. A device code that a block prints is completed on the device-login page
// as the block's sign-in user, the way a person does it in a browser.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

interface Step {
  name: string;
  signIn?: string;
  script: string;
}

/** The walkthrough's blocks, in the order the README gives them. */
function walkthroughSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  for (const m of markdown.matchAll(/^<!-- walkthrough ([^>]*?) -->\n```sh\n([\s\S]*?)^```$/gm)) {
    const attrs = Object.fromEntries(m[1]!.split(/\s+/).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
    steps.push({ name: attrs.step!, signIn: attrs['sign-in'], script: m[2]! });
  }
  return steps;
}

/** The README's lines between a step's block and the next heading: what it shows the user will see. */
function shownAfter(markdown: string, step: string): string {
  const at = markdown.indexOf(`<!-- walkthrough step=${step}`);
  const rest = markdown.slice(at);
  return rest.slice(0, rest.indexOf('\n### ') === -1 ? undefined : rest.indexOf('\n### '));
}

describe('the README walkthrough, run as written', { timeout: 120_000 }, () => {
  const steps = walkthroughSteps(readme);
  const step = (name: string) => {
    const s = steps.find((x) => x.name === name);
    assert.ok(s, `the README has a walkthrough block step=${name}`);
    return s;
  };
  let home: string;
  let k: TestKentra;
  let shell: UserShell;
  const signInAs = (spec: string | undefined): SignIn | undefined => {
    if (!spec) return undefined;
    if (spec === 'admin') return { username: k.endpoints.admin.userPrincipalName, password: k.endpoints.admin.password };
    const colon = spec.indexOf(':');
    return { username: spec.slice(0, colon), password: spec.slice(colon + 1) };
  };
  const runStep = (name: string) => {
    const s = step(name);
    return shell.run(s.script, signInAs(s.signIn));
  };

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'kentra-walkthrough-'));
    k = await startTestKentra({ dataDir: join(home, '.kentra') });
    shell = new UserShell({
      cwd: root,
      env: { PATH: machinePath(), HOME: home, LANG: 'C.UTF-8' },
      authority: k.endpoints.authority,
      caFile: k.endpoints.caFile,
    });
  });
  after(async () => {
    await shell?.close();
    await k?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('the README: a walkthrough first, under 250 lines, npm start with --seed, its steps in order', () => {
    assert.ok(readme.split('\n').length <= 250, `README.md has ${readme.split('\n').length} lines`);
    assert.equal(readme.indexOf('\n## '), readme.indexOf('\n## Walkthrough'), 'the walkthrough is the first section');
    assert.match(readme, /^npm ci && npm start$/m);
    assert.match(readme, /`npm start -- --seed examples\/seed\.yaml`/);
    assert.doesNotMatch(readme, /Parts that are not built yet|## Status/, 'the stale Status lines are gone');
    assert.deepEqual(
      steps.map((s) => s.name),
      ['login', 'setup', 'admin', 'refused', 'check-access'],
    );
  });

  it('step 2: eval "$(kentra env)" and kentra login (device code, as the admin)', async () => {
    const r = await runStep('login');
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.equal(r.signIns, 1, 'kentra login asked for a device-code sign-in');
    assert.match(
      r.stderr,
      new RegExp(
        `To sign in, use a web browser to open the page ${k.endpoints.authority}/devicelogin and enter the code [A-Z0-9]{9} to authenticate`,
      ),
    );
    const accounts = JSON.parse(r.stdout);
    assert.equal(accounts[0].id, k.endpoints.subscriptionId);
    assert.equal(accounts[0].user.name, k.endpoints.admin.userPrincipalName);
    const which = await shell.run('command -v kentra kubelogin');
    assert.match(which.stdout, /\/kentra\n.*\/kubelogin\n$/, 'kentra env put kentra and kubelogin on PATH');
  });

  it('step 3: a group, two users, aks create --enable-aad, get-credentials', async () => {
    const r = await runStep('setup');
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.doesNotMatch(r.stderr, /ERROR/);
    assert.equal(r.stdout, 'Succeeded\n');
    assert.match(r.stderr, /^WARNING: SSH key files .* have been generated under ~\/\.ssh/m);
    assert.match(r.stderr, new RegExp(`Merged "myAKSCluster" as current context in ${home}/\\.kube/config`));
    const user = parse(readFileSync(join(home, '.kube', 'config'), 'utf8')).users.find(
      (u: any) => u.name === 'clusterUser_myResourceGroup_myAKSCluster',
    ).user;
    assert.equal(user.exec.command, 'kubelogin');
    assert.equal(user.exec.args[0], 'get-token');
    assert.equal(
      user.exec.args[user.exec.args.indexOf('--login') + 1],
      'devicecode',
      `the kubeconfig runs kubelogin with device code: ${user.exec.args.join(' ')}`,
    );
  });

  it('step 4: kubectl get nodes as Alice, a member of the admin group', async () => {
    const r = await runStep('admin');
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.equal(r.signIns, 1, 'kubelogin asked for a device-code sign-in');
    assert.match(
      r.stdout,
      /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n(aks-nodepool1-\d+-vmss\d{6}\s+Ready\s+<none>\s+\S+\s+v1\.\d+\.\d+\n)+$/,
    );
  });

  it('step 5: kubectl get pods as Bob is Forbidden, in the words the README shows', async () => {
    const r = await runStep('refused');
    assert.equal(r.code, 1, `${r.stderr}${r.stdout}`);
    assert.equal(r.signIns, 1, 'after remove-cache-dir kubelogin asked for a new sign-in');
    const forbidden =
      'Error from server (Forbidden): pods is forbidden: User "bob@kentra.onmicrosoft.com" cannot list resource "pods" in API group "" in the namespace "default"';
    assert.equal(
      r.stderr
        .split('\n')
        .filter((l) => !/To sign in/.test(l) && l)
        .join('\n'),
      forbidden,
    );
    assert.ok(shownAfter(readme, 'refused').includes(forbidden), 'the README shows that line');
  });

  it('step 6: check-access names the reason for Bob and the binding for Alice', async () => {
    const r = await runStep('check-access');
    assert.equal(r.code, 0, `Alice's check, the block's last command, is allowed: ${r.stderr}${r.stdout}`);
    const [bob, alice] = r.stdout.split(/^(?=Access check on cluster )/m);
    assert.match(bob!, /^Access check on cluster myAKSCluster \(resource group myResourceGroup\): list pods in namespace "default"\n/);
    assert.match(bob!, /user 'bob@kentra\.onmicrosoft\.com' from the directory/);
    assert.match(bob!, /no RoleBinding or ClusterRoleBinding matched: none grants list on pods to the user or any of its groups/);
    assert.match(bob!, /allowed: no\n$/);
    const shown = /For Bob it ends with:\n\n```\n([\s\S]*?)```/.exec(shownAfter(readme, 'check-access'))![1]!;
    assert.ok(bob!.endsWith(shown), `the README's excerpt is the end of what Bob's check prints:\n${bob}`);
    const group = JSON.parse((await shell.run('kentra ad group show --group myAKSAdminGroup --query id -o json')).stdout);
    assert.match(
      alice!,
      new RegExp(
        `RBAC: allowed by ClusterRoleBinding "aks-cluster-admin-binding-aad" of ClusterRole "cluster-admin" to Group "${group}"\nallowed: yes\n$`,
      ),
    );
  });
});
