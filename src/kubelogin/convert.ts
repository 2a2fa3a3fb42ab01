import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { defaultOptions, GET_TOKEN_FLAGS, KubeloginError, parseFlags, updateFromEnv, validate, type TokenOptions } from './options.cjs';

// `kubelogin convert-kubeconfig`: rewrites `azure` auth-provider users (and exec users that run
// kubelogin) into exec users for the chosen login mode, with upstream's rules (reference/kubelogin.md
// §1.9), except that --authority-host and --disable-instance-discovery are kept for every mode.

const DEFAULT_INSTALL_HINT =
  '\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\nTo learn more, please go to https://azure.github.io/kubelogin/\n';

interface ConvertOptions extends TokenOptions {
  kubeconfig: string;
  context: string;
  azureConfigDir: string;
}

const CONVERT_FLAGS = [
  ...GET_TOKEN_FLAGS,
  { name: 'kubeconfig', key: 'kubeconfig', kind: 'string' },
  { name: 'context', key: 'context', kind: 'string' },
  { name: 'azure-config-dir', key: 'azureConfigDir', kind: 'string' },
] as { name: string; short?: string; key: keyof ConvertOptions; kind: string }[];

function kubeconfigPath(o: ConvertOptions): string {
  if (o.kubeconfig) return o.kubeconfig;
  const fromEnv = process.env.KUBECONFIG?.split(':').find((p) => p && existsSync(p));
  return fromEnv ?? join(homedir(), '.kube', 'config');
}

/** Reads `--name value` from existing exec args. */
function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < args.length && !args[i + 1]!.startsWith('--')) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

