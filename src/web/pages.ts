import { createHash } from 'node:crypto';

// Server-rendered pages: plain HTML forms that work without JavaScript, with no external assets.

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `
body{font-family:"Segoe UI",system-ui,-apple-system,sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
p{font-size:15px;line-height:1.4}
label{display:block;font-size:15px;margin:12px 0 4px}
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;font-size:15px;padding:6px 0;border:0;border-bottom:1px solid #666;outline:0}
input:focus{border-bottom-color:#0067b8}
.actions{margin-top:24px;display:flex;gap:8px;justify-content:flex-end}
button{font-size:15px;padding:6px 24px;border:0;cursor:pointer;background:#0067b8;color:#fff}
button.secondary{background:#ccc;color:#1b1b1b}
.error{color:#e81123;font-size:15px}
.brand{font-size:13px;color:#666;margin-bottom:24px;letter-spacing:.04em}
ul{padding-left:20px}
small{color:#666}
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><div class="brand">KENTRA</div>${body}</main></body></html>`;
}

const errorLine = (error?: string) => (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '');

export function deviceCodeEntryPage(error?: string): string {
  return page(
    'Enter code',
    `<h1>Enter code</h1>
<p>Enter the code displayed on your app or device.</p>${errorLine(error)}
<form method="post" action="/devicelogin">
<label for="otc">Code</label><input type="text" id="otc" name="user_code" autocomplete="off" autofocus required maxlength="20">
<div class="actions"><button type="submit">Next</button></div></form>`,
  );
}

export function signInPage(input: {
  action: string;
  state: string;
  appName: string;
  error?: string;
  loginHint?: string;
  knownAccount?: boolean;
  intro?: string;
  heading?: string;
}): string {
  // A login_hint naming a known account: Entra's "Enter password" step for that account (the name shown, the password focused).
  const known = input.knownAccount && input.loginHint;
  return page(
    'Sign in to your account',
    `<h1>${escapeHtml(input.heading ?? (known ? 'Enter password' : 'Sign in'))}</h1>
<p>${escapeHtml(input.intro ?? `to continue to ${input.appName}`)}</p>${known ? `<p class="account">${escapeHtml(input.loginHint)}</p>` : ''}${errorLine(input.error)}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="state" value="${escapeHtml(input.state)}">
<label for="username">Email, phone, or Skype</label>
<input type="email" id="username" name="username" value="${escapeHtml(input.loginHint ?? '')}" autocomplete="username" required${known ? '' : ' autofocus'}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${known ? ' autofocus' : ''}>
<div class="actions"><button type="submit">Sign in</button></div></form>`,
  );
}

/** Entra's device-code sign-in names the application the code was asked for, and that it runs elsewhere. */
export const deviceSignInText = (appName: string) => ({
  heading: `Sign in to ${appName}`,
  intro: `You're signing in to ${appName} on another device. Only continue if you started this sign-in there yourself.`,
});

export function consentPage(input: {
  action: string;
  state: string;
  appName: string;
  user: string;
  scopes: { value: string; description: string }[];
  canConsentForOrganization: boolean;
  error?: string;
}): string {
  const items = input.scopes.map((s) => `<li>${escapeHtml(s.description)} <small>(${escapeHtml(s.value)})</small></li>`).join('');
  const org = input.canConsentForOrganization
    ? '<p><label><input type="checkbox" name="for_organization" value="1"> Consent on behalf of your organization</label></p>'
    : '';
  return page(
    'Permissions requested',
    `<h1>Permissions requested</h1>
<p><strong>${escapeHtml(input.appName)}</strong> would like to:</p><ul>${items}</ul>
<p><small>Signed in as ${escapeHtml(input.user)}</small></p>${errorLine(input.error)}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="state" value="${escapeHtml(input.state)}">${org}
<div class="actions"><button type="submit" name="decision" value="decline" class="secondary">Cancel</button>
<button type="submit" name="decision" value="accept">Accept</button></div></form>`,
  );
}

export function messagePage(title: string, text: string, error = false): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p${error ? ' class="error"' : ''}>${escapeHtml(text)}</p>`);
}

const FORM_POST_SCRIPT = 'document.forms[0].submit()';
/** The CSP source of the one script Kentra's pages run (the form_post auto-submit). */
export const FORM_POST_SCRIPT_SOURCE = `'sha256-${createHash('sha256').update(FORM_POST_SCRIPT).digest('base64')}'`;

/** Posts the response to the client (response_mode=form_post); the button works without scripts. */
export function formPostPage(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(
    'Working...',
    `<form method="post" action="${escapeHtml(action)}">${inputs}
<p>Sign-in is complete.</p><div class="actions"><button type="submit">Continue</button></div></form>
<script>${FORM_POST_SCRIPT}</script>`,
  );
}

export function signedOutPage(): string {
  return messagePage('Signed out', "You have signed out of your account. It's a good idea to close all browser windows.");
}
