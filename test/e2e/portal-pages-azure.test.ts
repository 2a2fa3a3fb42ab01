import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { postForm } from '../support/http.js';
import {
  checkA11y,
  gotoPortalPage,
  newPortalPage,
  PORTAL_SKIP,
  openPortalAsAdmin,
  checkA11yBothSizes,
  screenshotFolder,
  signInToPortal,
  startPortal,
  tabTo,
  type PortalKentra,
} from '../support/portal.js';

// The portal's Azure pages in the real Chromium, every call made with the signed-in user's own ARM and
// Graph tokens: a cluster created with its Entra settings (watched until the deployment succeeds), its
// settings edited, its user kubeconfig downloaded; a role assignment added with the keyboard alone and
// removed; "Why was I refused?" drawn from the cluster's checkAccess action. A Reader sees ARM's
// AuthorizationFailed for what Reader does not hold. axe-core: no serious or critical violation.

const MEL = { username: 'mel@kentra.onmicrosoft.com', password: 'Mel-Passw0rd!' };
const DANA = { username: 'dana@kentra.onmicrosoft.com', password: 'Dana-Passw0rd!' };
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: ${MEL.username}, password: '${MEL.password}', displayName: Mel }
      - { userPrincipalName: ${DANA.username}, password: '${DANA.password}', displayName: Dana }
    groups:
      - { displayName: aks-admins, members: [${DANA.username}] }
