import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { HttpsJsonError, requestJson, type JsonAnswer } from '../shared/https-json.js';
import { signJwt } from '../shared/jwt.js';
import { readEntry, removeEntry, usable, withLock, writeEntry, type CacheEntry } from './cache.cjs';
import { popKey, reqCnf } from './pop.cjs';
import { KubeloginError, scopeOf, type TokenOptions } from './options.cjs';

/**
 * The outside world of a sign-in, injected so the flows are tested without a network, a browser or a
 * real clock (int128/kubelogin's habit). `realPorts` is the default; the file-system cache stays in cache.cts.
 */
export interface KubeloginPorts {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** The one JSON call (src/shared/https-json). */
  http: typeof requestJson;
  /** Opens the authorize URL for `-l interactive` (it is printed on stderr as well). */
  openBrowser(url: string, env: NodeJS.ProcessEnv): void;
}

export const realPorts: KubeloginPorts = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  http: requestJson,
  openBrowser(url, env) {
    const browser = env.BROWSER || (process.platform === 'darwin' ? 'open' : env.DISPLAY || env.WAYLAND_DISPLAY ? 'xdg-open' : '');
    if (browser)
      spawn(browser, [url], { stdio: 'ignore', detached: true })
        .on('error', () => {})
        .unref();
  },
};

// Everything a cache miss needs: the token endpoint, device code, password, client credentials
// (secret, certificate, federated assertion), refresh, and the CLI modes. Loaded only on a miss.

const CLOUDS: Record<string, string> = {
  AZURECLOUD: 'https://login.microsoftonline.com/',
  AZUREPUBLIC: 'https://login.microsoftonline.com/',
  AZUREPUBLICCLOUD: 'https://login.microsoftonline.com/',
  AZUREUSGOVERNMENT: 'https://login.microsoftonline.us/',
  AZUREUSGOVERNMENTCLOUD: 'https://login.microsoftonline.us/',
  AZURECHINACLOUD: 'https://login.chinacloudapi.cn/',
};

interface Authority {
  host: string;
  ca?: string[];
}

/** Where tokens come from: --authority-host, else the --environment, where `Kentra` reads endpoints.json. */
export function resolveAuthority(o: TokenOptions, env: NodeJS.ProcessEnv): Authority {
  let kentraCa: string[] | undefined;
  const kentra = () => {
    const dir = env.KENTRA_DATA_DIR || join(homedir(), '.kentra');
    try {
      const e = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as { authority: string; caFile: string };
      kentraCa = existsSync(e.caFile) ? [...rootCertificates, readFileSync(e.caFile, 'utf8')] : undefined;
      return `${e.authority}/`;
    } catch {
      throw new KubeloginError(
        `the Kentra environment needs ${join(dir, 'endpoints.json')}: start Kentra with \`kentra up\` or set KENTRA_DATA_DIR`,
      );
    }
  };
  if (o.authorityHost) {
    // The local Kentra (endpoints.json in its data directory) is trusted by its own CA, without NODE_EXTRA_CA_CERTS.
    try {
      const e = JSON.parse(readFileSync(join(env.KENTRA_DATA_DIR || join(homedir(), '.kentra'), 'endpoints.json'), 'utf8')) as {
        authority: string;
        caFile: string;
      };
      if (`${e.authority}/` === o.authorityHost && existsSync(e.caFile))
        return { host: o.authorityHost, ca: [...rootCertificates, readFileSync(e.caFile, 'utf8')] };
    } catch {
      /* not a local Kentra */
    }
    return { host: o.authorityHost };
  }
  const name = o.environment.toUpperCase();
  const host = name === 'KENTRA' ? kentra() : (CLOUDS[name] ?? CLOUDS.AZUREPUBLICCLOUD!);
  return { host, ca: kentraCa };
}

interface TokenResponse {
  access_token: string;
  expires_in: number | string;
  refresh_token?: string;
  client_info?: string;
  id_token?: string;
  message?: string;
}

class OAuthError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** An OAuth error answer's fields. */
interface OAuthErrorJson {
  error?: unknown;
  error_description?: unknown;
}

