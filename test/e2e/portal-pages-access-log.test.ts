import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import {
  checkA11y,
  DESKTOP,
  focusedText,
  newPortalPage,
  PHONE,
  PORTAL_SKIP,
  screenshotFolder,
  screenshot,
  signInToPortal,
  startPortal,
  tabTo,
  type PortalKentra,
} from '../support/portal.js';

// The portal's cluster access log page (docs/access-log.md) in the real Chromium: the decisions of a
// cluster's built-in API (a member of the admin group allowed, a user with no binding refused) read
// through ARM's GET <cluster>/accessLogs with the signed-in user's token, filtered on the outcome, one
// decision opened with the keyboard; a user who may download the kubeconfig but not read the cluster's
// logs sees ARM's AuthorizationFailed. The route is h-accesslog's (src/control-plane): this file needs it.

const MEL = { username: 'mel@kentra.onmicrosoft.com', password: 'Mel-Passw0rd!' };
const DANA = { username: 'dana@kentra.onmicrosoft.com', password: 'Dana-Passw0rd!' };
const ADMINS = '99999999-0000-4000-8000-0000000000a1';
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: ${MEL.username}, password: '${MEL.password}', displayName: Mel }
      - { userPrincipalName: ${DANA.username}, password: '${DANA.password}', displayName: Dana }
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: [${DANA.username}] }
`;
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const CLUSTER_USER_ROLE = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f';

describe('portal: the cluster access log page', { timeout: 150_000, skip: PORTAL_SKIP }, () => {
  let p: PortalKentra;
  let shots: { dir: string; remove(): void };
  let cluster: string;
  const tokenFor = async (fields: Record<string, string>) => {
    const res = await postForm(`${p.k.endpoints.authority}/${p.k.endpoints.tenantId}/oauth2/v2.0/token`, fields, p.k.endpoints.caFile);
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const arm = (method: string, path: string, bearer: string, body?: unknown): Promise<HttpResponse> =>
    httpsFetch(`${p.k.endpoints.authority}${path}${path.includes('?') ? '&' : '?'}api-version=2024-09-01`, {
      method,
      caFile: p.k.endpoints.caFile,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  before(async () => {
    p = await startPortal(SEED, { extraArgs: ['--provisioning-delay', '100'] });
    shots = screenshotFolder('portal-access-log');
    // The cluster, made through ARM by the owner; Mel may download its kubeconfig (Cluster User Role), nothing more.
    const owner = await tokenFor({
      grant_type: 'password',
      client_id: AZURE_CLI,
      username: p.k.endpoints.admin.userPrincipalName,
      password: p.k.endpoints.admin.password,
      scope: 'https://management.azure.com/.default',
    });
    const sub = `/subscriptions/${p.k.endpoints.subscriptionId}`;
    cluster = `${sub}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1`;
    assert.equal((await arm('PUT', `${sub}/resourcegroups/rg1`, owner, { location: 'westeurope' })).status, 201);
    const put = await arm('PUT', cluster, owner, {
      location: 'westeurope',
      properties: { agentPoolProfiles: [{ name: 'nodepool1', count: 1 }], aadProfile: { managed: true, adminGroupObjectIDs: [ADMINS] } },
    });
    assert.equal(put.status, 201, put.text);
    for (let i = 0; (await arm('GET', cluster, owner)).json().properties.provisioningState !== 'Succeeded'; i++) {
      assert.ok(i < 50, 'the cluster is created');
      await new Promise((r) => setTimeout(r, 200));
    }
    const melId = (
      await httpsFetch(`${p.k.endpoints.authority}/v1.0/users/${MEL.username}`, {
        caFile: p.k.endpoints.caFile,
        headers: {
          authorization: `Bearer ${await tokenFor({
            grant_type: 'password',
            client_id: AZURE_CLI,
            username: p.k.endpoints.admin.userPrincipalName,
            password: p.k.endpoints.admin.password,
            scope: 'https://graph.microsoft.com/.default',
          })}`,
        },
      })
    ).json().id as string;
    const assigned = await arm('PUT', `${cluster}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}`, owner, {
      properties: { roleDefinitionId: CLUSTER_USER_ROLE, principalId: melId },
    });
    assert.equal(assigned.status, 201, assigned.text);

    // Two requests to the cluster's built-in API, as kubectl sends them: Dana (admin group) allowed, Mel (no binding) refused.
    const creds = await arm('POST', `${cluster}/listClusterUserCredential`, owner);
    const kubeconfig = parse(Buffer.from(creds.json().kubeconfigs[0].value, 'base64').toString('utf8'));
    const server = kubeconfig.clusters[0].cluster.server as string;
    for (const [user, status] of [
      [DANA, 200],
      [MEL, 403],
    ] as const) {
      const bearer = await tokenFor({
        grant_type: 'password',
        client_id: AKS_CLIENT,
        username: user.username,
        password: user.password,
        scope: `${AKS_SERVER}/.default`,
      });
      const res = await httpsFetch(`${server}/api/v1/namespaces/default/pods`, {
        caFile: p.k.endpoints.caFile,
        headers: { authorization: `Bearer ${bearer}` },
      });
      assert.equal(res.status, status, res.text);
    }
  });
  after(async () => {
    await p?.close();
    shots?.remove();
  });

  it('the owner reads the decisions, filters the refused ones and opens one with the keyboard', async () => {
    const { context, page } = await newPortalPage(p);
    try {
      await signInToPortal(
        page,
        p.origin,
        { username: p.k.endpoints.admin.userPrincipalName, password: p.k.endpoints.admin.password },
        '/access-log',
      );
      await page.getByRole('heading', { level: 1, name: 'Cluster access log' }).waitFor();
      await page.getByLabel('Cluster', { exact: true }).waitFor();
      const table = page.getByRole('table', { name: /^\d+ entr(y|ies) of c1/ });
      const rowsOf = (user: string, outcome: string) => table.locator('tbody tr', { hasText: user }).filter({ hasText: outcome });
      // The log is written in batches after the responses: apply the filters until both decisions are there.
      for (let i = 0; ; i++) {
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.getByRole('button', { name: 'Apply filters' }).and(page.locator(':enabled')).waitFor();
        if ((await rowsOf(DANA.username, 'Allowed').count()) > 0 && (await rowsOf(MEL.username, 'Refused').count()) > 0) break;
        assert.ok(i < 30, 'the decisions reached the log');
        await page.waitForTimeout(500);
      }
      assert.match(await rowsOf(MEL.username, 'Refused').first().innerText(), /list pods\s+default\s+Refused/);
      for (const size of [DESKTOP, PHONE]) {
        await page.setViewportSize(size);
        await checkA11y(page, { label: `cluster access log at ${size.width}×${size.height}` });
        await screenshot(page, shots.dir, 'access-log');
      }
      await page.setViewportSize(DESKTOP);

      await page.getByLabel('Outcome').selectOption('refused');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await table.locator('tbody tr', { hasText: 'Allowed' }).first().waitFor({ state: 'detached' });
      const outcomes = await table.locator('tbody td:nth-child(5)').allTextContents();
      assert.ok(outcomes.length > 0 && outcomes.every((o) => o === 'Refused'), outcomes.join(','));

      // Keyboard alone: Tab to the first decision's details, Enter, read, Escape.
      await page.locator('h1').focus();
      await tabTo(page, /^Details of the decision at /);
      const opened = await focusedText(page);
      await page.keyboard.press('Enter');
      const details = page.getByTestId('access-decision');
      await details.waitFor();
      const text = await details.innerText();
      assert.match(text, /Outcome\s+Refused/);
      assert.match(text, new RegExp(`User\\s+${MEL.username.replace('.', '\\.')}`));
      assert.match(text, /Request\s+list pods/);
      assert.ok(opened.length > 0);
      await checkA11y(page, { label: 'access decision' });
      await page.keyboard.press('Escape');
      await details.waitFor({ state: 'detached' });
    } finally {
      await context.close();
    }
  });

  it('a user who may download the kubeconfig but not read the logs sees ARM’s AuthorizationFailed', async () => {
    const { context, page } = await newPortalPage(p);
    try {
      await signInToPortal(page, p.origin, MEL, '/access-log');
      const refused = page.getByRole('alert').filter({ hasText: 'ARM refused the request (403)' });
      await refused.waitFor();
      assert.match(await refused.innerText(), /AuthorizationFailed[\s\S]*'Microsoft\.Insights\/logs\/AKSAudit\/read'/);
      await checkA11y(page, { label: 'cluster access log refused' });
    } finally {
      await context.close();
    }
  });
});