`;
const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

describe('portal: Azure pages (clusters, access control, why was I refused)', { timeout: 180_000, skip: PORTAL_SKIP }, () => {
  let p: PortalKentra;
  let admin: { context: BrowserContext; page: Page };
  let shots: { dir: string; remove(): void };
  const a11yBothSizes = (page: Page, label: string) => checkA11yBothSizes(page, shots.dir, label);
  const rowOf = (page: Page, table: string, name: string | RegExp) => page.getByRole('table', { name: table }).getByRole('row', { name });
  const cells = async (page: Page, table: string, name: string | RegExp) =>
    (await rowOf(page, table, name).innerText()).split('\t').map((c) => c.trim());

  before(async () => {
    p = await startPortal(SEED, { extraArgs: ['--provisioning-delay', '1500'] });
    shots = screenshotFolder('portal-azure');
    admin = await openPortalAsAdmin(p, '/clusters');
  });
  after(async () => {
    await p?.close();
    shots?.remove();
  });

  it('clusters: create with the Entra settings and watch it finish, edit them, download the user kubeconfig', async () => {
    const page = admin.page;
    await page.getByRole('heading', { level: 1, name: 'Kubernetes services' }).waitFor();
    await page.getByRole('table', { name: 'Clusters you can read in this subscription' }).getByText('No cluster yet.').waitFor();
    await a11yBothSizes(page, 'clusters');

    await page.getByRole('button', { name: 'Create cluster' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create Kubernetes cluster' });
    await dialog.getByLabel('Cluster name').fill('c1');
    await dialog.getByLabel('New resource group').fill('rg1');
    await dialog.getByLabel('Region').fill('westeurope');
    await dialog.getByLabel('Add an admin group').fill('aks-');
    await dialog.getByRole('button', { name: 'Search' }).click();
    await dialog.getByRole('button', { name: 'Select aks-admins' }).click();
    await dialog.getByLabel('Azure RBAC for Kubernetes authorization').check();
    await checkA11y(page, { label: 'create cluster' });
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    // The deployment is watched until it ends: the progress is announced, then the panel closes.
    await dialog
      .getByRole('status')
      .filter({ hasText: /Deployment in progress: Creating/ })
      .waitFor();
    await page.getByRole('status').filter({ hasText: 'Deployment succeeded: the cluster c1 is ready.' }).waitFor({ timeout: 30_000 });
    const created = await cells(page, 'Clusters you can read in this subscription', /^c1/);
    assert.match(created[3]!, /^1\.\d+\.\d+$/);
    assert.deepEqual(
      [...created.slice(0, 3), ...created.slice(4, 8)],
      ['c1', 'rg1', 'westeurope', 'Succeeded · Running', 'Microsoft Entra ID (managed)', 'Enabled', 'Enabled'],
    );

    await a11yBothSizes(page, 'clusters');

    // The Entra settings: local accounts disabled, saved with a full PUT, watched until the update ends.
    await page.getByRole('button', { name: 'Entra settings of c1' }).click();
    const edit = page.getByRole('dialog', { name: 'Entra settings of c1' });
    assert.match(await edit.getByRole('list', { name: 'Cluster admin groups' }).innerText(), /^aks-admins [0-9a-f-]{36}\s+Remove$/);
    assert.equal(await edit.getByLabel('Microsoft Entra ID authentication (managed integration)').isDisabled(), true);
    await edit.getByLabel(/^Disable local accounts/).check();
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Saved the Entra settings of c1.' }).waitFor({ timeout: 30_000 });
    assert.equal((await cells(page, 'Clusters you can read in this subscription', /^c1/))[7], 'Disabled');

    // The user kubeconfig, decoded from base64 and saved as a file: exec format, kubelogin, the AKS server app.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download kubeconfig of c1' }).click();
    const file = await download;
    assert.equal(file.suggestedFilename(), 'c1-kubeconfig.yaml');
    const kubeconfig = readFileSync((await file.path())!, 'utf8');
    assert.match(kubeconfig, /^apiVersion: v1$/m);
    assert.match(kubeconfig, /command: kubelogin/);
    assert.ok(kubeconfig.includes(AKS_SERVER_APP), 'the kubeconfig names the AKS server application');
    assert.match(kubeconfig, /server: https:\/\//);
    await page.getByRole('status').filter({ hasText: 'Downloaded c1-kubeconfig.yaml' }).waitFor();
  });

  it('access control (IAM): a role assignment added with the keyboard alone, listed with names, removed', async () => {
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/access-control', 'Access control (IAM)');
    const table = 'Role assignments that apply at this scope, above it or below it';
    await rowOf(page, table, /Kentra Administrator/).waitFor();
    assert.deepEqual((await cells(page, table, /Kentra Administrator/)).slice(1, 4), ['User', 'Owner', 'This resource']);
    await a11yBothSizes(page, 'access-control');

    // Keyboard only: Tab to the button, Enter; the panel's role list keeps Reader; type a name, Enter searches; Tab to the result; Assign.
    await page.locator('h1').focus();
    await tabTo(page, 'Add role assignment');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Add role assignment' });
    await dialog.waitFor();
    assert.equal(
      await dialog.getByLabel('Role', { exact: true }).inputValue(),
      '/subscriptions/' +
        p.k.endpoints.subscriptionId +
        '/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7',
    );
    await tabTo(page, 'Search');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.type('Mel');
    await page.keyboard.press('Enter');
    await dialog.getByRole('button', { name: 'Select Mel' }).waitFor();
    await tabTo(page, 'Select Mel');
    await page.keyboard.press('Enter');
    await tabTo(page, 'Assign');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Assigned Reader to Mel.' }).waitFor();
    await rowOf(page, table, /^Mel \(mel@/).waitFor();
    assert.deepEqual((await cells(page, table, /^Mel \(mel@/)).slice(0, 4), [`Mel (${MEL.username})`, 'User', 'Reader', 'This resource']);

    // At the resource group: the subscription's assignments are inherited.
    await page.getByLabel('Resource group').selectOption('rg1');
    await page
      .getByTestId('iam-scope')
      .filter({ hasText: /\/resourceGroups\/rg1$/ })
      .waitFor();
    await rowOf(page, table, /^Mel \(mel@/).waitFor();
    assert.equal((await cells(page, table, /^Mel \(mel@/))[3], 'Inherited (subscription)');

    // At the cluster: the same, and the cluster's own scope in the request.
    await page.getByLabel('Cluster', { exact: true }).selectOption({ label: 'c1' });
    await page
      .getByTestId('iam-scope')
      .filter({ hasText: /\/resourceGroups\/rg1\/providers\/Microsoft\.ContainerService\/managedClusters\/c1$/ })
      .waitFor();
    await rowOf(page, table, /^Mel \(mel@/).waitFor();
    assert.equal((await cells(page, table, /^Mel \(mel@/))[3], 'Inherited (subscription)');
  });

  it('why was I refused: the cluster’s checkAccess explanation drawn step by step', async () => {
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/check-access', 'Why was I refused?');
    await page.getByLabel('Cluster', { exact: true }).waitFor();
    await page.getByLabel('Another user or service principal').check();
    await page.getByLabel('User principal name or object ID').fill(MEL.username);
    await page.getByRole('button', { name: 'Check access' }).click();
    const explanation = page.getByTestId('explanation');
    await explanation.waitFor();
    assert.match(await explanation.getByRole('heading', { level: 2 }).innerText(), /^Refused list pods in namespace "default" on c1$/);
    const steps = explanation.getByRole('list', { name: 'How the cluster decided, step by step' }).locator(':scope > li');
    const titles = await steps.locator('.flow-title').allInnerTexts();
    assert.match(titles[0]!, /^1\. Identity: user 'mel@kentra\.onmicrosoft\.com' from the directory/);
    assert.match(titles[1]!, /^2\. Groups from the directory/);
    assert.ok(
      titles.some((t) => /Authorizer RBAC: no-opinion/.test(t)),
      titles.join('\n'),
    );
    assert.match(titles.at(-1)!, /Decision:/);
    assert.equal(await steps.last().locator('.flow-outcome').innerText(), 'Failed');
    assert.match(
      await explanation.locator('pre.kubectl').innerText(),
      /^Error from server \(Forbidden\): pods is forbidden: User "mel@kentra\.onmicrosoft\.com" cannot list resource "pods" in API group "" in the namespace "default"/,
    );
    await a11yBothSizes(page, 'check-access');

    // A member of the cluster's admin group: allowed, and the step says by which binding.
    await page.getByLabel('User principal name or object ID').fill(DANA.username);
    await page.getByRole('button', { name: 'Check access' }).click();
    await explanation.getByRole('heading', { level: 2, name: /^Allowed list pods/ }).waitFor();
    assert.match(await explanation.innerText(), /ClusterRoleBinding "aks-cluster-admin-binding-aad"/);
    assert.equal(await explanation.locator('pre.kubectl').innerText(), 'yes');

    // The token kubectl sent, pasted: a Graph token is not for the cluster; the token checks are drawn in Guard's order.
    const graphToken = await postForm(
      `${p.k.endpoints.authority}/${p.k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        grant_type: 'password',
        client_id: AZURE_CLI,
        username: MEL.username,
        password: MEL.password,
        scope: 'https://graph.microsoft.com/.default',
      },
      p.k.endpoints.caFile,
    );
    assert.equal(graphToken.status, 200, graphToken.text);
    const jwt = graphToken.json().access_token as string;
    await page.getByLabel('The token kubectl sent').check();
    await page.getByLabel('Bearer token').fill(jwt);
    await page.getByRole('button', { name: 'Check access' }).click();
    await explanation.getByRole('heading', { level: 2, name: /^Refused list pods/ }).waitFor();
    const chips = await explanation
      .getByRole('list', { name: 'Token checks, in the order Guard makes them' })
      .locator('li')
      .allInnerTexts();
    assert.deepEqual(
      chips.slice(0, 4).map((c) => c.replace(/^\S+\s+/, '')),
      ['issuer: passed', 'signature: passed', 'lifetime (exp, nbf): passed', 'audience: failed'],
    );
    assert.match(await steps.first().locator('.flow-title').innerText(), /^1\. Token: refused \(the audience check failed\)$/);
    assert.equal(await explanation.locator('pre.kubectl').innerText(), 'error: You must be logged in to the server (Unauthorized)');
    assert.equal((await explanation.innerText()).includes(jwt), false, 'the answer never shows the token');
  });

  it('a Reader sees ARM’s AuthorizationFailed: no kubeconfig, no role assignment, no checkAccess', async () => {
    const { context, page } = await newPortalPage(p);
    try {
      await signInToPortal(page, p.origin, MEL, '/clusters');
      await rowOf(page, 'Clusters you can read in this subscription', /^c1/).waitFor();
      await page.getByRole('button', { name: 'Download kubeconfig of c1' }).click();
      const kube = page.getByRole('alert').filter({ hasText: 'ARM refused the request (403)' });
      await kube.waitFor();
      assert.match(
        await kube.innerText(),
        /AuthorizationFailed[\s\S]*does not have authorization .* to perform action 'Microsoft\.ContainerService\/managedClusters\/listClusterUserCredential\/action'/,
      );

      await gotoPortalPage(page, p.origin, '/access-control', 'Access control (IAM)');
      await rowOf(page, 'Role assignments that apply at this scope, above it or below it', /^Mel \(mel@/).waitFor();
      await page.getByRole('button', { name: 'Add role assignment' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add role assignment' });
      await dialog.getByLabel('Role', { exact: true }).selectOption({ label: 'Contributor' });
      await dialog.getByLabel('Member (user, group or service principal)').fill('Mel');
      await dialog.getByRole('button', { name: 'Search' }).click();
      await dialog.getByRole('button', { name: 'Select Mel' }).click();
      await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
      const assign = dialog.getByRole('alert').filter({ hasText: 'ARM refused the request (403)' });
      await assign.waitFor();
      assert.match(await assign.innerText(), /AuthorizationFailed[\s\S]*'Microsoft\.Authorization\/roleAssignments\/write'/);
      await checkA11y(page, { label: 'role assignment refused' });
      await page.keyboard.press('Escape');

      await gotoPortalPage(page, p.origin, '/check-access', 'Why was I refused?');
      await page.getByLabel('Cluster', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Check access' }).click();
      const check = page.getByRole('alert').filter({ hasText: 'ARM refused the request (403)' });
      await check.waitFor();
      assert.match(await check.innerText(), /'Microsoft\.ContainerService\/managedClusters\/checkAccess\/action'/);
    } finally {
      await context.close();
    }
  });

  it('access control: the owner removes the assignment after a confirmation', async () => {
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/access-control', 'Access control (IAM)');
    const table = 'Role assignments that apply at this scope, above it or below it';
    await rowOf(page, table, /^Mel \(mel@/).waitFor();
    await page.getByRole('button', { name: 'Remove the Reader role of Mel' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove role assignment' });
    await confirm.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Removed the Reader role of Mel.' }).waitFor();
    assert.equal(await rowOf(page, table, /^Mel \(mel@/).count(), 0);
  });
});