/** Azure AD's device authorization answer. */
interface DeviceCodeResponse {
  device_code: string;
  message: string;
  expires_in: number | string;
  interval?: number | string;
}

async function post<T = TokenResponse>(p: KubeloginPorts, url: string, form: Record<string, string>, ca?: string[]): Promise<T> {
  // No timeout of its own: --timeout bounds the whole sign-in.
  const answer = await p.http<T & OAuthErrorJson>(url, { method: 'POST', form, ...(ca ? { ca } : {}), timeoutMs: 0 });
  const body = answer.json;
  if (body === undefined || body === null) throw new Error(`${url} answered HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
  if (answer.status >= 400) throw new OAuthError(String(body.error), String(body.error_description ?? body.error).split('\r\n')[0]!);
  return body;
}

function toEntry(p: KubeloginPorts, body: TokenResponse, tenantId: string, username?: string): CacheEntry {
  return {
    accessToken: body.access_token,
    expiresOn: Math.floor(p.now() / 1000) + Number(body.expires_in),
    refreshToken: body.refresh_token,
    tenantId,
    username,
  };
}

function requireFields(o: TokenOptions, fields: [keyof TokenOptions, string][]): void {
  for (const [key, label] of fields) if (!o[key]) throw new KubeloginError(`${label} cannot be empty`);
}

/**
 * The certificate and key of a PFX/PKCS#12 file, as PEM. Node's crypto can use a PFX for TLS
 * (`tls.createSecureContext({ pfx })`) but cannot export its key, and no PKCS#12 parser is a dependency,
 * so this runs `openssl pkcs12` once per sign-in (never on the cache-hit path). The password goes to
 * openssl in its environment, not its argv.
 */
function pfxToPem(file: string, password: string): string {
  const run = (legacy: boolean) =>
    spawnSync('openssl', ['pkcs12', '-in', file, '-nodes', '-passin', 'env:KUBELOGIN_PFX_PASSWORD', ...(legacy ? ['-legacy'] : [])], {
      env: { PATH: process.env.PATH, KUBELOGIN_PFX_PASSWORD: password },
      encoding: 'utf8',
      timeout: 10_000,
    });
  let r = run(false);
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new KubeloginError(
      `cannot read the PKCS#12 (PFX) client certificate ${file}: this needs the openssl command, which is not on PATH (Node.js cannot export a key from PKCS#12). Install openssl, or convert it once with \`openssl pkcs12 -in ${file} -nodes -out cert.pem\` and pass the PEM file`,
    );
  }
  // OpenSSL 3 reads old RC2/3DES PFX files (Windows exports) only with -legacy.
  if (r.status !== 0 && /unsupported|RC2|legacy/i.test(r.stderr)) r = run(true);
  if (r.status !== 0) {
    const wrongPassword = /mac verify failure|invalid password|bad decrypt/i.test(r.stderr);
    throw new KubeloginError(
      `cannot read the PKCS#12 (PFX) client certificate ${file}: ${wrongPassword ? 'wrong password (--client-certificate-password or AZURE_CLIENT_CERTIFICATE_PASSWORD)' : r.stderr.trim().split('\n')[0] || 'not a PKCS#12 file'}`,
    );
  }
  return r.stdout;
}

/** A client assertion signed with the certificate and key (PEM, or PFX/PKCS#12), as azidentity sends it (PS256, x5t#S256). */
function certificateAssertion(o: TokenOptions, audience: string): string {
  const raw = readFileSync(o.clientCert);
  // azidentity's ParseCertificates: PEM when it has PEM blocks, PKCS#12 otherwise.
  const isPem = raw.includes('-----BEGIN ');
  const pem = isPem ? raw.toString('utf8') : pfxToPem(o.clientCert, o.clientCertPassword);
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!certPem) throw new KubeloginError(`no certificate found in ${o.clientCert}`);
  const keyPem = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(
    pem,
  )?.[0];
  if (!keyPem) throw new KubeloginError(`no private key found in ${o.clientCert}`);
  const key = createPrivateKey({ key: keyPem, passphrase: isPem ? o.clientCertPassword || undefined : undefined });
  const der = new X509Certificate(certPem).raw;
  const now = Math.floor(Date.now() / 1000);
  return signJwt(
    { alg: 'PS256', typ: 'JWT', 'x5t#S256': createHash('sha256').update(der).digest('base64url') },
    { aud: audience, iss: o.clientId, sub: o.clientId, jti: randomUUID(), nbf: now, iat: now, exp: now + 600 },
    key,
  );
}

