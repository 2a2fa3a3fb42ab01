// A client program for the end-to-end tests: runs one scenario with a REAL Microsoft (or OIDC) client
// library and prints one JSON line on stdout. It runs as its own process because Node's fetch reads
// NODE_EXTRA_CA_CERTS (Kentra's CA) only at start, as a user's program would.
// Device code: prints `USER_CODE <code>` on stderr and waits for the sign-in.
import { readFileSync } from 'node:fs';

interface Scenario {
  lib: 'msal' | 'identity' | 'openid-client';
  flow: string;
  authority: string;
  tenantId: string;
  clientId: string;
  secret?: string;
  certificatePem?: string;
  privateKeyPem?: string;
  certificateFile?: string;
  thumbprintSha256?: string;
  scopes: string[];
  username?: string;
  password?: string;
  assertionFile?: string;
  /** OBO: the middle tier's own scopes first, then the downstream ones. */
  downstreamScopes?: string[];
  apiClientId?: string;
  apiSecret?: string;
  redirectUri?: string;
}

const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const onDeviceCode = (userCode: string, message: string) => process.stderr.write(`USER_CODE ${userCode}\nMESSAGE ${message}\n`);

async function msal(s: Scenario): Promise<unknown> {
  const m = await import('@azure/msal-node');
  const host = new URL(s.authority).host;
  const auth = { authority: `${s.authority}/${s.tenantId}`, knownAuthorities: [host] };
  const result = (r: any) => ({ accessToken: r.accessToken, idToken: r.idToken || undefined, scopes: r.scopes, expiresOn: r.expiresOn, account: r.account ? { homeAccountId: r.account.homeAccountId, username: r.account.username, tenantId: r.account.tenantId } : null });
  switch (s.flow) {
    case 'client-secret': {
      const app = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.clientId, clientSecret: s.secret } });
      return result(await app.acquireTokenByClientCredential({ scopes: s.scopes }));
    }
    case 'client-certificate': {
      const app = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.clientId, clientCertificate: { thumbprintSha256: s.thumbprintSha256!, privateKey: s.privateKeyPem! } } });
      return result(await app.acquireTokenByClientCredential({ scopes: s.scopes }));
    }
    case 'device-code': {
      const app = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const first = await app.acquireTokenByDeviceCode({ scopes: s.scopes, deviceCodeCallback: (r) => onDeviceCode(r.userCode, r.message) });
      const refreshed = await app.acquireTokenSilent({ account: first!.account!, scopes: s.scopes, forceRefresh: true });
      return { first: result(first), refreshed: result(refreshed) };
    }
    case 'username-password': {
      const app = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const first = await app.acquireTokenByUsernamePassword({ scopes: s.scopes, username: s.username!, password: s.password! });
      const refreshed = await app.acquireTokenSilent({ account: first!.account!, scopes: s.scopes, forceRefresh: true });
      return { first: result(first), refreshed: result(refreshed) };
    }
    case 'on-behalf-of': {
      const user = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const userToken = await user.acquireTokenByUsernamePassword({ scopes: s.scopes, username: s.username!, password: s.password! });
      const api = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.apiClientId!, clientSecret: s.apiSecret } });
      const obo = await api.acquireTokenOnBehalfOf({ oboAssertion: userToken!.accessToken, scopes: s.downstreamScopes! });
      return { user: result(userToken), obo: result(obo) };
    }
    default: throw new Error(`unknown msal flow ${s.flow}`);
  }
}

async function identity(s: Scenario): Promise<unknown> {
  const id = await import('@azure/identity');
  const opts = { authorityHost: `${s.authority}/`, disableInstanceDiscovery: true };
  let credential: { getToken(scopes: string | string[]): Promise<{ token: string; expiresOnTimestamp: number } | null> };
  switch (s.flow) {
    case 'client-secret': credential = new id.ClientSecretCredential(s.tenantId, s.clientId, s.secret!, opts); break;
    case 'client-certificate': credential = new id.ClientCertificateCredential(s.tenantId, s.clientId, { certificatePath: s.certificateFile! }, opts); break;
    case 'device-code': credential = new id.DeviceCodeCredential({ ...opts, tenantId: s.tenantId, clientId: s.clientId, userPromptCallback: (info) => onDeviceCode(info.userCode, info.message) }); break;
    case 'username-password': credential = new id.UsernamePasswordCredential(s.tenantId, s.clientId, s.username!, s.password!, opts); break;
    case 'client-assertion': credential = new id.ClientAssertionCredential(s.tenantId, s.clientId, async () => readFileSync(s.assertionFile!, 'utf8').trim(), opts); break;
    default: throw new Error(`unknown identity flow ${s.flow}`);
  }
  const token = await credential.getToken(s.scopes);
  return { accessToken: token!.token, expiresOnTimestamp: token!.expiresOnTimestamp };
}

/** Authorization code + PKCE with openid-client; the "browser" is plain form posts to the sign-in page. */
async function openidClient(s: Scenario): Promise<unknown> {
  const oc = await import('openid-client');
  const config = await oc.discovery(new URL(`${s.authority}/${s.tenantId}/v2.0`), s.clientId, undefined, oc.None());
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: s.redirectUri!, scope: s.scopes.join(' '), code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', state, nonce,
  });
  const field = (html: string, name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&');
  const action = (html: string) => /<form method="post" action="([^"]*)"/.exec(html)![1]!.replace(/&amp;/g, '&');
  const form = (body: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body), redirect: 'manual' as const });
  const text = (html: string) => html.replace(/<style>[\s\S]*?<\/style>|<script>[\s\S]*?<\/script>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  const signIn = await (await fetch(url)).text();
  if (!signIn.includes('name="password"')) throw new Error(`the authorization endpoint answered: ${text(signIn)}`);
  let res = await fetch(new URL(action(signIn), s.authority), form({ state: field(signIn, 'state')!, username: s.username!, password: s.password! }));
  if (res.status !== 302) {
    const html = await res.text();
    if (!html.includes('name="decision"')) throw new Error(`the sign-in page answered ${res.status}: ${text(html)}`);
    res = await fetch(new URL(action(html), s.authority), form({ state: field(html, 'state')!, decision: 'accept' }));
  }
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`expected a redirect to the client, got ${res.status}`);
  const tokens = await oc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  const userinfo = await oc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
  return { issuer: config.serverMetadata().issuer, idTokenClaims: tokens.claims(), accessToken: tokens.access_token, refreshToken: !!tokens.refresh_token, userinfo };
}

const scenario = JSON.parse(process.argv[2]!) as Scenario;
const run = scenario.lib === 'msal' ? msal : scenario.lib === 'identity' ? identity : openidClient;
run(scenario).then(
  (result) => { out({ ok: true, result }); process.exit(0); },
  (err: Error & { error?: string; error_description?: string }) => {
    const detail = err.error_description ? ` (${err.error}: ${err.error_description})` : '';
    out({ ok: false, error: `${err.name}: ${err.message}${detail}` });
    process.exit(0);
  },
);
