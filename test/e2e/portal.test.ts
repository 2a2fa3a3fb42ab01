import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  checkA11y,
  DESKTOP,
  focusedText,
  gotoPortalPage,
  newPortalPage,
  PHONE,
  PORTAL_SKIP,
  signInToPortal,
  startPortal,
  tabTo,
  type PortalKentra,
} from '../support/portal.js';
import { pkcePair, signIn, type OAuthTarget } from '../security/support-oauth.js';

// The portal in the real Chromium (Debian's, through playwright-core): sign-in through msal-browser
// against Kentra itself, each of the foundation's pages doing its main task (overview, users, groups),
// axe-core on each page at 1280×800 and 390×844, a task done with the keyboard alone, and a plain
// member refused by Graph exactly as Graph refuses them (the portal grants nothing).

const TENANT = '70e7a1a0-0000-4000-8000-000000000001';
const ADMIN = { username: 'ada@portale2e.onmicrosoft.com', password: 'Ada-Passw0rd!' };
const MEMBER = { username: 'max@portale2e.onmicrosoft.com', password: 'Max-Passw0rd!' };

const SEED = `
tenants:
  - id: ${TENANT}
    displayName: Portal E2E
    domain: portale2e.onmicrosoft.com
    users:
      - { userPrincipalName: ${ADMIN.username}, password: '${ADMIN.password}', displayName: Ada Admin, directoryRoles: [Global Administrator] }
      - { userPrincipalName: ${MEMBER.username}, password: '${MEMBER.password}', displayName: Max Member }
      - { userPrincipalName: bo@portale2e.onmicrosoft.com, password: 'Bo-Passw0rd!1', displayName: Bo }
    groups:
      - { displayName: platform, members: [bo@portale2e.onmicrosoft.com] }
      - { displayName: platform-oncall, members: [bo@portale2e.onmicrosoft.com] }
`;

const BO = { username: 'bo@portale2e.onmicrosoft.com', password: 'Bo-Passw0rd!1' };
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