/**
 * ADAL's `adal.NewOAuthConfig` (upstream's --legacy paths) adds `api-version=1.0` to the v1 endpoints; Entra then
 * names an app-id resource `spn:<appId>` in the token's `aud`: "a token with 'spn:' prefix in audience claim".
 */
const ADAL_API_VERSION = '?api-version=1.0';

async function deviceCode(
  p: KubeloginPorts,
  o: TokenOptions,
  a: Authority,
  scope: string,
  stderr: NodeJS.WritableStream,
): Promise<TokenResponse> {
  // --legacy: ADAL's device flow on the v1 endpoints with resource = the server id.
  const base = o.isLegacy ? `${a.host}${o.tenantId}/oauth2` : `${a.host}${o.tenantId}/oauth2/v2.0`;
  const query = o.isLegacy ? ADAL_API_VERSION : '';
  const target: Record<string, string> = o.isLegacy
    ? { resource: scope.replace('/.default', '') }
    : { scope: `${scope} openid offline_access profile` };
  const dc = await post<DeviceCodeResponse>(p, `${base}/devicecode${query}`, { client_id: o.clientId, ...target }, a.ca);
  // The server's message, verbatim, on stderr: kubectl passes it through to the terminal.
  stderr.write(`${dc.message}\n`);
  const deadline = p.now() + Number(dc.expires_in) * 1000;
  for (;;) {
    await p.sleep(Number(dc.interval ?? 5) * 1000);
    try {
      return await post(
        p,
        `${base}/token${query}`,
        o.isLegacy
          ? // ADAL sends the device code as `code`; Kentra's token endpoint reads `device_code`, so both go.
            { client_id: o.clientId, grant_type: 'device_code', code: dc.device_code, device_code: dc.device_code, ...target }
          : { client_id: o.clientId, grant_type: 'device_code', device_code: dc.device_code, client_info: '1', ...target },
        a.ca,
      );
    } catch (err) {
      if (err instanceof OAuthError && err.error === 'authorization_pending' && p.now() < deadline) continue;
      throw err;
    }
  }
}

/** A managed identity endpoint's token answer (App Service / Arc style, or IMDS). */
interface ManagedIdentityToken {
  access_token: string;
  expires_on?: number | string;
  expires_in?: number | string;
  error?: unknown;
  error_description?: unknown;
}

