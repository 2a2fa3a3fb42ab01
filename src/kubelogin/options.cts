// `kubelogin get-token` flags, environment variables and validation, as upstream v0.2.x has them
// (reference/kubelogin.md §1.2–1.3). No imports: this runs on the cache-hit path.

export const LOGIN_MODES = [
  'devicecode',
  'interactive',
  'spn',
  'ropc',
  'msi',
  'azurecli',
  'azd',
  'workloadidentity',
  'azurepipelines',
] as const;
export type LoginMode = (typeof LOGIN_MODES)[number];

export interface TokenOptions {
  loginMethod: string;
  clientId: string;
  clientSecret: string;
  clientCert: string;
  clientCertPassword: string;
  username: string;
  password: string;
  identityResourceId: string;
  serverId: string;
  federatedTokenFile: string;
  authorityHost: string;
  tokenCacheDir: string;
  tenantId: string;
  subscription: string;
  environment: string;
  isLegacy: boolean;
  useAzureRMTerraformEnv: boolean;
  isPoPTokenEnabled: boolean;
  popClaims: string;
  timeoutSeconds: number;
  disableEnvironmentOverride: boolean;
  disableInstanceDiscovery: boolean;
  redirectUrl: string;
  loginHint: string;
  azurePipelinesServiceConnectionId: string;
}

export class KubeloginError extends Error {}

type Flag = { name: string; short?: string; key: keyof TokenOptions; kind: 'string' | 'bool' | 'duration' };

export const GET_TOKEN_FLAGS: Flag[] = [
  { name: 'login', short: 'l', key: 'loginMethod', kind: 'string' },
  { name: 'client-id', key: 'clientId', kind: 'string' },
  { name: 'client-secret', key: 'clientSecret', kind: 'string' },
  { name: 'client-certificate', key: 'clientCert', kind: 'string' },
  { name: 'client-certificate-password', key: 'clientCertPassword', kind: 'string' },
  { name: 'username', key: 'username', kind: 'string' },
  { name: 'password', key: 'password', kind: 'string' },
  { name: 'identity-resource-id', key: 'identityResourceId', kind: 'string' },
  { name: 'server-id', key: 'serverId', kind: 'string' },
  { name: 'federated-token-file', key: 'federatedTokenFile', kind: 'string' },
  { name: 'authority-host', key: 'authorityHost', kind: 'string' },
  { name: 'token-cache-dir', key: 'tokenCacheDir', kind: 'string' },
  { name: 'cache-dir', key: 'tokenCacheDir', kind: 'string' },
  { name: 'tenant-id', short: 't', key: 'tenantId', kind: 'string' },
  { name: 'subscription', short: 's', key: 'subscription', kind: 'string' },
  { name: 'environment', short: 'e', key: 'environment', kind: 'string' },
  { name: 'legacy', key: 'isLegacy', kind: 'bool' },
  { name: 'use-azurerm-env-vars', key: 'useAzureRMTerraformEnv', kind: 'bool' },
  { name: 'pop-enabled', key: 'isPoPTokenEnabled', kind: 'bool' },
  { name: 'pop-claims', key: 'popClaims', kind: 'string' },
  { name: 'timeout', key: 'timeoutSeconds', kind: 'duration' },
  { name: 'disable-environment-override', key: 'disableEnvironmentOverride', kind: 'bool' },
  { name: 'disable-instance-discovery', key: 'disableInstanceDiscovery', kind: 'bool' },
  { name: 'redirect-url', key: 'redirectUrl', kind: 'string' },
  { name: 'login-hint', key: 'loginHint', kind: 'string' },
  { name: 'azure-pipelines-service-connection-id', key: 'azurePipelinesServiceConnectionId', kind: 'string' },
];

/** Go durations as kubelogin takes them: 60s, 1m30s, 500ms, 2h. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    matched += m[0];
    total += Number(m[1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2]!]!;
  }
  if (!text || matched !== text)
    throw new KubeloginError(`invalid argument "${text}" for "--timeout" flag: time: invalid duration "${text}"`);
  return total;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv, home: string): string {
  return env.KUBECACHEDIR || `${home}/.kube/cache/kubelogin`;
}

export function defaultOptions(env: NodeJS.ProcessEnv, home: string): TokenOptions {
  return {
    loginMethod: 'devicecode',
    clientId: '',
    clientSecret: '',
    clientCert: '',
    clientCertPassword: '',
    username: '',
    password: '',
    identityResourceId: '',
    serverId: '',
    federatedTokenFile: '',
    authorityHost: '',
    tokenCacheDir: defaultCacheDir(env, home),
    tenantId: '',
    subscription: '',
    environment: 'AzurePublicCloud',
    isLegacy: false,
    useAzureRMTerraformEnv: false,
    isPoPTokenEnabled: false,
    popClaims: '',
    timeoutSeconds: 60,
    disableEnvironmentOverride: false,
    disableInstanceDiscovery: false,
    redirectUrl: '',
    loginHint: '',
    azurePipelinesServiceConnectionId: '',
  };
}

/** Parses `--flag value`, `--flag=value`, `-l value` and boolean flags. Unknown flags are an error, as in cobra. */
export function parseFlags<T extends object>(
  args: string[],
  flags: { name: string; short?: string; key: keyof T; kind: string }[],
  into: T,
): T {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let name: string;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      value = eq > 0 ? arg.slice(eq + 1) : undefined;
    } else if (arg.startsWith('-') && arg.length >= 2) {
      name = arg.slice(1, 2);
      value = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : undefined;
    } else {
      throw new KubeloginError(`unknown command "${arg}" for "kubelogin get-token"`);
    }
    const flag = flags.find((f) => f.name === name || f.short === name);
    if (!flag) throw new KubeloginError(`unknown flag: ${arg.split('=')[0]}`);
    const target = into as Record<string, unknown>;
    if (flag.kind === 'bool') {
      target[flag.key as string] = value === undefined ? true : value === 'true';
      continue;
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined) throw new KubeloginError(`flag needs an argument: --${flag.name}`);
    }
    target[flag.key as string] = flag.kind === 'duration' ? parseDuration(value) : value;
  }
  return into;
}

