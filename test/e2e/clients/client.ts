// A client program for the end-to-end tests: runs one scenario with a REAL Microsoft (or OIDC) client
// library and prints one JSON line on stdout. It runs as its own process because Node's fetch reads
// NODE_EXTRA_CA_CERTS (Kentra's CA) only at start, as a user's program would.
// Device code: prints `USER_CODE <code>` on stderr and waits for the sign-in.
import { readFileSync } from 'node:fs';

interface Scenario {
  lib: 'msal' | 'identity' | 'openid-client' | 'arm';
  subscriptionId?: string;
  resourceGroup?: string;
  clusterName?: string;
  adminGroup?: string;
  flow: string;
  authority: string;
  tenantId: string;
  clientId: string;
  secret?: string;
  certificatePem?: string;
  privateKeyPem?: string;
  certificateFile?: string;
  thumbprintSha256?: string;
  sendCertificateChain?: boolean;
  scopes: string[];
  username?: string;
  password?: string;
  assertionFile?: string;
  /** OBO: the downstream scopes; `downstream` asks for several downstream tokens in turn. */
  downstreamScopes?: string[];
  downstream?: string[][];
  apiClientId?: string;
  apiSecret?: string;
  redirectUri?: string;
  /** acquireTokenByRefreshToken: the scopes to redeem the refresh token for (default `scopes`). */
  refreshScopes?: string[];
  /** openid-client: redeem the code with a verifier that does not match the challenge. */
  wrongVerifier?: boolean;
  /** openid-client: redeem the same code a second time (after a successful redemption). */
  redeemTwice?: boolean;
  /** openid-client: how a confidential client (with `secret`) authenticates at the token endpoint. */
  clientAuth?: 'post' | 'basic';
}

const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const onDeviceCode = (userCode: string, message: string) => process.stderr.write(`USER_CODE ${userCode}\nMESSAGE ${message}\n`);

// --- a "browser": plain form posts through the sign-in and consent pages -------------------------
const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const field = (html: string, name: string) => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m ? decode(m[1]!) : undefined;
};
const action = (html: string) => decode(/<form method="post" action="([^"]*)"/.exec(html)![1]!);
const form = (body: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(body),
  redirect: 'manual' as const,
});
const pageText = (html: string) =>
  decode(
    html
      .replace(/<style>[\s\S]*?<\/style>|<script>[\s\S]*?<\/script>/g, '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );

/** The hidden fields of a form (a response_mode=form_post page). */
const hiddenFields = (html: string) =>
  Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [decode(m[1]!), decode(m[2]!)]),
  );

/**
 * Follows an authorization URL through sign-in (and consent) and returns where the server sends the
 * browser: a 303 (after the credential POST) Location, or for response_mode=form_post the auto-submitting form (`formPost`; then
 * `location` is its action with the fields as a query, for inspection).
 */
async function browse(
  url: string,
  origin: string,
  username: string,
  password: string,
): Promise<{ location: string; consented: boolean; formPost?: { action: string; fields: Record<string, string> } }> {
  const first = await fetch(url, { redirect: 'manual' });
  const signIn = await first.text();
  if (!signIn.includes('name="password"')) throw new Error(`the authorization endpoint answered ${first.status}: ${pageText(signIn)}`);
  let res = await fetch(new URL(action(signIn), origin), form({ state: field(signIn, 'state')!, username, password }));
  let consented = false;
  let html = res.status === 303 ? '' : await res.text();
  if (html.includes('name="decision"')) {
    consented = true;
    res = await fetch(new URL(action(html), origin), form({ state: field(html, 'state')!, decision: 'accept' }));
    html = res.status === 303 ? '' : await res.text();
  }
  if (res.status === 200 && /document\.forms\[0\]\.submit\(\)/.test(html)) {
    const formPost = { action: action(html), fields: hiddenFields(html) };
    return { location: `${formPost.action}?${new URLSearchParams(formPost.fields)}`, consented, formPost };
  }
  if (res.status !== 303 && html) throw new Error(`the sign-in page answered ${res.status}: ${pageText(html)}`);
  const location = res.headers.get('location');
  if (res.status !== 303 || !location) throw new Error(`expected a redirect to the client, got ${res.status}`);
  return { location, consented };
}