async function get(url: string, headers: Record<string, string>, ca?: string[]): Promise<ManagedIdentityToken> {
  const shown = url.split('?')[0];
  let answer: JsonAnswer<ManagedIdentityToken>;
  try {
    answer = await requestJson<ManagedIdentityToken>(url, { headers, ...(ca ? { ca } : {}), timeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof HttpsJsonError && err.code === 'timeout')
      throw new Error(`ManagedIdentityCredential: no answer from ${shown}`, { cause: err });
    throw new Error(`ManagedIdentityCredential: ${(err as Error).message}`, { cause: err });
  }
  const body = answer.json;
  if (body === undefined || body === null) throw new Error(`${shown} answered HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
  if (answer.status >= 400)
    throw new Error(`ManagedIdentityCredential: ${body.error_description ?? body.error ?? `HTTP ${answer.status}`}`);
  return body;
}

/**
 * Managed identity: the App Service / Arc style endpoint when IDENTITY_ENDPOINT is set (Kentra serves
 * one at `<authority>/metadata/identity/oauth2/token`), otherwise the instance metadata service.
 */
async function managedIdentity(o: TokenOptions, env: NodeJS.ProcessEnv): Promise<CacheEntry> {
  const endpoint =
    env.IDENTITY_ENDPOINT ||
    `${(env.AZURE_POD_IDENTITY_AUTHORITY_HOST || 'http://169.254.169.254').replace(/\/+$/, '')}/metadata/identity/oauth2/token`;
  const params = new URLSearchParams({ 'api-version': env.IDENTITY_ENDPOINT ? '2019-08-01' : '2018-02-01', resource: o.serverId });
  if (o.clientId) params.set('client_id', o.clientId);
  else if (o.identityResourceId) params.set(env.IDENTITY_ENDPOINT ? 'mi_res_id' : 'msi_res_id', o.identityResourceId);
  const headers: Record<string, string> = { Metadata: 'true' };
  if (env.IDENTITY_HEADER) headers['X-IDENTITY-HEADER'] = env.IDENTITY_HEADER;
  const body = await get(`${endpoint}?${params}`, headers);
  return { accessToken: body.access_token, expiresOn: Number(body.expires_on) || Math.floor(Date.now() / 1000) + Number(body.expires_in) };
}

/**
 * Interactive: authorization code with PKCE and a loopback redirect. The browser is $BROWSER, or the
 * system opener when there is a display; the URL is always printed on stderr so it can be opened by hand.
 */
async function interactive(
  p: KubeloginPorts,
  o: TokenOptions,
  a: Authority,
  scope: string,
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
  extra: Record<string, string> = {},
): Promise<TokenResponse> {
  const { createServer } = await import('node:http');
  const { randomBytes } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const wanted = o.redirectUrl ? new URL(o.redirectUrl) : null;
  let redirectUri = '';
  const code = await new Promise<string>((resolvePromise, reject) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (wanted && url.pathname !== wanted.pathname) {
        res.writeHead(404).end();
        return;
      }
      const done = (ok: boolean, text: string) => {
        res
          .writeHead(ok ? 200 : 400, { 'content-type': 'text/html; charset=utf-8' })
          .end(`<!doctype html><title>kubelogin</title><p>${text}</p>`);
        server.close();
      };
      if (url.searchParams.get('state') !== state) {
        done(false, 'The sign-in response does not match this request.');
        return reject(new KubeloginError('interactive sign-in: state mismatch'));
      }
      const error = url.searchParams.get('error');
      if (error) {
        done(false, 'Sign-in failed. You can close this window.');
        return reject(new KubeloginError(`InteractiveBrowserCredential: ${url.searchParams.get('error_description') ?? error}`));
      }
      done(true, 'Authentication complete. You can close this window and return to the application.');
      resolvePromise(url.searchParams.get('code') ?? '');
    });
    server.on('error', reject);
    server.listen(wanted ? Number(wanted.port || 80) : 0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      redirectUri = wanted ? o.redirectUrl : `http://localhost:${port}`;
      const params = new URLSearchParams({
        client_id: o.clientId,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: `${scope} openid offline_access profile`,
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        prompt: 'select_account',
        ...(o.loginHint ? { login_hint: o.loginHint } : {}),
      });
      const authorizeUrl = `${a.host}${o.tenantId}/oauth2/v2.0/authorize?${params}`;
      stderr.write(`To sign in, open ${authorizeUrl} in a browser.\n`);
      p.openBrowser(authorizeUrl, env);
    });
  });
  return post(
    p,
    `${a.host}${o.tenantId}/oauth2/v2.0/token`,
    {
      client_id: o.clientId,
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      scope: `${scope} openid offline_access profile`,
      client_info: '1',
      ...extra,
    },
    a.ca,
  );
}

