import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { completeDeviceLogin, KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import type { Run } from '../support/kentra-cli.js';

// Source documents 000 and 001 as written (with `kentra` for `az`), including their kubectl steps, run
// in a shell readied by `eval "$(kentra env)"` with the real kubectl and the kubeconfig the document's
// own command wrote. Documents 002 and 004 are in newcomer.test.ts; 003's control-plane steps in
// cli-aks.test.ts.

describe('source documents 000 and 001, kubectl steps included', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let baseEnv: NodeJS.ProcessEnv;
  const machinePath = () => (process.env.PATH ?? '').split(':').filter((p) => p && !existsSync(join(p, 'kubelogin')) && !existsSync(join(p, 'kentra'))).join(':');

  /** A bash script after `eval "$(kentra env)"`; a device-code prompt is completed as `who`. */
  const shell = (script: string, who?: { user: string; password: string }): Promise<Run & { signedIn: boolean }> => new Promise((resolveRun) => {
    const child = spawn('bash', ['-c', `set -e\neval "$("${process.execPath}" "${KENTRA_BIN}" env)"\n${script}`], { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signIn: Promise<string> | undefined;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /enter the code ([A-Z0-9]{9}) to authenticate/.exec(stderr);
      if (m && !signIn && who) signIn = completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, m[1]!, who.user, who.password);
    });
    child.on('close', async (code) => {
      if (signIn) await signIn;
      resolveRun({ code: code ?? -1, stdout, stderr, signedIn: !!signIn });
    });
  });
  const admin = () => ({ user: k.endpoints.admin.userPrincipalName, password: k.endpoints.admin.password });
  const NODES = /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n(\S+\s+Ready\s.*\n)+$/;

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-documents-'));
    baseEnv = { PATH: machinePath(), HOME: dir, KENTRA_DATA_DIR: k.dataDir, LANG: 'C.UTF-8' };
    const login = await shell(`kentra login -u '${k.endpoints.admin.userPrincipalName}' -p '${k.endpoints.admin.password}' >/dev/null`);
    assert.equal(login.code, 0, login.stderr);
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('document 000: create with an admin group, get-credentials, kubectl get nodes; break-glass --admin', async () => {
    const r = await shell(`
id=$(kentra ad group create --display-name myAKSAdminGroup --mail-nickname myAKSAdminGroup --query id -o tsv)
kentra ad group member add --group myAKSAdminGroup --member-id "$(kentra ad signed-in-user show --query id -o tsv)"
kentra group create --name myResourceGroup --location centralus >/dev/null
kentra aks create -g myResourceGroup -n myManagedCluster --enable-aad --aad-admin-group-object-ids "$id" --aad-tenant-id '${k.endpoints.tenantId}' --generate-ssh-keys >/dev/null
kentra aks get-credentials --resource-group myResourceGroup --name myManagedCluster
kubectl get nodes
kentra aks get-credentials --resource-group myResourceGroup --name myManagedCluster --admin
kubectl get nodes`, admin());
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    assert.ok(r.signedIn, 'kubelogin asked for a device-code sign-in');
    const [asUser, asAdmin] = r.stdout.split(/(?=^NAME\s)/m);
    assert.match(asUser!, NODES);
    assert.match(asAdmin!, NODES);
  });

  it('document 001: AAD-V2 preview, a cluster with no admin group: --admin works, the user is refused', async () => {
    const r = await shell(`
kentra feature register --name AAD-V2 --namespace Microsoft.ContainerService >/dev/null
kentra provider register --namespace Microsoft.ContainerService >/dev/null
kentra group create --name myResourceGroup2 --location centralus >/dev/null
kentra aks create -g myResourceGroup2 -n MyManagedCluster --enable-aad --generate-ssh-keys >/dev/null
kentra aks get-credentials --resource-group myResourceGroup2 --name MyManagedCluster --admin
kubectl get nodes
kentra aks get-credentials --resource-group myResourceGroup2 --name MyManagedCluster
kubectl get nodes || echo "exit $?"`, admin());
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}`);
    const [asAdmin, asUser] = r.stdout.split(/(?=^NAME\s|^exit )/m);
    assert.match(asAdmin!, NODES);
    assert.equal(asUser, 'exit 1\n');
    // The 2020 document shows "You must be logged in to the server (Unauthorized)"; today's AKS (and Kentra)
    // authenticate the user and refuse the request: Forbidden, naming the user.
    assert.match(r.stderr, /^Error from server \(Forbidden\): nodes is forbidden: User "admin@kentra\.onmicrosoft\.com" cannot list resource "nodes" in API group "" at the cluster scope$/m);
  });
});