describe('portal in Chromium', { timeout: 180_000, skip: PORTAL_SKIP }, () => {
  let p: PortalKentra;
  let admin: Page;

  before(async () => {
    p = await startPortal(SEED);
    admin = (await newPortalPage(p, DESKTOP)).page;
    await signInToPortal(admin, p.origin, ADMIN);
  });
  after(async () => {
    await p?.close();
  });

  it('signs in with msal-browser through Kentra, keeps no code or token in the address bar, and shows the tenant and the user', async () => {
    const url = new URL(admin.url());
    assert.equal(url.origin, p.origin);
    assert.equal(url.pathname, '/portal/');
    assert.doesNotMatch(admin.url(), /code=|access_token|id_token|client_info/);
    await gotoPortalPage(admin, p.origin, '/', 'Overview');
    await admin.getByTestId('overview-tenant-name').waitFor();
    assert.equal(await admin.getByTestId('overview-tenant-name').textContent(), 'Portal E2E');
    assert.match((await admin.locator('header').textContent()) ?? '', /Portal E2E/);
    assert.match((await admin.locator('header').textContent()) ?? '', /Ada Admin/);
    await admin.getByTestId('overview-roles').waitFor();
    assert.equal(await admin.getByTestId('overview-roles').textContent(), 'Global Administrator');
    assert.equal(await admin.getByTestId('count-Users').textContent(), '3');
    assert.doesNotMatch(admin.url(), /code=|access_token|id_token/);
  });
  /** Whether `account` can sign in now (Kentra's real sign-in page, as the Azure CLI's public client). */
  const canSignIn = async (account: { username: string; password: string }) => {
    const t: OAuthTarget = { authority: p.k.endpoints.authority, caFile: p.k.endpoints.caFile, tenant: TENANT };
    const pkce = pkcePair();
    const res = await signIn(
      t,
      {
        client_id: AZURE_CLI,
        redirect_uri: 'http://localhost',
        scope: 'openid',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      },
      account,
    );
    return !!res.headers.location && new URL(String(res.headers.location)).searchParams.has('code');
  };

  it('Users: creates a user, resets a password and disables an account, through Graph as the signed-in admin', async () => {
    await gotoPortalPage(admin, p.origin, '/users', 'Users');
    await admin.getByRole('cell', { name: BO.username, exact: true }).waitFor();
    await admin.getByRole('button', { name: 'New user' }).click();
    const dialog = admin.getByRole('dialog', { name: 'New user' });
    await dialog.getByLabel('Display name').fill('Cleo New');
    await dialog.getByLabel('User name').fill('cleo');
    await dialog.getByLabel('Password').fill('Cleo-Passw0rd!7');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await admin.getByRole('status').filter({ hasText: 'Created cleo@portale2e.onmicrosoft.com' }).waitFor();
    await admin.getByRole('cell', { name: 'cleo@portale2e.onmicrosoft.com', exact: true }).waitFor();
    assert.equal(
      await canSignIn({ username: 'cleo@portale2e.onmicrosoft.com', password: 'Cleo-Passw0rd!7' }),
      true,
      'the new user signs in',
    );

    await admin.getByRole('button', { name: 'Reset password of cleo@portale2e.onmicrosoft.com' }).click();
    const reset = admin.getByRole('dialog', { name: 'Reset password' });
    await reset.getByLabel('New password').fill('Cleo-Changed!8');
    await reset.getByRole('button', { name: 'Reset password', exact: true }).click();
    await admin.getByRole('status').filter({ hasText: 'The password of cleo@portale2e.onmicrosoft.com is reset' }).waitFor();
    assert.equal(
      await canSignIn({ username: 'cleo@portale2e.onmicrosoft.com', password: 'Cleo-Passw0rd!7' }),
      false,
      'the old password is refused',
    );
    assert.equal(await canSignIn({ username: 'cleo@portale2e.onmicrosoft.com', password: 'Cleo-Changed!8' }), true, 'the new one works');

    await admin.getByRole('button', { name: 'Disable cleo@portale2e.onmicrosoft.com' }).click();
    await admin.getByRole('status').filter({ hasText: 'cleo@portale2e.onmicrosoft.com is disabled' }).waitFor();
    await admin.getByRole('button', { name: 'Enable cleo@portale2e.onmicrosoft.com' }).waitFor();
    assert.equal(
      await canSignIn({ username: 'cleo@portale2e.onmicrosoft.com', password: 'Cleo-Changed!8' }),
      false,
      'a disabled account cannot sign in',
    );
  });

  it('Groups: creates a group, adds and removes members, and draws nested membership as a picture', async () => {
    await gotoPortalPage(admin, p.origin, '/groups', 'Groups');
    await admin.getByRole('button', { name: 'New group' }).click();
    const create = admin.getByRole('dialog', { name: 'New group' });
    await create.getByLabel('Group name').fill('sre');
    await create.getByRole('button', { name: 'Create' }).click();
    await admin.getByRole('status').filter({ hasText: 'Created the group sre' }).waitFor();
    await admin.getByRole('cell', { name: 'sre', exact: true }).waitFor();

    const addTo = async (group: string, member: string) => {
      await admin.getByRole('button', { name: `Members of ${group}`, exact: true }).click();
      const d = admin.getByRole('dialog', { name: `Members of ${group}` });
      await d.getByRole('table').waitFor();
      await d.getByLabel('Add a member').selectOption({ label: member });
      await d.getByRole('button', { name: 'Add', exact: true }).click();
      await d
        .getByRole('status')
        .filter({ hasText: `Added ${member.replace(/ \((group|user)\)$/, '')} to ${group}` })
        .waitFor();
      return d;
    };
    let d = await addTo('platform-oncall', 'sre (group)');
    await d.getByRole('button', { name: 'Close Members of platform-oncall' }).click();
    d = await addTo('platform', 'platform-oncall (group)');
    // The picture: platform → platform-oncall → sre, as SVG boxes joined by lines, with a text equivalent.
    const svg = d.getByTestId('nesting-svg');
    await svg.locator('text', { hasText: 'sre' }).waitFor();
    const labels = await svg.locator('g.tree-node text').allTextContents();
    assert.deepEqual(labels, ['platform', 'platform-oncall', 'sre']);
    assert.equal(await svg.locator('path.tree-line').count(), 2);
    assert.match((await d.locator('figcaption').textContent()) ?? '', /platform contains platform-oncall\. platform-oncall contains sre\./);

    await d.getByRole('button', { name: 'Remove Bo from platform' }).click();
    await d.getByRole('status').filter({ hasText: 'Removed Bo from platform' }).waitFor();
    // The list is read again from Graph after the change: Bo's row goes once it is back.
    await d.getByRole('cell', { name: 'Bo', exact: true }).waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await d.getByRole('cell', { name: 'Bo', exact: true }).count(), 0);
    await d.getByRole('button', { name: 'Close Members of platform' }).click();
  });

  it('every page passes axe-core (no serious or critical violation) at 1280×800 and 390×844, the nav folding into a menu on the phone', async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      await admin.setViewportSize(viewport);
      for (const [path, title] of [
        ['/', 'Overview'],
        ['/users', 'Users'],
        ['/groups', 'Groups'],
      ] as const) {
        await gotoPortalPage(admin, p.origin, path, title);
        await admin
          .locator('.loading')
          .first()
          .waitFor({ state: 'detached', timeout: 15_000 })
          .catch(() => undefined);
        await checkA11y(admin, { label: `${title} at ${viewport.width}×${viewport.height}` });
      }
      // A panel open: still clean.
      await gotoPortalPage(admin, p.origin, '/users', 'Users');
      await admin.getByRole('button', { name: 'New user' }).click();
      await admin.getByRole('dialog', { name: 'New user' }).getByLabel('Display name').waitFor();
      await checkA11y(admin, { label: `the New user panel at ${viewport.width}` });
      await admin.keyboard.press('Escape');
    }
    // On the phone the navigation is behind the Menu button.
    await gotoPortalPage(admin, p.origin, '/', 'Overview');
    const menu = admin.getByRole('button', { name: 'Menu' });
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    assert.equal(await admin.getByRole('navigation', { name: 'Portal' }).isVisible(), false);
    await menu.click();
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    await admin.getByRole('link', { name: 'Groups' }).click();
    await admin.getByRole('heading', { level: 1, name: 'Groups' }).waitFor();
    assert.equal(await admin.getByRole('navigation', { name: 'Portal' }).isVisible(), false, 'the menu closes after choosing');
    await admin.setViewportSize(DESKTOP);
  });

  it('a task with the keyboard alone (Tab, Enter, Space): skip link, navigation, reset a password, disable and enable a user', async () => {
    const { page } = await newPortalPage(p, DESKTOP);
    await signInToPortal(page, p.origin, ADMIN);
    await gotoPortalPage(page, p.origin, '/', 'Overview');
    // A fresh load: focus starts at the top of the document.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await focusedText(page), 'Skip to main content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'main-content');

    await tabTo(page, 'Users');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByRole('cell', { name: BO.username, exact: true }).waitFor();

    // Reset Bo's password: the panel opens with a generated password; Tab to its button, Enter.
    await tabTo(page, `Reset password of ${BO.username}`);
    await page.keyboard.press('Enter');
    const reset = page.getByRole('dialog', { name: 'Reset password' });
    await reset.waitFor();
    const newPassword = await reset.getByLabel('New password').inputValue();
    await tabTo(page, 'Reset password');
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: `The password of ${BO.username} is reset` })
      .waitFor();
    assert.equal(await canSignIn({ username: BO.username, password: newPassword }), true, 'the generated password works');

    await tabTo(page, `Disable ${BO.username}`);
    await page.keyboard.press('Space');
    await page
      .getByRole('status')
      .filter({ hasText: `${BO.username} is disabled` })
      .waitFor();
    await tabTo(page, `Enable ${BO.username}`);
    await page.keyboard.press('Space');
    await page
      .getByRole('status')
      .filter({ hasText: `${BO.username} is enabled` })
      .waitFor();
    await page.context().close();
  });

  it('a plain member sees Graph’s own 403 as a readable error, and nothing is created', async () => {
    const { page } = await newPortalPage(p, DESKTOP);
    await signInToPortal(page, p.origin, MEMBER, '/users');
    await page.getByRole('heading', { level: 1, name: 'Users' }).waitFor();
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByLabel('Display name').fill('Sneaky');
    await dialog.getByLabel('User name').fill('sneaky');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    assert.match(text, /Graph refused the request \(403\)/);
    assert.match(text, /Authorization_RequestDenied/);
    assert.match(text, /Insufficient privileges to complete the operation/);
    await page.keyboard.press('Escape');
    await gotoPortalPage(page, p.origin, '/', 'Overview');
    await page.getByTestId('overview-roles').waitFor();
    assert.equal(await page.getByTestId('overview-roles').textContent(), 'None (a member of the directory)');
    assert.equal(await canSignIn({ username: 'sneaky@portale2e.onmicrosoft.com', password: 'whatever-Passw0rd!1' }), false);
    await page.context().close();
  });
});
