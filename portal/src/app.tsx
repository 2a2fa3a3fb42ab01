import type { AccountInfo } from '@azure/msal-browser';
import { useEffect, useRef, useState } from 'preact/hooks';
import { graph } from './api';
import { signIn, signOut } from './auth';
import { pages, type PortalPage } from './pages/index';
import { href, useRoute } from './router';
import { SessionContext, type PortalSession } from './session';
import { Button, ErrorBanner, Loading } from './ui/index';

interface Organization {
  id: string;
  displayName: string;
  verifiedDomains: { name: string; isDefault: boolean }[];
}

/** The page a route shows: the exact path, or the page whose path the route continues (`/users/<id>`). */
export function pageFor(path: string): PortalPage | undefined {
  return (
    pages.find((p) => p.path === path) ??
    pages.filter((p) => p.path !== '/' && path.startsWith(`${p.path}/`)).sort((a, b) => b.path.length - a.path.length)[0]
  );
}

const GROUPS: PortalPage['group'][] = ['Entra', 'Azure'];

function Nav({ path, id, onNavigate }: { path: string; id: string; onNavigate: () => void }) {
  const current = pageFor(path);
  return (
    <nav id={id} class="nav" aria-label="Portal">
      {GROUPS.map((g) => {
        const list = pages.filter((p) => p.group === g);
        if (list.length === 0) return null;
        return (
          <div key={g} class="nav-group">
            <h2 class="nav-title" id={`nav-${g}`}>
              {g === 'Entra' ? 'Microsoft Entra ID' : 'Azure'}
            </h2>
            <ul aria-labelledby={`nav-${g}`}>
              {list.map((p) => (
                <li key={p.path}>
                  <a href={href(p.path)} aria-current={current === p ? 'page' : undefined} onClick={onNavigate}>
                    {p.title}
                  </a>
                </li>
              ))}
            </ul>
          </div>
        );
      })}
    </nav>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <div>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        The portal has no page at <code>{path}</code>. Choose a page in the navigation, or go to the <a href={href('/')}>overview</a>.
      </p>
    </div>
  );
}

/** The signed-in portal: header, navigation, the current page. */
export function Shell({ account }: { account: AccountInfo }) {
  const path = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const [session, setSession] = useState<PortalSession>({ account, tenant: null });
  const [orgError, setOrgError] = useState<unknown>(undefined);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    graph<{ value: Organization[] }>('/organization').then(
      (r) => {
        const org = r.value[0];
        if (org) setSession({ account, tenant: { id: org.id, displayName: org.displayName, domains: org.verifiedDomains } });
      },
      (err: unknown) => setOrgError(err),
    );
  }, [account]);
  const page = pageFor(path);
  useEffect(() => {
    document.title = `${page?.title ?? 'Page not found'} – Kentra portal`;
  }, [page]);
  const Page = page?.component;
  return (
    <SessionContext.Provider value={session}>
      <a
        class="skip-link"
        href="#main-content"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to main content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            K
          </span>
          <span>
            Kentra portal
            <span class="tenant" data-testid="tenant-name">
              {session.tenant ? ` · ${session.tenant.displayName}` : ''}
            </span>
          </span>
        </div>
        <button
          type="button"
          class="btn btn-default menu-button"
          aria-expanded={menuOpen}
          aria-controls="portal-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <div class="user">
          <span class="user-name" title={account.username}>
            {account.name || account.username}
          </span>
          <Button onClick={() => void signOut()}>Sign out</Button>
        </div>
      </header>
      <div class={`layout ${menuOpen ? 'menu-open' : ''}`}>
        <Nav path={path} id="portal-nav" onNavigate={() => setMenuOpen(false)} />
        <main id="main-content" ref={main} tabIndex={-1}>
          {orgError !== undefined && <ErrorBanner error={orgError} title="The tenant could not be read" />}
          {Page ? <Page key={page.path} /> : <NotFound path={path} />}
        </main>
      </div>
    </SessionContext.Provider>
  );
}

/** Before sign-in: one button (msal's redirect to Kentra's own sign-in page). */
export function SignIn({ error }: { error?: unknown }) {
  const [busy, setBusy] = useState(false);
  return (
    <main id="main-content" class="signin">
      <div class="signin-card">
        <span class="logo logo-large" aria-hidden="true">
          K
        </span>
        <h1>Kentra portal</h1>
        <p>Users, groups, applications, clusters and their access: what your account may see and change, nothing more.</p>
        {error !== undefined && <ErrorBanner error={error} title="Sign-in did not complete" />}
        <Button
          variant="primary"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            signIn().catch(() => setBusy(false));
          }}
        >
          Sign in
        </Button>
      </div>
    </main>
  );
}

export function Starting() {
  return (
    <main id="main-content" class="signin">
      <Loading label="Starting the portal…" />
    </main>
  );
}
