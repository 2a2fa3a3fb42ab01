import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM_SKIP, launchChromium } from './chromium.js';
import { startTestKentra, type TestKentra } from './kentra.js';

// The portal in the real Chromium (Debian's, through playwright-core), for the portal's tests and the
// screenshot script: start Kentra, open the portal, sign in through Kentra's real sign-in page (msal-browser's
// redirect flow), run axe-core, take screenshots. Every helper acts as a person would: it clicks what is shown.

export { CHROMIUM_SKIP };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The built portal; tests skip with this message when it is missing (npm run build makes it). */
export const PORTAL_BUILT = join(root, 'dist/portal/index.html');
/** Why the portal's Chromium tests cannot run on this machine (no Chromium, or the portal not built), or false. */
export const PORTAL_SKIP: string | false = CHROMIUM_SKIP || portalBuiltSkip();

function portalBuiltSkip(): string | false {
  if (existsSync(PORTAL_BUILT)) return false;
  // `npm test` builds it first (pretest), so in CI a missing portal is a broken build, not a reason to skip.
  if (process.env.CI) throw new Error('the portal is not built: npm run build writes dist/portal');
  return 'the portal is not built (npm run build)';
}

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;
export type Viewport = { width: number; height: number };

export interface Account {
  username: string;
  password: string;
}

export interface PortalKentra {
  k: TestKentra;
  browser: Browser;
  /** Kentra's origin as the browser reaches it: https://127.0.0.1:<port> (the portal, Graph and ARM all live there). */
  origin: string;
  close(): Promise<void>;
}

/** Starts Kentra with `seed` and Chromium trusting exactly its certificate. */
export async function startPortal(seed: string, opts: { extraArgs?: string[] } = {}): Promise<PortalKentra> {
  const k = await startTestKentra({ seed, extraArgs: opts.extraArgs });
  // Kentra listens on 127.0.0.1; Chromium may try ::1 first for `localhost`.
  const origin = k.endpoints.authority.replace('//localhost:', '//127.0.0.1:');
  let browser: Browser;
  try {
    browser = await launchChromium(origin);
  } catch (err) {
    await k.close();
    throw err;
  }
  return {
    k,
    browser,
    origin,
    async close() {
      await browser.close().catch(() => undefined);
      await k.close();
    },
  };
}

/** A fresh browser context (its own cookies and sessionStorage) and page at the given size. */
export async function newPortalPage(p: PortalKentra, viewport: Viewport = DESKTOP): Promise<{ context: BrowserContext; page: Page }> {
  const context = await p.browser.newContext({ viewport, reducedMotion: 'reduce' });
  const page = await context.newPage();
  return { context, page };
}

/**
 * Opens the portal and signs in as `account`: the portal's "Sign in" button, msal-browser's redirect to
 * Kentra's own sign-in page, the user name and password typed there, back through the redirect bridge.
 * Resolves when the signed-in portal shows its "Sign out" button.
 */
export async function signInToPortal(page: Page, origin: string, account: Account, path = '/'): Promise<void> {
  await page.goto(`${origin}/portal/#${path}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname.includes('/oauth2/v2.0/authorize'), { timeout: 20_000 });
  const username = page.locator('input[name="username"]');
  if ((await username.count()) > 0 && (await username.isEditable())) await username.fill(account.username);
  await page.locator('input[name="password"]').fill(account.password);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 20_000 });
}

/** Goes to a portal page by its route and waits for its <h1>. */
export async function gotoPortalPage(page: Page, origin: string, path: string, title?: string): Promise<void> {
  await page.goto(`${origin}/portal/#${path}`);
  const h1 = title ? page.getByRole('heading', { level: 1, name: title }) : page.locator('h1');
  await h1.first().waitFor({ timeout: 20_000 });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

const AXE_SOURCE = () => readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.1 A/AA and best practices) on the page as it is now and returns the serious and
 * critical violations; throws with their description when there are any. The page's CSP forbids inline
 * scripts, so axe is evaluated through the DevTools protocol, not injected as a <script>.
 */
export async function checkA11y(page: Page, opts: { label?: string; throwOnViolation?: boolean } = {}): Promise<AxeViolation[]> {
  // Page code as text: the tests compile without the DOM library.
  const loaded = await page.evaluate(`typeof window.axe !== 'undefined'`);
  if (!loaded) await page.evaluate(`${AXE_SOURCE()}\n;void 0`);
  const violations = (await page.evaluate(
    `window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  )) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length && opts.throwOnViolation !== false) {
    const text = bad
      .map(
        (v) =>
          `${v.impact} ${v.id}: ${v.help}\n  ${v.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`).join('\n  ')}`,
      )
      .join('\n');
    throw new Error(`axe found ${bad.length} serious/critical violation(s)${opts.label ? ` on ${opts.label}` : ''}:\n${text}`);
  }
  return bad;
}

/** A new browser page signed in to the portal as the tenant's admin (from endpoints.json), opened at `path`. */
export async function openPortalAsAdmin(
  p: PortalKentra,
  path: string,
  opts: { clipboard?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const admin = await newPortalPage(p);
  if (opts.clipboard) await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: p.origin });
  const { userPrincipalName: username, password } = p.k.endpoints.admin;
  await signInToPortal(admin.page, p.origin, { username, password }, path);
  return admin;
}

/** Saves a PNG of the page (the viewport) under `dir` (default: a temporary folder the caller names). */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const vp = page.viewportSize();
  const file = join(dir, `${name}-${vp?.width ?? 0}x${vp?.height ?? 0}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Where a test's screenshots go: docs/portal when `KENTRA_PORTAL_SCREENSHOTS=docs/portal` (the README's
 * pictures are taken so), else a temporary folder that `remove()` deletes.
 */
export function screenshotFolder(name: string): { dir: string; remove(): void } {
  const kept = process.env.KENTRA_PORTAL_SCREENSHOTS;
  const dir = kept ?? mkdtempSync(join(tmpdir(), `kentra-${name}-`));
  return { dir, remove: () => (kept ? undefined : rmSync(dir, { recursive: true, force: true })) };
}

/** axe-core at 1280×800 and at 390×844 (the same page, resized), a screenshot at each, then back to 1280×800. */
export async function checkA11yBothSizes(page: Page, dir: string, label: string): Promise<void> {
  for (const size of [DESKTOP, PHONE]) {
    await page.setViewportSize(size);
    await checkA11y(page, { label: `${label} at ${size.width}×${size.height}` });
    await screenshot(page, dir, label);
  }
  await page.setViewportSize(DESKTOP);
}

/**
 * Presses Tab (at most `max` times) until the focused element's accessible text (focusedText) equals
 * `target` or matches it: for tests of tasks done with the keyboard alone.
 */
export async function tabTo(page: Page, target: string | RegExp, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const text = await focusedText(page);
    if (typeof target === 'string' ? text === target : target.test(text)) return;
  }
  throw new Error(`Tab did not reach ${String(target)} within ${max} presses`);
}

/** The accessible text of the focused element (its aria-label, or its text), for keyboard tests. */
export async function focusedText(page: Page): Promise<string> {
  return page.evaluate<string>(`(() => {
    const el = document.activeElement;
    return ((el && (el.getAttribute('aria-label') || el.innerText)) || '').trim();
  })()`);
}
