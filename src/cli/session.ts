import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import { signJwt } from '../identity/tokens/jwt.js';
import { requestJson, type JsonAnswer } from '../shared/https-json.js';

// The CLI's sign-in state, kept like az's: a profile (accounts, subscriptions) and a token cache,
// both mode 0600 in the config directory. The CLI reaches the server over HTTPS only.

export const AZURE_CLI_CLIENT = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
export const ARM_SCOPE = 'https://management.core.windows.net//.default';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export interface SubscriptionEntry {
  id: string;
  name: string;
  state: string;
  tenantId: string;
  homeTenantId: string;
  isDefault: boolean;
}
export interface AccountEntry {
  type: 'user' | 'servicePrincipal';
  name: string;
  homeTenantId: string;
  subscriptions: SubscriptionEntry[];
}
interface Profile {
  authority: string;
  caFile?: string;
  account: AccountEntry | null;
}
interface Secrets {
  refreshToken?: string;
  servicePrincipal?: { appId: string; tenantId: string; secret?: string; certificatePem?: string };
  accessTokens: Record<string, { token: string; expiresOn: number }>;
}

export function configDir(): string {
  return resolve(process.env.KENTRA_CONFIG_DIR || join(homedir(), '.kentra-cli'));
}

function writePrivate(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Where the server is when no --authority is given: the local `kentra up` data directory. */
export function defaultServer(): { authority: string; caFile?: string } | null {
  if (process.env.KENTRA_AUTHORITY)
    return { authority: process.env.KENTRA_AUTHORITY.replace(/\/+$/, ''), caFile: process.env.KENTRA_CA_FILE };
  const dir = resolve(process.env.KENTRA_DATA_DIR || join(homedir(), '.kentra'));
  const endpoints = readJson<{ authority: string; caFile: string }>(join(dir, 'endpoints.json'));
  return endpoints ? { authority: endpoints.authority, caFile: endpoints.caFile } : null;
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** An OAuth token answer's fields the CLI reads. */
export interface TokenJson {
  access_token: string;
  expires_in: number | string;
  refresh_token?: string;
}
/** An OAuth error answer (AADSTS text in error_description). */
export interface OAuthErrorJson {
  error?: string;
  error_description?: string;
}

export class Session {
  private readonly dir = configDir();
  private profile: Profile | null;
  private secrets: Secrets;
  debug: (line: string) => void = () => {};

  constructor() {
    this.profile = readJson<Profile>(join(this.dir, 'profile.json'));
    this.secrets = readJson<Secrets>(join(this.dir, 'tokens.json')) ?? { accessTokens: {} };
  }

  /** The global `--subscription` (name or id) of this command, instead of the default subscription. */
  subscription: string | undefined;

  get account(): AccountEntry | null {
    return this.profile?.account ?? null;
  }

  /** The subscription this command works in: `--subscription`, else the default one. */
  currentSubscription(): SubscriptionEntry | undefined {
    const subs = this.account?.subscriptions ?? [];
    if (this.subscription === undefined) return subs.find((s) => s.isDefault);
    const wanted = this.subscription.toLowerCase();
    const found = subs.find((s) => s.id.toLowerCase() === wanted) ?? subs.find((s) => s.name.toLowerCase() === wanted);
    if (!found) throw new CliError(`Subscription '${this.subscription}' not found. Check the spelling and casing and try again.`);
    return found;
  }

  get authority(): string {
    if (!this.profile) throw new CliError("Please run 'kentra login' to setup account.");
    return this.profile.authority;
  }

  save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (this.profile) writePrivate(join(this.dir, 'profile.json'), this.profile);
    writePrivate(join(this.dir, 'tokens.json'), this.secrets);
  }

  logout(): void {
    this.profile = this.profile ? { ...this.profile, account: null } : null;
    this.secrets = { accessTokens: {} };
    this.save();
  }

  useServer(authority: string, caFile?: string): void {
    this.profile = { authority: authority.replace(/\/+$/, ''), caFile: caFile ? resolve(caFile) : undefined, account: null };
    this.secrets = { accessTokens: {} };
  }

  /** HTTPS to the server, trusting its CA (and the system's). */
  async http<T = unknown>(
    method: string,
    url: string,
    opts: { token?: string; json?: unknown; form?: Record<string, string> } = {},
  ): Promise<HttpResult<T>> {
    const caFile = this.profile?.caFile;
    const ca = caFile && existsSync(caFile) ? [...rootCertificates, readFileSync(caFile, 'utf8')] : undefined;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-ms-client-request-id': randomUUID(),
      'user-agent': 'kentra-cli',
    };
    let body: string | undefined;
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    }
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    this.debug(`Request: ${method} ${url.split('?')[0]}`);
    let answer: JsonAnswer<T>;
    try {
      // No timeout of its own, as before: the CLI waits for the server's answer.
      answer = await requestJson<T>(url, { method, headers, ...(body !== undefined ? { body } : {}), ...(ca ? { ca } : {}), timeoutMs: 0 });
    } catch (err) {
      const message = (err as Error).message;
      throw new CliError(
        `cannot reach ${new URL(url).origin}: ${message}${/certificate|self.signed/i.test(message) ? " (pass --ca-file with Kentra's ca.pem)" : ''}`,
      );
    }
    this.debug(`Response status: ${answer.status}`);
    return { status: answer.status, body: (answer.json ?? null) as T, text: answer.text, headers: answer.headers };
  }

  /** A token request; OAuth errors become the AADSTS message. */
  async tokenRequest(tenant: string, form: Record<string, string>): Promise<TokenJson> {
    const res = await this.http<TokenJson & OAuthErrorJson>('POST', `${this.authority}/${tenant}/oauth2/v2.0/token`, {
      form: { ...form, client_info: '1' },
    });
    if (res.status !== 200) {
      const description = String(res.body?.error_description ?? res.text).split('\r\n')[0];
      throw new CliError(description);
    }
    return res.body;
  }

  /** Signs in and records the account; returns the token response of the ARM token. */
  async signIn(
    kind: 'user' | 'servicePrincipal',
    tenant: string,
    form: Record<string, string>,
    sp?: Secrets['servicePrincipal'],
  ): Promise<void> {
    const body = await this.tokenRequest(tenant, {
      ...form,
      scope: kind === 'user' ? `${ARM_SCOPE} offline_access openid profile` : ARM_SCOPE,
    });
    const claims = JSON.parse(Buffer.from(String(body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, string>;
    this.secrets = { accessTokens: {}, refreshToken: body.refresh_token, servicePrincipal: sp };
    this.cacheToken(claims.tid!, ARM_SCOPE, body);
    const name = kind === 'user' ? (claims.upn ?? claims.unique_name ?? claims.preferred_username)! : sp!.appId;
    const subs = await this.http<{
      value: { subscriptionId: string; displayName: string; state: string; tenantId: string }[];
      error?: { message?: string };
    }>('GET', `${this.authority}/subscriptions?api-version=2022-12-01`, { token: body.access_token });
    if (subs.status !== 200) throw new CliError(subs.body?.error?.message ?? `listing subscriptions failed with HTTP ${subs.status}`);
    const subscriptions: SubscriptionEntry[] = subs.body.value.map((s, i) => ({
      id: s.subscriptionId,
      name: s.displayName,
      state: s.state,
      tenantId: s.tenantId,
      homeTenantId: claims.tid!,
      isDefault: i === 0,
    }));
    this.profile = { ...this.profile!, account: { type: kind, name, homeTenantId: claims.tid!, subscriptions } };
    this.save();
  }

  private cacheToken(tenant: string, scope: string, body: TokenJson): { token: string; expiresOn: number } {
    const entry = { token: String(body.access_token), expiresOn: Math.floor(Date.now() / 1000) + Number(body.expires_in) };
    this.secrets.accessTokens[`${tenant}|${scope}`] = entry;
    if (body.refresh_token) this.secrets.refreshToken = body.refresh_token;
    return entry;
  }

  /** A token for `scope` in the tenant (default: the account's), from the cache or refreshed silently. */
  async token(scope: string, tenant?: string): Promise<{ token: string; expiresOn: number; tenant: string }> {
    const account = this.account;
    if (!account) throw new CliError("Please run 'kentra login' to setup account.");
    const tid = tenant ?? this.currentSubscription()?.tenantId ?? account.homeTenantId;
    const cached = this.secrets.accessTokens[`${tid}|${scope}`];
    if (cached && cached.expiresOn - 300 > Date.now() / 1000) return { ...cached, tenant: tid };
    let body: TokenJson;
    if (account.type === 'user') {
      if (!this.secrets.refreshToken) throw new CliError("Please run 'kentra login' to setup account.");
      try {
        body = await this.tokenRequest(tid, {
          client_id: AZURE_CLI_CLIENT,
          grant_type: 'refresh_token',
          refresh_token: this.secrets.refreshToken,
          scope: `${scope} offline_access openid profile`,
        });
      } catch (err) {
        throw new CliError(`${(err as Error).message}\nRun 'kentra login' to sign in again.`, 1, { cause: err });
      }
    } else {
      body = await this.tokenRequest(tid, { ...this.clientCredential(tid), grant_type: 'client_credentials', scope });
    }
    const entry = this.cacheToken(tid, scope, body);
    this.save();
    return { ...entry, tenant: tid };
  }

  /** The service principal's credential: its secret, or a certificate assertion signed now. */
  clientCredential(tenant: string, sp = this.secrets.servicePrincipal): Record<string, string> {
    if (!sp) throw new CliError("Please run 'kentra login' to setup account.");
    if (sp.secret) return { client_id: sp.appId, client_secret: sp.secret };
    const pem = sp.certificatePem!;
    const cert = new X509Certificate(pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0] ?? pem);
    const key = createPrivateKey(pem);
    const now = Math.floor(Date.now() / 1000);
    const assertion = signJwt(
      { alg: 'PS256', typ: 'JWT', 'x5t#S256': createHash('sha256').update(cert.raw).digest('base64url') },
      {
        aud: `${this.authority}/${tenant}/oauth2/v2.0/token`,
        iss: sp.appId,
        sub: sp.appId,
        jti: randomUUID(),
        nbf: now,
        iat: now,
        exp: now + 600,
      },
      key,
    );
    return {
      client_id: sp.appId,
      client_assertion: assertion,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    };
  }
}
