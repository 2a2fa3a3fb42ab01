import { broadcastResponseToMainFrame } from '@azure/msal-browser/redirect-bridge';

// msal-browser v5's redirect bridge: the page Kentra sends the authorization response to (the portal
// app's spa redirect URI). It hands the response to the portal (redirect flow: through sessionStorage,
// then back to the page that started the sign-in; iframe/popup: through a BroadcastChannel) and removes
// the code from the address bar.
broadcastResponseToMainFrame().catch((err: unknown) => {
  const p = document.querySelector('main p');
  if (p)
    p.textContent = `Sign-in could not complete: ${err instanceof Error ? err.message : String(err)}. Go back to the portal and sign in again.`;
});