/** The `kentra login` session, or the real `az`, for `-l azurecli`. */
async function azureCli(o: TokenOptions, env: NodeJS.ProcessEnv): Promise<CacheEntry> {
  const preferAz = env.KUBELOGIN_AZURE_CLI === 'az';
  const kentraProfile = join(env.KENTRA_CONFIG_DIR || join(homedir(), '.kentra-cli'), 'profile.json');
  if (!preferAz && existsSync(kentraProfile)) {
    const { Session } = await import('../cli/session.js');
    const session = new Session();
    if (session.account) {
      const t = await session.token(scopeOf(o.serverId), o.tenantId || undefined);
      return { accessToken: t.token, expiresOn: t.expiresOn, tenantId: t.tenant };
    }
  }
  const args = ['account', 'get-access-token', '--resource', o.serverId, '-o', 'json'];
  if (o.tenantId) args.push('--tenant', o.tenantId);
  if (o.subscription) args.push('--subscription', o.subscription);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('az', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', () =>
      reject(new KubeloginError('AzureCLICredential: Azure CLI not found on path (neither `kentra login` nor `az login` has been run)')),
    );
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new KubeloginError(`AzureCLICredential: ${stderr.trim() || `az exited with ${code}`}`)),
    );
  });
  const body = JSON.parse(out) as { accessToken: string; expiresOn: string; expires_on?: number; tenant?: string };
  const expiresOn = body.expires_on ?? Math.floor(new Date(body.expiresOn.replace(' ', 'T')).getTime() / 1000);
  return { accessToken: body.accessToken, expiresOn, tenantId: body.tenant };
}

/** `-l azd`: azidentity's AzureDeveloperCLICredential runs `azd auth token` and reads `{token, expiresOn}`. */
async function azureDeveloperCli(o: TokenOptions, env: NodeJS.ProcessEnv): Promise<CacheEntry> {
  const args = ['auth', 'token', '--output', 'json', '--no-prompt', '--scope', scopeOf(o.serverId)];
  if (o.tenantId) args.push('--tenant-id', o.tenantId);
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('azd', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', () => reject(new KubeloginError('AzureDeveloperCLICredential: Azure Developer CLI not found on path')));
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new KubeloginError(`failed to get token: AzureDeveloperCLICredential: ${stderr.trim() || `azd exited with ${code}`}`)),
    );
  });
  let body: { token?: string; expiresOn?: string };
  try {
    body = JSON.parse(out);
  } catch {
    throw new KubeloginError(
      `failed to get token: AzureDeveloperCLICredential: cannot parse the output of azd auth token: ${out.slice(0, 200)}`,
    );
  }
  const expiresOn = Math.floor(new Date(body.expiresOn ?? '').getTime() / 1000);
  if (!body.token || !Number.isFinite(expiresOn))
    throw new KubeloginError('failed to get token: AzureDeveloperCLICredential: azd auth token gave no token or expiresOn');
  return { accessToken: body.token, expiresOn, tenantId: o.tenantId || undefined };
}

/**
 * The pipeline job's OIDC token for a service connection: POST `$SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=<id>`
 * with the job's `SYSTEM_ACCESSTOKEN` as bearer, answer `{"oidcToken": …}` (azidentity azure_pipelines_credential.go).
 */