async function msal(s: Scenario): Promise<unknown> {
  const m = await import('@azure/msal-node');
  const host = new URL(s.authority).host;
  const auth = { authority: `${s.authority}/${s.tenantId}`, knownAuthorities: [host] };
  const result = (r: any) => ({
    accessToken: r.accessToken,
    idToken: r.idToken || undefined,
    scopes: r.scopes,
    expiresOn: r.expiresOn,
    tenantId: r.tenantId,
    uniqueId: r.uniqueId,
    fromCache: r.fromCache,
    tokenType: r.tokenType,
    account: r.account
      ? {
          homeAccountId: r.account.homeAccountId,
          localAccountId: r.account.localAccountId,
          username: r.account.username,
          tenantId: r.account.tenantId,
          environment: r.account.environment,
          name: r.account.name,
        }
      : null,
  });
  /** The refresh token msal cached: it never hands it out, but a user can read it from the serialized cache. */
  const cachedRefreshToken = (app: { getTokenCache(): { serialize(): string } }) => {
    const cache = JSON.parse(app.getTokenCache().serialize()) as { RefreshToken?: Record<string, { secret: string }> };
    return Object.values(cache.RefreshToken ?? {})[0]?.secret;
  };
  const userFlowTail = async (app: InstanceType<typeof m.PublicClientApplication>, first: any) => {
    const refreshed = await app.acquireTokenSilent({ account: first.account!, scopes: s.scopes, forceRefresh: true });
    const refreshToken = cachedRefreshToken(app);
    let byRefreshToken: unknown = null;
    if (refreshToken) {
      // A second application instance with an empty cache, as a user's other process would be.
      const other = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      byRefreshToken = result(await other.acquireTokenByRefreshToken({ refreshToken, scopes: s.refreshScopes ?? s.scopes }));
    }
    return { first: result(first), refreshed: result(refreshed), hadRefreshToken: !!refreshToken, byRefreshToken };
  };
  switch (s.flow) {
    case 'client-secret': {
      const app = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.clientId, clientSecret: s.secret } });
      const r = await app.acquireTokenByClientCredential({ scopes: s.scopes });
      const cached = await app.acquireTokenByClientCredential({ scopes: s.scopes });
      return { ...result(r), secondFromCache: cached!.fromCache };
    }
    case 'client-certificate': {
      const app = new m.ConfidentialClientApplication({
        auth: {
          ...auth,
          clientId: s.clientId,
          clientCertificate: {
            thumbprintSha256: s.thumbprintSha256!,
            privateKey: s.privateKeyPem!,
            ...(s.sendCertificateChain ? { x5c: s.certificatePem } : {}),
          },
        },
      });
      return result(await app.acquireTokenByClientCredential({ scopes: s.scopes }));
    }
    case 'device-code': {
      const app = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const first = await app.acquireTokenByDeviceCode({
        scopes: s.scopes,
        deviceCodeCallback: (r) => onDeviceCode(r.userCode, r.message),
      });
      return userFlowTail(app, first);
    }
    case 'username-password': {
      const app = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const first = await app.acquireTokenByUsernamePassword({ scopes: s.scopes, username: s.username!, password: s.password! });
      return userFlowTail(app, first);
    }
    case 'auth-code': {
      // A confidential web app: getAuthCodeUrl (PKCE) -> sign-in pages -> acquireTokenByCode.
      const app = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.clientId, clientSecret: s.secret } });
      const pkce = await new m.CryptoProvider().generatePkceCodes();
      const state = new m.CryptoProvider().createNewGuid();
      const url = await app.getAuthCodeUrl({
        scopes: s.scopes,
        redirectUri: s.redirectUri!,
        codeChallenge: pkce.challenge,
        codeChallengeMethod: 'S256',
        state,
      });
      const { location, consented } = await browse(url, s.authority, s.username!, s.password!);
      const back = new URL(location);
      if (back.searchParams.get('error'))
        throw new Error(`the server redirected with ${back.searchParams.get('error')}: ${back.searchParams.get('error_description')}`);
      if (back.searchParams.get('state') !== state) throw new Error(`state came back as ${back.searchParams.get('state')}`);
      const r = await app.acquireTokenByCode(
        { code: back.searchParams.get('code')!, scopes: s.scopes, redirectUri: s.redirectUri!, codeVerifier: pkce.verifier, state },
        {
          code: back.searchParams.get('code')!,
          client_info: back.searchParams.get('client_info') ?? undefined,
          state: back.searchParams.get('state') ?? undefined,
        },
      );
      return { authorizeUrl: url, redirectedTo: `${back.origin}${back.pathname}`, consented, ...result(r) };
    }
    case 'interactive': {
      // acquireTokenInteractive: msal listens on a loopback port; the "browser" signs in and then
      // follows the redirect to msal's listener, which takes the code and redeems it.
      const app = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      let redirectedTo = '';
      const first = await app.acquireTokenInteractive({
        scopes: s.scopes,
        openBrowser: async (url) => {
          const { location, formPost } = await browse(url, s.authority, s.username!, s.password!);
          redirectedTo = location.split('?')[0]!;
          const page = formPost ? await fetch(formPost.action, form(formPost.fields)) : await fetch(location);
          if (!page.ok) throw new Error(`msal's loopback listener answered ${page.status}`);
        },
        successTemplate: 'signed in',
        errorTemplate: 'sign-in failed',
      });
      return { ...(await userFlowTail(app, first)), redirectedTo };
    }
    case 'on-behalf-of': {
      const user = new m.PublicClientApplication({ auth: { ...auth, clientId: s.clientId } });
      const userToken = await user.acquireTokenByUsernamePassword({ scopes: s.scopes, username: s.username!, password: s.password! });
      const api = new m.ConfidentialClientApplication({ auth: { ...auth, clientId: s.apiClientId!, clientSecret: s.apiSecret } });
      const obos = [];
      for (const scopes of s.downstream ?? [s.downstreamScopes!])
        obos.push(result(await api.acquireTokenOnBehalfOf({ oboAssertion: userToken!.accessToken, scopes })));
      return { user: result(userToken), obo: obos[0], obos };
    }
    default:
      throw new Error(`unknown msal flow ${s.flow}`);
  }
}

