// A client program for test/e2e/azure-by-name.test.ts: the real msal-node and @azure/identity as a
// user's code calls them, with their DEFAULT authority (login.microsoftonline.com) and no Kentra
// setting at all; only the CA is trusted (NODE_EXTRA_CA_CERTS from `kentra env`). It runs inside the
// test's network namespace, where Microsoft's names resolve to Kentra. Prints one JSON line.

interface Scenario {
  flow:
    'msal-client-secret' | 'msal-ropc-obo' | 'identity-client-secret' | 'identity-default' | 'identity-username-password' | 'device-login';
  /** device-login: the page the client was told to open, and the code. */
  verificationUri?: string;
  userCode?: string;
  tenantId: string;
  clientId: string;
  secret?: string;
  scopes: string[];
  username?: string;
  password?: string;
  apiClientId?: string;
  apiSecret?: string;
  downstreamScopes?: string[];
  /** A Microsoft URL to call with the token, as the user's code would next. */
  call?: string;
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

async function call(url: string | undefined, token: string): Promise<unknown> {
  if (!url) return undefined;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

const decode = (v: string) =>
  v
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const field = (html: string, name: string) => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m ? decode(m[1]!) : '';
};
const formAction = (html: string) => decode(/<form method="post" action="([^"]*)"/.exec(html)?.[1] ?? '');
const post = (url: string | URL, body: Record<string, string>) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body),
    redirect: 'manual',
  });

/** A person on the device login page the client named: enters the code, signs in, accepts consent if asked. */
async function deviceLogin(s: Scenario): Promise<unknown> {
  const page = new URL(s.verificationUri!);
  const entry = await fetch(page);
  if (entry.status !== 200) throw new Error(`the device login page answered ${entry.status}`);
  const signIn = await (await post(page, { user_code: s.userCode! })).text();
  let html = await (
    await post(new URL(formAction(signIn), page), { state: field(signIn, 'state'), username: s.username!, password: s.password! })
  ).text();
  if (html.includes('name="decision"'))
    html = await (await post(new URL(formAction(html), page), { state: field(html, 'state'), decision: 'accept' })).text();
  return {
    page: html
      .replace(/<style>[\s\S]*?<\/style>|<script>[\s\S]*?<\/script>/g, '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  };
}

async function run(s: Scenario): Promise<unknown> {
  switch (s.flow) {
    case 'device-login':
      return deviceLogin(s);
    case 'msal-client-secret': {
      const m = await import('@azure/msal-node');
      // The authority every sample writes: Microsoft's host and the tenant.
      const app = new m.ConfidentialClientApplication({
        auth: { clientId: s.clientId, clientSecret: s.secret, authority: `https://login.microsoftonline.com/${s.tenantId}` },
      });
      const r = (await app.acquireTokenByClientCredential({ scopes: s.scopes }))!;
      return { claims: claimsOf(r.accessToken), call: await call(s.call, r.accessToken) };
    }
    case 'msal-ropc-obo': {
      const m = await import('@azure/msal-node');
      // No authority: msal's default, https://login.microsoftonline.com/common.
      const user = new m.PublicClientApplication({ auth: { clientId: s.clientId } });
      const u = (await user.acquireTokenByUsernamePassword({ scopes: s.scopes, username: s.username!, password: s.password! }))!;
      const api = new m.ConfidentialClientApplication({
        auth: { clientId: s.apiClientId!, clientSecret: s.apiSecret, authority: `https://login.microsoftonline.com/${s.tenantId}` },
      });
      const obo = (await api.acquireTokenOnBehalfOf({ oboAssertion: u.accessToken, scopes: s.downstreamScopes! }))!;
      return {
        user: { claims: claimsOf(u.accessToken), environment: u.account?.environment, tenantId: u.tenantId },
        obo: { claims: claimsOf(obo.accessToken) },
        call: await call(s.call, obo.accessToken),
      };
    }
    case 'identity-client-secret': {
      const id = await import('@azure/identity');
      const t = (await new id.ClientSecretCredential(s.tenantId, s.clientId, s.secret!).getToken(s.scopes))!;
      return { claims: claimsOf(t.token), call: await call(s.call, t.token) };
    }
    case 'identity-default': {
      // As a CI job runs: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the environment.
      Object.assign(process.env, { AZURE_TENANT_ID: s.tenantId, AZURE_CLIENT_ID: s.clientId, AZURE_CLIENT_SECRET: s.secret! });
      const id = await import('@azure/identity');
      const t = (await new id.DefaultAzureCredential().getToken(s.scopes))!;
      return { claims: claimsOf(t.token), call: await call(s.call, t.token) };
    }
    case 'identity-username-password': {
      const id = await import('@azure/identity');
      const t = (await new id.UsernamePasswordCredential(s.tenantId, s.clientId, s.username!, s.password!).getToken(s.scopes))!;
      return { claims: claimsOf(t.token), call: await call(s.call, t.token) };
    }
  }
}

run(JSON.parse(process.argv[2]!) as Scenario).then(
  (result) => process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`),
  (err: Error) => process.stdout.write(`${JSON.stringify({ ok: false, error: `${err.name}: ${err.message}` })}\n`),
);
