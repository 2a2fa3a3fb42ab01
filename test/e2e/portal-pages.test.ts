import assert from 'node:assert/strict';
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
  type PortalKentra,
} from '../support/portal.js';

// The portal's app registrations and enterprise applications pages in the real Chromium, signed in
// through Kentra's own sign-in page, every call made with the user's own Graph token: a registration,
// redirect URIs by platform, a secret shown once, API permissions, admin consent; an application's
// granted permissions and assignments. A plain member sees Graph's own refusals (admin consent, the
// sign-in log). axe-core finds no serious or critical violation at 1280×800 and 390×844.

const MEL = { username: 'mel@kentra.onmicrosoft.com', password: 'Mel-Passw0rd!' };
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: ${MEL.username}, password: '${MEL.password}', displayName: Mel }
`;
const APP = 'portal-orders-api';

/** The payload of a JWT (the test reads what the service issued). */
const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('portal: app registrations and enterprise applications', { timeout: 180_000, skip: PORTAL_SKIP }, () => {
  let p: PortalKentra;
  let admin: { context: BrowserContext; page: Page };
  let shots: { dir: string; remove(): void };
  const token = (fields: Record<string, string>) =>
    postForm(`${p.k.endpoints.authority}/${p.k.endpoints.tenantId}/oauth2/v2.0/token`, fields, p.k.endpoints.caFile);
  const a11yBothSizes = (page: Page, label: string) => checkA11yBothSizes(page, shots.dir, label);

  before(async () => {
    p = await startPortal(SEED);
    shots = screenshotFolder('portal-pages');
    admin = await openPortalAsAdmin(p, '/app-registrations', { clipboard: true });
  });
  after(async () => {
    await p?.close();
    shots?.remove();
  });

  it('app registrations: register, redirect URIs by platform, a secret shown once and copied, API permissions, admin consent', async () => {
    const page = admin.page;
    await page.getByRole('heading', { level: 1, name: 'App registrations' }).waitFor();
    await a11yBothSizes(page, 'app-registrations');

    await page.getByRole('button', { name: 'New registration' }).click();
    await page.getByLabel('Name', { exact: true }).fill(APP);
    await page.getByLabel('Redirect URI platform').selectOption('web');
    await page.getByLabel('Redirect URI', { exact: true }).fill('https://localhost:3000/auth');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: APP }).waitFor();
    const appId = (await page.getByTestId('app-id').textContent())!;
    assert.match(appId, /^[0-9a-f-]{36}$/);

    // Redirect URIs by platform: a spa URI is added; an http URI on a public host is Graph's 400, shown as Graph said it.
    const addUri = async (platform: string, uri: string) => {
      const field = page.getByLabel(`New ${platform} redirect URI`);
      await field.fill(uri);
      await page.locator('form', { has: field }).getByRole('button', { name: 'Add URI' }).click();
    };
    await addUri('Single-page application', 'https://localhost:5173/');
    await page.getByRole('status').filter({ hasText: 'Added https://localhost:5173/.' }).waitFor();
    const spaList = page.getByRole('list', { name: 'Single-page application' });
    assert.deepEqual(await spaList.locator('code').allTextContents(), ['https://localhost:5173/']);
    assert.deepEqual(await page.getByRole('list', { name: 'Web', exact: true }).locator('code').allTextContents(), [
      'https://localhost:3000/auth',
    ]);
    await addUri('Web', 'http://orders.example.com/callback');
    const refused = page.getByRole('alert').filter({ hasText: 'Graph refused the request (400)' });
    await refused.waitFor();
    assert.match((await refused.textContent())!, /uses 'http' on a host other than localhost, 127\.0\.0\.1 or \[::1\]; use 'https'/);

    // A client secret: its value shown once, copied with the button; Graph never returns it again.
    await page.getByLabel("New secret's description").fill('ci');
    await page.getByRole('button', { name: 'New client secret' }).click();
    const secret = await page.locator('#secret-value').inputValue();
    assert.ok(secret.length >= 32, 'the secret value is shown');
    await page.getByRole('button', { name: 'Copy to clipboard' }).click();
    await page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), secret);
    await a11yBothSizes(page, 'app-registration');

    // API permissions: one delegated and one application permission of Microsoft Graph, not granted yet.
    const addPermission = async (type: string, permission: RegExp) => {
      await page.getByRole('button', { name: 'Add a permission' }).click();
      const dialog = page.getByRole('dialog', { name: 'Request API permissions' });
      await dialog.getByLabel('API', { exact: true }).selectOption({ label: 'Microsoft Graph' });
      await dialog.getByLabel('Type of permissions').selectOption(type);
      await dialog.getByLabel(permission).check();
      await dialog.getByRole('button', { name: 'Add permissions' }).click();
      await dialog.waitFor({ state: 'hidden' });
    };
    await addPermission('Scope', /^User\.Read\.All /);
    await addPermission('Role', /^Application\.Read\.All /);
    const permissions = page.getByRole('table', { name: 'Configured permissions' });
    await permissions.getByRole('row', { name: /Microsoft Graph: Application\.Read\.All/ }).waitFor();
    assert.deepEqual(await permissions.locator('tbody tr td:nth-child(5)').allTextContents(), ['Not granted', 'Not granted']);

    await page.getByRole('button', { name: 'Grant admin consent for this tenant' }).click();
    await page
      .getByRole('status')
      .filter({
        hasText:
          'Admin consent granted for this tenant: Microsoft Graph: User.Read.All (delegated); Microsoft Graph: Application.Read.All (application).',
      })
      .waitFor();
    await permissions.locator('tbody tr td:nth-child(5)', { hasText: 'Not granted' }).first().waitFor({ state: 'detached' });
    assert.deepEqual(await permissions.locator('tbody tr td:nth-child(5)').allTextContents(), [
      'Granted for this tenant',
      'Granted for this tenant',
    ]);

    // The service agrees: the copied secret signs the app in, and its token carries the consented application permission.
    const cc = await token({
      grant_type: 'client_credentials',
      client_id: appId,
      client_secret: secret,
      scope: 'https://graph.microsoft.com/.default',
    });
    assert.equal(cc.status, 200, cc.text);
    assert.deepEqual(claims(cc.json().access_token).roles, ['Application.Read.All']);

    // Shown once: after leaving the app's page and coming back, the value is nowhere on the page, only its first characters.
    await page.getByRole('link', { name: '← All app registrations' }).click();
    await page.getByRole('link', { name: APP }).click();
    await page.getByRole('heading', { level: 1, name: APP }).waitFor();
    await page.getByRole('table', { name: 'Client secrets' }).getByRole('row', { name: /ci/ }).waitFor();
    assert.equal((await page.content()).includes(secret), false, 'the secret is not shown again');
    assert.match(
      (await page.getByRole('table', { name: 'Client secrets' }).locator('tbody td:nth-child(3)').textContent())!,
      /^.{3}\*{8}$/,
    );
  });

  it('enterprise applications: the list, one application, its granted permissions, assigning a user', async () => {
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/enterprise-apps', 'Enterprise applications');
    const list = page.getByRole('table', { name: 'Service principals in this tenant' });
    await list.getByRole('link', { name: 'Microsoft Graph' }).waitFor();
    await page.getByLabel('Search by name').fill('portal-orders');
    assert.deepEqual(await list.getByRole('link').allTextContents(), [APP]);
    await a11yBothSizes(page, 'enterprise-apps');
    await list.getByRole('link', { name: APP }).click();
    await page.getByRole('heading', { level: 1, name: APP }).waitFor();
    const granted = page.getByRole('table', { name: 'Delegated and application permissions' });
    await granted.getByRole('row', { name: /Application\.Read\.All/ }).waitFor();
    assert.deepEqual(
      (await granted.locator('tbody tr').allInnerTexts()).map((t) => t.split('\t').map((c) => c.trim())),
      [
        ['Microsoft Graph', 'User.Read.All', 'Delegated', 'An administrator, for all users'],
        ['Microsoft Graph', 'Application.Read.All', 'Application', 'An administrator'],
      ],
    );
    await page.getByLabel('Add a user or group').fill('Mel');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Select Mel' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Assigned Mel to ${APP}.` })
      .waitFor();
    const assigned = page.getByRole('table', { name: 'Users, groups and applications assigned to this application' });
    assert.deepEqual(
      (await assigned.locator('tbody tr').allInnerTexts()).map((t) => t.split('\t').map((c) => c.trim())),
      [['Mel', 'User', 'Default Access']],
    );
    await a11yBothSizes(page, 'enterprise-app');
  });

  it('a plain member sees Graph’s refusals: admin consent and the sign-in log', async () => {
    const { context, page } = await newPortalPage(p);
    try {
      await signInToPortal(page, p.origin, MEL, '/app-registrations');
      // Members may register applications; granting tenant-wide consent takes an administrator role.
      await page.getByRole('button', { name: 'New registration' }).click();
      await page.getByLabel('Name', { exact: true }).fill('mel-tool');
      await page.getByRole('button', { name: 'Register', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'mel-tool' }).waitFor();
      await page.getByRole('button', { name: 'Add a permission' }).click();
      const dialog = page.getByRole('dialog', { name: 'Request API permissions' });
      await dialog.getByLabel('API', { exact: true }).selectOption({ label: 'Microsoft Graph' });
      await dialog.getByLabel(/^User\.Read\.All /).check();
      await dialog.getByRole('button', { name: 'Add permissions' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('button', { name: 'Grant admin consent for this tenant' }).click();
      const consent = page.getByRole('alert').filter({ hasText: 'Graph refused the request (403)' });
      await consent.waitFor();
      assert.match((await consent.textContent())!, /Authorization_RequestDenied/);

      await gotoPortalPage(page, p.origin, '/sign-in-logs', 'Sign-in logs');
      const log = page.getByRole('alert').filter({ hasText: 'Graph refused the request (403)' });
      await log.waitFor();
      assert.match((await log.textContent())!, /Authorization_RequestDenied/);
      assert.equal(await page.getByRole('table').count(), 0);
      await checkA11y(page, { label: 'sign-in logs refused' });
    } finally {
      await context.close();
    }
  });
});