async function identity(s: Scenario): Promise<unknown> {
  const id = await import('@azure/identity');
  const opts = { authorityHost: `${s.authority}/`, disableInstanceDiscovery: true };
  let credential: {
    getToken(
      scopes: string | string[],
    ): Promise<{ token: string; expiresOnTimestamp: number; refreshAfterTimestamp?: number; tokenType?: string } | null>;
  };
  switch (s.flow) {
    case 'client-secret':
      credential = new id.ClientSecretCredential(s.tenantId, s.clientId, s.secret!, opts);
      break;
    case 'client-certificate':
      credential = new id.ClientCertificateCredential(
        s.tenantId,
        s.clientId,
        { certificatePath: s.certificateFile! },
        { ...opts, sendCertificateChain: !!s.sendCertificateChain },
      );
      break;
    case 'device-code':
      credential = new id.DeviceCodeCredential({
        ...opts,
        tenantId: s.tenantId,
        clientId: s.clientId,
        userPromptCallback: (info) => onDeviceCode(info.userCode, info.message),
      });
      break;
    case 'username-password':
      credential = new id.UsernamePasswordCredential(s.tenantId, s.clientId, s.username!, s.password!, opts);
      break;
    case 'client-assertion':
      credential = new id.ClientAssertionCredential(
        s.tenantId,
        s.clientId,
        async () => readFileSync(s.assertionFile!, 'utf8').trim(),
        opts,
      );
      break;
    case 'default-workload-identity':
    case 'default-environment': {
      // As a pod with the workload identity webhook (or a CI job with the AZURE_* variables) runs:
      // everything comes from the environment, and DefaultAzureCredential picks the credential.
      Object.assign(process.env, { AZURE_AUTHORITY_HOST: opts.authorityHost, AZURE_TENANT_ID: s.tenantId, AZURE_CLIENT_ID: s.clientId });
      if (s.flow === 'default-workload-identity') process.env.AZURE_FEDERATED_TOKEN_FILE = s.assertionFile!;
      else process.env.AZURE_CLIENT_SECRET = s.secret!;
      credential = new id.DefaultAzureCredential({ disableInstanceDiscovery: true });
      break;
    }
    case 'on-behalf-of': {
      const user = await new id.UsernamePasswordCredential(s.tenantId, s.clientId, s.username!, s.password!, opts).getToken(s.scopes);
      const obo = new id.OnBehalfOfCredential({
        ...opts,
        tenantId: s.tenantId,
        clientId: s.apiClientId!,
        clientSecret: s.apiSecret!,
        userAssertionToken: user!.token,
      });
      const token = await obo.getToken(s.downstreamScopes!);
      return { userToken: user!.token, accessToken: token!.token, expiresOnTimestamp: token!.expiresOnTimestamp };
    }
    default:
      throw new Error(`unknown identity flow ${s.flow}`);
  }
  const token = await credential.getToken(s.scopes);
  // A second call is answered from the credential's cache (no second sign-in for the user flows).
  const again = await credential.getToken(s.scopes);
  return {
    accessToken: token!.token,
    expiresOnTimestamp: token!.expiresOnTimestamp,
    refreshAfterTimestamp: token!.refreshAfterTimestamp,
    tokenType: token!.tokenType,
    secondCallSameToken: again!.token === token!.token,
  };
}