/** Environment variables override flags unless --disable-environment-override (upstream's UpdateFromEnv). */
export function updateFromEnv(o: TokenOptions, env: NodeJS.ProcessEnv): void {
  if (o.disableEnvironmentOverride) return;
  const set = (key: keyof TokenOptions, ...names: string[]) => {
    for (const n of names) if (env[n]) (o as unknown as Record<string, unknown>)[key] = env[n];
  };
  set('loginMethod', 'AAD_LOGIN_METHOD');
  if (o.useAzureRMTerraformEnv) {
    set('clientId', 'ARM_CLIENT_ID');
    set('clientSecret', 'ARM_CLIENT_SECRET');
    set('clientCert', 'ARM_CLIENT_CERTIFICATE_PATH');
    set('clientCertPassword', 'ARM_CLIENT_CERTIFICATE_PASSWORD');
    set('tenantId', 'ARM_TENANT_ID');
  } else {
    set('clientId', 'AAD_SERVICE_PRINCIPAL_CLIENT_ID', 'AZURE_CLIENT_ID');
    set('clientSecret', 'AAD_SERVICE_PRINCIPAL_CLIENT_SECRET', 'AZURE_CLIENT_SECRET');
    set('clientCert', 'AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE', 'AZURE_CLIENT_CERTIFICATE_PATH');
    set('clientCertPassword', 'AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_CLIENT_CERTIFICATE_PASSWORD');
    set('tenantId', 'AZURE_TENANT_ID');
  }
  set('username', 'AAD_USER_PRINCIPAL_NAME', 'AZURE_USERNAME');
  set('password', 'AAD_USER_PRINCIPAL_PASSWORD', 'AZURE_PASSWORD');
  if (o.loginMethod === 'azurepipelines') {
    // Upstream reads these only to fill what the flags left empty.
    const fill = (key: keyof TokenOptions, name: string) => {
      if (!o[key] && env[name]) (o as unknown as Record<string, unknown>)[key] = env[name];
    };
    fill('clientId', 'AZURESUBSCRIPTION_CLIENT_ID');
    fill('tenantId', 'AZURESUBSCRIPTION_TENANT_ID');
    fill('azurePipelinesServiceConnectionId', 'AZURESUBSCRIPTION_SERVICE_CONNECTION_ID');
  }
  if (env.AZURE_CLI_TIMEOUT) o.timeoutSeconds = parseDuration(env.AZURE_CLI_TIMEOUT);
  if (o.loginMethod === 'workloadidentity') {
    set('federatedTokenFile', 'AZURE_FEDERATED_TOKEN_FILE');
    set('authorityHost', 'AZURE_AUTHORITY_HOST');
    set('clientId', 'AZURE_CLIENT_ID');
  } else if (!o.authorityHost) {
    // Every other mode: azidentity's default authority is AZURE_AUTHORITY_HOST when it is set, so a
    // kubeconfig that names only `--environment AzurePublicCloud` (convert-kubeconfig's) reaches the
    // authority `kentra env` exports. An explicit --authority-host still wins.
    set('authorityHost', 'AZURE_AUTHORITY_HOST');
  }
}

export function validate(o: TokenOptions): void {
  if (!(LOGIN_MODES as readonly string[]).includes(o.loginMethod)) {
    throw new KubeloginError(`'${o.loginMethod}' is not a supported login method. Supported method is one of ${LOGIN_MODES.join(', ')}`);
  }
  if (o.authorityHost) {
    let url: URL;
    try {
      url = new URL(o.authorityHost);
    } catch (err) {
      throw new KubeloginError(`authority host "${o.authorityHost}" is not valid: ${(err as Error).message}`);
    }
    if (url.protocol !== 'https:' || !url.host) throw new KubeloginError(`authority host "${o.authorityHost}" is not valid`);
    if (!o.authorityHost.endsWith('/')) throw new KubeloginError(`authority host "${o.authorityHost}" should have a trailing slash`);
  }
  if (o.isPoPTokenEnabled && !o.popClaims)
    throw new KubeloginError(
      'if enabling pop token mode, please provide the pop-claims flag containing the PoP token claims as a comma-separated string: `u=popClaimHost,key1=val1`',
    );
  if (!o.isPoPTokenEnabled && o.popClaims)
    throw new KubeloginError(
      'pop-enabled flag is required to use the PoP token feature. Please provide both pop-enabled and pop-claims flags',
    );
  if (!(o.timeoutSeconds > 0)) throw new KubeloginError('timeout must be greater than 0');
}

/** The scope for a server id: trailing slashes trimmed, `/.default` added once. */
export function scopeOf(serverId: string): string {
  const trimmed = serverId.replace(/\/+$/, '');
  return trimmed.endsWith('/.default') ? trimmed : `${trimmed}/.default`;
}
