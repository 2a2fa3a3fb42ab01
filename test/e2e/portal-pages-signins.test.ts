import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { httpsFetch, postForm } from '../support/http.js';
import {
  checkA11y,
  focusedText,
  gotoPortalPage,
  PORTAL_SKIP,
  openPortalAsAdmin,
  checkA11yBothSizes,
  screenshotFolder,
  startPortal,
  tabTo,
  type PortalKentra,
} from '../support/portal.js';

// The portal's sign-in log and signing keys pages in the real Chromium, signed in through Kentra's own
// sign-in page, every call made with the user's own tokens: a failed password with 50126, the filters on
// user, status and time, paging through @odata.nextLink, a row's details with the keyboard; the JWKS and
// the key that signed the portal's token. axe-core: no serious or critical violation at both sizes.

const MEL = { username: 'mel@kentra.onmicrosoft.com', password: 'Mel-Passw0rd!' };
const PAT = { username: 'pat@kentra.onmicrosoft.com', password: 'Pat-Passw0rd!' };
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: ${MEL.username}, password: '${MEL.password}', displayName: Mel }
      - { userPrincipalName: ${PAT.username}, password: '${PAT.password}', displayName: Pat }
`;
const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

describe('portal: sign-in logs and signing keys', { timeout: 180_000, skip: PORTAL_SKIP }, () => {
  let p: PortalKentra;
  let admin: { context: BrowserContext; page: Page };
  let shots: { dir: string; remove(): void };
  const token = (fields: Record<string, string>) =>
    postForm(`${p.k.endpoints.authority}/${p.k.endpoints.tenantId}/oauth2/v2.0/token`, fields, p.k.endpoints.caFile);
  const a11yBothSizes = (page: Page, label: string) => checkA11yBothSizes(page, shots.dir, label);

  before(async () => {
    p = await startPortal(SEED);
    shots = screenshotFolder('portal-signins');
    admin = await openPortalAsAdmin(p, '/sign-in-logs', { clipboard: true });
  });
  after(async () => {
    await p?.close();
    shots?.remove();
  });

  it('sign-in log: a wrong password appears with 50126; filters on user and status; paging; a row’s details (keyboard)', async () => {
    const wrong = await token({
      grant_type: 'password',
      client_id: AZURE_CLI,
      username: MEL.username,
      password: 'not-her-password',
      scope: 'openid',
    });
    assert.equal(wrong.status, 400);
    assert.match(wrong.json().error_description, /^AADSTS50126:/);
    // 26 successful sign-ins of Pat: more than one page of 25.
    for (let i = 0; i < 26; i++) {
      const ok = await token({
        grant_type: 'password',
        client_id: AZURE_CLI,
        username: PAT.username,
        password: PAT.password,
        scope: 'openid',
      });
      assert.equal(ok.status, 200, ok.text);
    }
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/sign-in-logs', 'Sign-in logs');
    await page.getByLabel('User (UPN or object ID)').fill(MEL.username);
    await page.getByLabel('Status').selectOption('code');
    await page.getByLabel('Error code (AADSTS number)').fill('50126');
    const table = page.getByRole('table', { name: /^\d+ sign-ins?/ });
    // The log is written in batches after the response: apply the filters until the row is there.
    for (let i = 0; ; i++) {
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.getByRole('button', { name: 'Apply filters' }).and(page.locator(':enabled')).waitFor();
      if ((await table.locator('tbody tr', { hasText: 'Failure (50126)' }).count()) > 0) break;
      assert.ok(i < 30, 'the failed sign-in reached the log');
      await page.waitForTimeout(500);
    }
    const row = table.locator('tbody tr', { hasText: 'Failure (50126)' }).first();
    assert.match((await row.innerText())!, new RegExp(`${MEL.username.replace('.', '\\.')}\\s+Microsoft Azure CLI`));
    await a11yBothSizes(page, 'sign-in-logs');

    // A row's details, opened and closed with the keyboard alone.
    await row.getByRole('button').focus();
    await page.keyboard.press('Enter');
    const details = page.getByTestId('sign-in-details');
    await details.waitFor();
    const text = await details.innerText();
    assert.match(text, /Sign-in error code\s+50126/);
    assert.match(text, /Failure reason\s+.*invalid username or password/i);
    assert.match(text, new RegExp(`Username\\s+${MEL.username.replace('.', '\\.')}`));
    await checkA11y(page, { label: 'sign-in details' });
    await page.keyboard.press('Escape');
    await details.waitFor({ state: 'detached' });

    // The time filter: nothing is logged after tomorrow.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    await page.getByLabel('From').fill(tomorrow);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table', { name: '0 sign-ins' }).getByText('No sign-in matches these filters.').waitFor();
    await page.getByLabel('From').fill('');

    // Paging: 25 a page, "Load more" follows @odata.nextLink.
    await page.getByLabel('User (UPN or object ID)').fill(PAT.username);
    await page.getByLabel('Status').selectOption('success');
    for (let i = 0; ; i++) {
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.getByRole('button', { name: 'Apply filters' }).and(page.locator(':enabled')).waitFor();
      if ((await page.getByRole('table', { name: '25 sign-ins (more available)' }).count()) > 0) break;
      assert.ok(i < 30, 'the 26 sign-ins reached the log');
      await page.waitForTimeout(500);
    }
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByRole('table', { name: '26 sign-ins' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0);
  });

  it('signing keys: the JWKS, the key that signed the portal’s token, the rotation command copied with the keyboard', async () => {
    const page = admin.page;
    await gotoPortalPage(page, p.origin, '/signing-keys', 'Signing keys');
    const jwks = await httpsFetch(`${p.k.endpoints.authority}/${p.k.endpoints.tenantId}/discovery/v2.0/keys`, {
      caFile: p.k.endpoints.caFile,
    });
    const kids = (jwks.json().keys as { kid: string }[]).map((k) => k.kid);
    const table = page.getByRole('table', { name: /published key/ });
    await table.locator('tbody tr').first().waitFor();
    assert.deepEqual(await table.locator('tbody td:nth-child(1)').allTextContents(), kids);
    // Exactly one published key signed the portal's Graph token.
    const signed = await table.locator('tbody td:nth-child(2)').allTextContents();
    assert.deepEqual(
      signed.filter((s) => s === 'Yes'),
      ['Yes'],
    );
    assert.equal(signed.length, kids.length);
    assert.match((await table.locator('tbody td:nth-child(3)').first().textContent())!, /^RSA 2048 bits$/);
    await a11yBothSizes(page, 'signing-keys');
    await page.locator('h1').focus();
    await tabTo(page, 'Copy the command kentra keys rotate');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Copied: kentra keys rotate --data-dir' }).waitFor();
    assert.equal(await focusedText(page), 'Copy the command kentra keys rotate');
  });
});