/** @azure/arm-containerservice against Kentra's ARM: create (a long-running operation), get, credentials, delete. */
async function arm(s: Scenario): Promise<unknown> {
  const { ClientSecretCredential } = await import('@azure/identity');
  const { ContainerServiceClient } = await import('@azure/arm-containerservice');
  const credential = new ClientSecretCredential(s.tenantId, s.clientId, s.secret!, {
    authorityHost: `${s.authority}/`,
    disableInstanceDiscovery: true,
  });
  const client = new ContainerServiceClient(credential, s.subscriptionId!, {
    endpoint: s.authority,
    credentials: { scopes: ['https://management.azure.com/.default'] },
  });
  const created = await client.managedClusters.createOrUpdate(
    s.resourceGroup!,
    s.clusterName!,
    {
      location: 'eastus',
      dnsPrefix: s.clusterName,
      identity: { type: 'SystemAssigned' },
      agentPoolProfiles: [{ name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2', mode: 'System' }],
      aadProfile: { managed: true, adminGroupObjectIDs: [s.adminGroup!] },
      enableRbac: true,
    },
    { updateIntervalInMs: 200 },
  );
  const got = await client.managedClusters.get(s.resourceGroup!, s.clusterName!);
  const creds = await client.managedClusters.listClusterUserCredentials(s.resourceGroup!, s.clusterName!);
  const kubeconfig = Buffer.from(creds.kubeconfigs![0]!.value!).toString('utf8');
  await client.managedClusters.delete(s.resourceGroup!, s.clusterName!, { updateIntervalInMs: 200 });
  let afterDelete = 'present';
  try {
    await client.managedClusters.get(s.resourceGroup!, s.clusterName!);
  } catch (err) {
    afterDelete = String((err as { code?: string }).code);
  }
  return {
    provisioningState: created.provisioningState,
    aadProfile: got.aadProfile,
    fqdn: got.fqdn,
    kubeconfigName: creds.kubeconfigs![0]!.name,
    kubeconfig,
    afterDelete,
  };
}

/** Authorization code + PKCE with openid-client; the "browser" is plain form posts to the sign-in page. */
async function openidClient(s: Scenario): Promise<unknown> {
  const oc = await import('openid-client');
  const auth = !s.secret ? oc.None() : s.clientAuth === 'basic' ? oc.ClientSecretBasic(s.secret) : oc.ClientSecretPost(s.secret);
  const config = await oc.discovery(new URL(`${s.authority}/${s.tenantId}/v2.0`), s.clientId, undefined, auth);
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const nonce = oc.randomNonce();
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: s.redirectUri!,
    scope: s.scopes.join(' '),
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  if (s.flow === 'authorize-page') {
    // Only what the authorization endpoint shows for this URL (e.g. an error page), no sign-in.
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location'), text: pageText(await res.text()) };
  }
  const { location, consented } = await browse(url.href, s.authority, s.username!, s.password!);
  const checks = {
    pkceCodeVerifier: s.wrongVerifier ? oc.randomPKCECodeVerifier() : verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  };
  const tokens = await oc.authorizationCodeGrant(config, new URL(location), checks);
  const userinfo = await oc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
  let refreshed: { accessToken: string; idTokenClaims: unknown } | null = null;
  let latestRefreshToken = tokens.refresh_token;
  if (tokens.refresh_token) {
    const r = await oc.refreshTokenGrant(config, tokens.refresh_token);
    refreshed = { accessToken: r.access_token, idTokenClaims: r.claims() ?? null };
    latestRefreshToken = r.refresh_token ?? latestRefreshToken;
  }
  const failure = (err: Error & { error?: string; error_description?: string }) =>
    `${err.name}: ${err.message} (${err.error}: ${err.error_description})`;
  let secondRedemption: string | null = null;
  let refreshAfterReplay: string | null = null;
  if (s.redeemTwice) {
    // A replayed code is refused, and the refresh tokens issued from it are revoked (RFC 6749 §4.1.2).
    secondRedemption = await oc
      .authorizationCodeGrant(config, new URL(location), checks)
      .then(() => 'the code was accepted twice', failure);
    if (latestRefreshToken)
      refreshAfterReplay = await oc.refreshTokenGrant(config, latestRefreshToken).then(() => 'the refresh token still works', failure);
  }
  return {
    issuer: config.serverMetadata().issuer,
    idTokenClaims: tokens.claims(),
    idToken: tokens.id_token,
    accessToken: tokens.access_token,
    refreshToken: !!tokens.refresh_token,
    tokenType: tokens.token_type,
    expiresIn: tokens.expiresIn(),
    scope: tokens.scope,
    redirectedTo: location.split('?')[0],
    consented,
    userinfo,
    refreshed,
    secondRedemption,
    refreshAfterReplay,
  };
}

const scenario = JSON.parse(process.argv[2]!) as Scenario;
const run = scenario.lib === 'msal' ? msal : scenario.lib === 'identity' ? identity : scenario.lib === 'arm' ? arm : openidClient;
run(scenario).then(
  (result) => {
    out({ ok: true, result });
    process.exit(0);
  },
  (err: Error & { error?: string; error_description?: string; errorCode?: string; code?: string }) => {
    const detail = err.error_description ? ` (${err.error}: ${err.error_description})` : '';
    out({ ok: false, error: `${err.name}: ${err.message}${detail}`, errorCode: err.errorCode ?? err.code ?? err.error });
    process.exit(0);
  },
);
