#!/usr/bin/env node
// Screenshots of every portal page (the ones its navigation lists: portal/src/pages/index.ts) at
// 1280×800 and 390×844, saved as docs/portal/<page>-<w>x<h>.png. Run after `npm run build`:
//   node scripts/portal-screenshots.mjs [--only overview,users]
// It starts the real Kentra with a small demo directory, signs in through Kentra's own sign-in page
// in Debian's Chromium (playwright-core) and opens each page as a person would.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { startPortal, newPortalPage, signInToPortal, gotoPortalPage, screenshot, DESKTOP, PHONE } = await import(
  join(root, 'dist/test/support/portal.js')
);

const only = (() => {
  const i = process.argv.indexOf('--only');
  return i > 0 ? new Set(process.argv[i + 1].split(',')) : null;
})();

const TENANT = 'c0ffee00-0000-4000-8000-000000000001';
const ADMIN = { username: 'ada@contoso.onmicrosoft.com', password: 'Ada-Passw0rd!' };
const seed = `
tenants:
  - id: ${TENANT}
    displayName: Contoso
    domain: contoso.onmicrosoft.com
    users:
      - { userPrincipalName: ${ADMIN.username}, password: '${ADMIN.password}', displayName: Ada Lovelace, directoryRoles: [Global Administrator] }
      - { userPrincipalName: bo@contoso.onmicrosoft.com, password: 'Bo-Passw0rd!1', displayName: Bo Jensen }
      - { userPrincipalName: chen@contoso.onmicrosoft.com, password: 'Chen-Passw0rd!1', displayName: Chen Wei, accountEnabled: false }
      - { userPrincipalName: dara@contoso.onmicrosoft.com, password: 'Dara-Passw0rd!1', displayName: Dara Okafor }
    groups:
      - { displayName: platform-oncall, description: On call this week, members: [dara@contoso.onmicrosoft.com] }
      - { displayName: platform, description: Platform team, members: [bo@contoso.onmicrosoft.com] }
      - { displayName: aks-admins, description: Cluster administrators, members: [ada@contoso.onmicrosoft.com] }
      - { displayName: developers, members: [chen@contoso.onmicrosoft.com] }
    subscriptions:
      - displayName: Contoso Production
        roleAssignments:
          - { principal: ${ADMIN.username}, role: Owner }
`;

/** Nests one group in another through the Groups page (the seed file has no nested groups). */
async function nest(page, origin, group, member) {
  await gotoPortalPage(page, origin, '/groups', 'Groups');
  await page.getByRole('button', { name: `Members of ${group}`, exact: true }).click();
  const d = page.getByRole('dialog', { name: `Members of ${group}` });
  await d.getByRole('table').waitFor();
  await d.getByLabel('Add a member').selectOption({ label: `${member} (group)` });
  await d.getByRole('button', { name: 'Add', exact: true }).click();
  await d.getByRole('status').waitFor();
  await page.keyboard.press('Escape');
}

const out = join(root, 'docs/portal');
mkdirSync(out, { recursive: true });
const portal = await startPortal(seed);
try {
  for (const viewport of [DESKTOP, PHONE]) {
    const { context, page } = await newPortalPage(portal, viewport);
    await signInToPortal(page, portal.origin, ADMIN);
    if (viewport === DESKTOP) {
      await nest(page, portal.origin, 'platform', 'platform-oncall');
      await nest(page, portal.origin, 'aks-admins', 'platform');
    }
    // Every registered page is in the navigation (hidden behind Menu on the phone, but in the DOM).
    const links = await page.locator('nav a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), title: a.textContent })));
    for (const { href, title } of links) {
      const path = href.replace(/^#/, '');
      const name =
        path === '/'
          ? 'overview'
          : path
              .replace(/^\//, '')
              .replace(/[^a-z0-9]+/gi, '-')
              .toLowerCase();
      if (only && !only.has(name)) continue;
      await gotoPortalPage(page, portal.origin, path, title);
      await page
        .locator('.loading')
        .first()
        .waitFor({ state: 'detached', timeout: 15_000 })
        .catch(() => undefined);
      if (name === 'groups') {
        // The nested-membership picture is the page's point: open it.
        await page.getByRole('button', { name: 'Members of aks-admins', exact: true }).click();
        await page.getByTestId('nesting-svg').waitFor({ timeout: 15_000 });
      }
      const file = await screenshot(page, out, name);
      console.log(file.replace(`${root}/`, ''));
      await page.keyboard.press('Escape');
    }
    await context.close();
  }
} finally {
  await portal.close();
}