async function azurePipelinesOidcToken(requestUri: string, connectionId: string, systemAccessToken: string): Promise<string> {
  const url = new URL(requestUri);
  url.searchParams.set('api-version', '7.1');
  url.searchParams.set('serviceConnectionId', connectionId);
  let status: number;
  let text: string;
  try {
    ({ status, text } = await requestJson(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${systemAccessToken}`, 'content-type': 'application/json', 'x-tfs-fedauthredirect': 'Suppress' },
      timeoutMs: 30_000,
    }));
  } catch (err) {
    const message =
      err instanceof HttpsJsonError && err.code === 'timeout' ? 'no answer from SYSTEM_OIDCREQUESTURI' : (err as Error).message;
    throw new Error(`AzurePipelinesCredential: ${message}${tlsHint(err as NodeJS.ErrnoException)}`, { cause: err });
  }
  let token: unknown;
  try {
    token = (JSON.parse(text) as { oidcToken?: unknown }).oidcToken;
  } catch {
    /* not JSON */
  }
  if (status !== 200 || typeof token !== 'string' || !token) {
    throw new KubeloginError(
      `failed to get token: AzurePipelinesCredential: the OIDC token request for service connection ${connectionId} answered HTTP ${status}: ${text.slice(0, 200)}`,
    );
  }
  return token;
}

/** Node's codes for a server certificate it cannot verify (a private CA such as Kentra's). */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

/** What to run when the authority's certificate is not trusted: Kentra's shell set-up trusts its CA. */
export function tlsHint(err: NodeJS.ErrnoException): string {
  const code = err instanceof HttpsJsonError ? err.systemCode : err.code;
  if (!code || !UNTRUSTED_CERTIFICATE.has(code)) return '';
  return (
    "\nThe authority's TLS certificate is not trusted by this kubelogin (Node.js). If the authority is Kentra, run\n" +
    '  eval "$(kentra env)"\nin this shell (it sets NODE_EXTRA_CA_CERTS to Kentra\'s CA), or set NODE_EXTRA_CA_CERTS to the CA file yourself, and try again.'
  );
}

/** A token for the cache miss: refresh silently when possible, sign in otherwise; cache the result. */
export async function acquire(
  o: TokenOptions,
  file: string,
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
  p: KubeloginPorts = realPorts,
): Promise<CacheEntry> {
  const scope = scopeOf(o.serverId);
  const now = () => Math.floor(p.now() / 1000);

  const fetchToken = async (): Promise<CacheEntry> => {
    if (o.isPoPTokenEnabled && !['spn', 'ropc', 'interactive'].includes(o.loginMethod)) {
      throw new KubeloginError(
        `--pop-enabled works with -l interactive, spn and ropc (as upstream's PoP credentials), not with -l ${o.loginMethod}`,
      );
    }
    if (o.loginMethod === 'azurecli') return azureCli(o, env);
    if (o.loginMethod === 'msi') return managedIdentity(o, env);
    if (o.loginMethod === 'azd') return azureDeveloperCli(o, env);
    // PoP: every token request names this cache dir's key (upstream's TokenRequestParams).
    const popParams: Record<string, string> = o.isPoPTokenEnabled ? { token_type: 'pop', req_cnf: reqCnf(popKey(o.tokenCacheDir)) } : {};
    const a = resolveAuthority(o, env);
    const tokenUrl = `${a.host}${o.tenantId}/oauth2/v2.0/token`;
    const v1TokenUrl = `${a.host}${o.tenantId}/oauth2/token${ADAL_API_VERSION}`;
    const resource = scope.replace('/.default', '');
    switch (o.loginMethod) {
      case 'devicecode':
      case 'ropc':
      case 'interactive': {
        requireFields(o, [
          ['clientId', 'client ID'],
          ['tenantId', 'tenant ID'],
        ]);
        const cached = readEntry(file);
        if (cached?.refreshToken) {
          try {
            const body = o.isLegacy
              ? await post(
                  p,
                  v1TokenUrl,
                  { client_id: o.clientId, grant_type: 'refresh_token', refresh_token: cached.refreshToken, resource },
                  a.ca,
                )
              : await post(
                  p,
                  tokenUrl,
                  {
                    client_id: o.clientId,
                    grant_type: 'refresh_token',
                    refresh_token: cached.refreshToken,
                    scope: `${scope} openid offline_access profile`,
                    client_info: '1',
                    ...popParams,
                  },
                  a.ca,
                );
            return toEntry(p, body, o.tenantId, cached.username);
          } catch (err) {
            // A revoked or expired refresh token: forget it and sign in again, once.
            if (!(err instanceof OAuthError)) throw err;
            removeEntry(file);
          }
        }
        if (o.loginMethod === 'ropc') {
          requireFields(o, [
            ['username', 'username'],
            ['password', 'password'],
          ]);
          const body = o.isLegacy
            ? await post(
                p,
                v1TokenUrl,
                { client_id: o.clientId, grant_type: 'password', username: o.username, password: o.password, resource },
                a.ca,
              )
            : await post(
                p,
                tokenUrl,
                {
                  client_id: o.clientId,
                  grant_type: 'password',
                  username: o.username,
                  password: o.password,
                  scope: `${scope} openid offline_access profile`,
                  client_info: '1',
                  ...popParams,
                },
                a.ca,
              );
          return toEntry(p, body, o.tenantId, o.username);
        }
        if (o.loginMethod === 'interactive') return toEntry(p, await interactive(p, o, a, scope, env, stderr, popParams), o.tenantId);
        return toEntry(p, await deviceCode(p, o, a, scope, stderr), o.tenantId);
      }
      case 'spn': {
        requireFields(o, [
          ['clientId', 'client ID'],
          ['tenantId', 'tenant ID'],
        ]);
        if (!o.clientSecret && !o.clientCert) throw new KubeloginError('client secret cannot be empty');
        const credential: Record<string, string> = o.clientSecret
          ? { client_secret: o.clientSecret }
          : {
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: certificateAssertion(o, tokenUrl),
            };
        // --legacy: ADAL on the v1 endpoint, resource = the server id (upstream's ADALClientSecret/CertCredential).
        if (o.isLegacy)
          return toEntry(
            p,
            await post(p, v1TokenUrl, { client_id: o.clientId, grant_type: 'client_credentials', resource, ...credential }, a.ca),
            o.tenantId,
          );
        return toEntry(
          p,
          await post(p, tokenUrl, { client_id: o.clientId, grant_type: 'client_credentials', scope, ...credential, ...popParams }, a.ca),
          o.tenantId,
        );
      }
      case 'azurepipelines': {
        // azidentity's AzurePipelinesCredential: the job's OIDC token for the service connection, as a client assertion.
        const systemAccessToken = env.SYSTEM_ACCESSTOKEN;
        if (!systemAccessToken) throw new KubeloginError('SYSTEM_ACCESSTOKEN environment variable not set');
        const oidcUri = env.SYSTEM_OIDCREQUESTURI;
        if (!oidcUri)
          throw new KubeloginError(
            'failed to create azure pipelines credential: no value for environment variable SYSTEM_OIDCREQUESTURI. This should be set by Azure Pipelines',
          );
        requireFields(o, [
          ['clientId', 'client ID'],
          ['tenantId', 'tenant ID'],
          ['azurePipelinesServiceConnectionId', 'service connection ID'],
        ]);
        const assertion = await azurePipelinesOidcToken(oidcUri, o.azurePipelinesServiceConnectionId, systemAccessToken);
        return toEntry(
          p,
          await post(
            p,
            tokenUrl,
            {
              client_id: o.clientId,
              grant_type: 'client_credentials',
              scope,
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: assertion,
            },
            a.ca,
          ),
          o.tenantId,
        );
      }
      case 'workloadidentity': {
        requireFields(o, [
          ['clientId', 'client ID'],
          ['tenantId', 'tenant ID'],
          ['federatedTokenFile', 'federated token file'],
        ]);
        const assertion = readFileSync(o.federatedTokenFile, 'utf8').trim();
        return toEntry(
          p,
          await post(
            p,
            tokenUrl,
            {
              client_id: o.clientId,
              grant_type: 'client_credentials',
              scope,
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: assertion,
            },
            a.ca,
          ),
          o.tenantId,
        );
      }
      default:
        throw new KubeloginError(
          `login method ${o.loginMethod} is not available in Kentra's kubelogin: use -l azurecli (kentra login or az login) or upstream Azure/kubelogin`,
        );
    }
  };

  const dir = o.tokenCacheDir;
  const timeoutMs = o.timeoutSeconds * 1000;
  const work = withLock(file, dir, timeoutMs, timeoutMs + 10_000, async () => {
    // Another process may have signed in while we waited for the lock.
    const again = readEntry(file);
    if (usable(again, now())) return again;
    const entry = await fetchToken();
    writeEntry(dir, file, entry);
    return entry;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubeloginError('failed to get token: context deadline exceeded')), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (err instanceof KubeloginError) throw err;
    throw new KubeloginError(`failed to get token: ${(err as Error).message}${tlsHint(err as NodeJS.ErrnoException)}`);
  } finally {
    clearTimeout(timer);
  }
}
