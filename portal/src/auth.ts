import { InteractionRequiredAuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-browser';

// Sign-in with Kentra itself through msal-browser v5: authorization code with PKCE, the first-party
// "Kentra portal" application (public client, spa redirect URIs on Kentra's own origin), the redirect
// bridge page redirect.html. Kentra is a non-Microsoft authority: it is listed in knownAuthorities
// (host:port), so msal skips Microsoft's instance discovery (reference/current-clients.md §7).

/** The "Kentra portal" first-party application (src/identity/directory/first-party.ts). */
export const PORTAL_APP_ID = '4b3c6e2a-5d1f-4c8e-9a7b-2e6f0d9c1a35';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
export const ARM_SCOPE = 'https://management.azure.com/.default';

const origin = window.location.origin;

export const msal = new PublicClientApplication({
  auth: {
    clientId: PORTAL_APP_ID,
    // Any work account of this Kentra; the user's home tenant comes back in the tokens.
    authority: `${origin}/organizations`,
    knownAuthorities: [window.location.host],
    redirectUri: `${origin}/portal/redirect.html`,
    postLogoutRedirectUri: `${origin}/`,
  },
  // sessionStorage: tokens end with the tab, are never in a URL and never shared with other sites.
  cache: { cacheLocation: 'sessionStorage' },
});

/** Starts msal and finishes a sign-in that came back through the redirect bridge. */
export async function startAuth(): Promise<AccountInfo | null> {
  await msal.initialize();
  const result = await msal.handleRedirectPromise();
  if (result?.account) msal.setActiveAccount(result.account);
  const account = msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;
  if (account) msal.setActiveAccount(account);
  return account;
}

export function signIn(): Promise<void> {
  return msal.loginRedirect({ scopes: [GRAPH_SCOPE], redirectStartPage: window.location.href });
}

export function signOut(): Promise<void> {
  const account = msal.getActiveAccount() ?? undefined;
  return msal.logoutRedirect({ account, postLogoutRedirectUri: `${origin}/` });
}

/** An access token for `scope`, silently (cache, then the refresh token); a redirect when Kentra asks for the user again. */
export async function accessToken(scope: string): Promise<string> {
  const account = msal.getActiveAccount();
  if (!account) throw new Error('Not signed in.');
  try {
    const r = await msal.acquireTokenSilent({ scopes: [scope], account });
    return r.accessToken;
  } catch (err) {
    if (err instanceof InteractionRequiredAuthError) {
      await msal.acquireTokenRedirect({ scopes: [scope], account, redirectStartPage: window.location.href });
    }
    throw err;
  }
}