/** What conversion reads of a kubeconfig user: the legacy azure auth provider, or an exec plugin. */
interface KubeconfigUser {
  'auth-provider'?: { name?: string; config?: Record<string, string> };
  exec?: { command?: unknown; args?: string[]; installHint?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export async function convertKubeconfig(argv: string[]): Promise<void> {
  const explicit = new Set(argv.filter((a) => a.startsWith('-')).map((a) => a.replace(/^-+/, '').split('=')[0]!));
  const flag = (long: string, short?: string) => explicit.has(long) || (short !== undefined && explicit.has(short));
  const o = parseFlags(argv, CONVERT_FLAGS, {
    ...defaultOptions(process.env, homedir()),
    tokenCacheDir: '',
    kubeconfig: '',
    context: '',
    azureConfigDir: '',
  } as ConvertOptions);
  updateFromEnv(o, process.env);
  validate(o);
  const path = kubeconfigPath(o);
  if (!existsSync(path)) throw new KubeloginError(`kubeconfig ${path} does not exist`);
  const doc = parseDocument(readFileSync(path, 'utf8'));
  const config = doc.toJS() as {
    users?: { name: string; user: KubeconfigUser }[];
    contexts?: { name: string; context: { user: string } }[];
  };
  let targetUser: string | undefined;
  if (o.context) {
    const ctx = (config.contexts ?? []).find((c) => c.name === o.context);
    if (!ctx) throw new KubeloginError(`no context exists with the name: "${o.context}"`);
    targetUser = ctx.context.user;
  }

  const users = config.users ?? [];
  for (const entry of users) {
    if (targetUser !== undefined && entry.name !== targetUser) continue;
    const user = entry.user ?? {};
    const provider = user['auth-provider'];
    const exec = user.exec;
    const isAzure = provider?.name === 'azure';
    const isKubelogin = typeof exec?.command === 'string' && exec.command.toLowerCase().includes('kubelogin');
    if (!isAzure && !isKubelogin) continue;
    const cfg = (isAzure ? (provider.config ?? {}) : {}) as Record<string, string>;
    const old = (isKubelogin ? (exec.args ?? []) : []) as string[];
    const pick = (key: keyof TokenOptions, name: string, short?: string, providerKey?: string) =>
      (flag(name, short) ? String(o[key]) : undefined) ??
      (providerKey ? cfg[providerKey] : undefined) ??
      argValue(old, name) ??
      (o[key] ? String(o[key]) : undefined);
    const serverId = pick('serverId', 'server-id', undefined, 'apiserver-id');
    const clientId = pick('clientId', 'client-id', undefined, 'client-id');
    const tenantId = pick('tenantId', 'tenant-id', 't', 'tenant-id');
    const environment = pick('environment', 'environment', 'e', 'environment');
    const cacheDir =
      flag('cache-dir') || flag('token-cache-dir') ? o.tokenCacheDir : (argValue(old, 'cache-dir') ?? argValue(old, 'token-cache-dir'));
    const authorityHost = pick('authorityHost', 'authority-host');
    const legacy = flag('legacy')
      ? o.isLegacy
      : isAzure
        ? (cfg['config-mode'] ?? '') === '' || cfg['config-mode'] === '0'
        : old.includes('--legacy');
    const disableDiscovery = flag('disable-instance-discovery') ? o.disableInstanceDiscovery : old.includes('--disable-instance-discovery');
    const mode = o.loginMethod;

    if (!serverId) throw new KubeloginError('--server-id is required');
    const args = ['get-token', '--login', mode, '--server-id', serverId];
    if (cacheDir) args.push('--cache-dir', cacheDir);
    const needIds = () => {
      if (!clientId) throw new KubeloginError('--client-id is required');
      if (!tenantId) throw new KubeloginError('--tenant-id is required');
      args.push('--client-id', clientId, '--tenant-id', tenantId);
      if (environment) args.push('--environment', environment);
    };
    const optional = (name: string, key: keyof TokenOptions, short?: string) => {
      if (flag(name, short) && o[key]) args.push(`--${name}`, String(o[key]));
    };
    const pop = () => {
      if (o.isPoPTokenEnabled) args.push('--pop-enabled', '--pop-claims', o.popClaims);
    };
    switch (mode) {
      case 'devicecode':
        needIds();
        if (legacy) args.push('--legacy');
        break;
      case 'interactive':
        needIds();
        pop();
        optional('redirect-url', 'redirectUrl');
        optional('login-hint', 'loginHint');
        break;
      case 'spn':
        needIds();
        optional('client-secret', 'clientSecret');
        optional('client-certificate', 'clientCert');
        optional('client-certificate-password', 'clientCertPassword');
        if (legacy) args.push('--legacy');
        pop();
        if (o.disableEnvironmentOverride) args.push('--disable-environment-override');
        break;
      case 'ropc':
        needIds();
        optional('username', 'username');
        optional('password', 'password');
        if (legacy) args.push('--legacy');
        pop();
        break;
      case 'msi':
        if (flag('client-id')) args.push('--client-id', o.clientId);
        else if (o.identityResourceId) args.push('--identity-resource-id', o.identityResourceId);
        break;
      case 'azurecli':
        if (flag('tenant-id', 't')) args.push('--tenant-id', o.tenantId);
        optional('subscription', 'subscription', 's');
        break;
      case 'azd':
        if (flag('tenant-id', 't')) args.push('--tenant-id', o.tenantId);
        break;
      case 'workloadidentity':
        if (flag('client-id')) args.push('--client-id', o.clientId);
        if (flag('tenant-id', 't')) args.push('--tenant-id', o.tenantId);
        optional('federated-token-file', 'federatedTokenFile');
        break;
      case 'azurepipelines':
        if (tenantId) args.push('--tenant-id', tenantId);
        optional('azure-pipelines-service-connection-id', 'azurePipelinesServiceConnectionId');
        break;
    }
    // Kept for every mode (upstream drops them), so converted kubeconfigs still reach a custom authority.
    if (authorityHost && !args.includes('--authority-host')) args.push('--authority-host', authorityHost);
    if (disableDiscovery) args.push('--disable-instance-discovery');

    entry.user = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        args,
        command: 'kubelogin',
        env: mode === 'azurecli' && o.azureConfigDir ? [{ name: 'AZURE_CONFIG_DIR', value: o.azureConfigDir }] : null,
        installHint: exec?.installHint ?? DEFAULT_INSTALL_HINT,
        provideClusterInfo: false,
      },
    };
  }
  doc.set('users', users);
  writeFileSync(path, doc.toString());
}
