#!/usr/bin/env node
// kubelogin: a drop-in for Azure/kubelogin. kubectl runs it on every command, so the cache-hit path
// loads only this file, options.ts and cache.ts (node built-ins, no HTTP client, JOSE or CLI framework).
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { cacheFile, readEntry, usable, type CacheEntry } from './cache.cjs';
import {
  defaultOptions,
  GET_TOKEN_FLAGS,
  KubeloginError,
  parseFlags,
  scopeOf,
  updateFromEnv,
  validate,
  type TokenOptions,
} from './options.cjs';

const VERSION = '0.2.99-kentra';

const HELP = `login to azure active directory and populate kubeconfig with AAD tokens

Usage:
  kubelogin [flags]
  kubelogin [command]

Available Commands:
  convert-kubeconfig convert kubeconfig to use exec auth module
  get-token          get AAD token
  help               Help about any command
  remove-cache-dir   Remove all cached authentication record from filesystem
  remove-tokens      Remove all cached tokens from filesystem (deprecated: use remove-cache-dir)

Flags:
  -h, --help      help for kubelogin
      --version   version for kubelogin

Use "kubelogin [command] --help" for more information about a command.
`;

const GET_TOKEN_HELP = `get AAD token

Usage:
  kubelogin get-token [flags]

Flags:
  -l, --login string                         Login method. Supported methods: devicecode, interactive, spn, ropc, msi, azurecli, azd, workloadidentity, azurepipelines. It may be specified in AAD_LOGIN_METHOD environment variable (default "devicecode")
      --server-id string                     AAD server application ID
      --client-id string                     AAD client application ID. It may be specified in AAD_SERVICE_PRINCIPAL_CLIENT_ID or AZURE_CLIENT_ID environment variable
      --client-secret string                 AAD client application secret. Used in spn login. It may be specified in AAD_SERVICE_PRINCIPAL_CLIENT_SECRET or AZURE_CLIENT_SECRET environment variable
      --client-certificate string            AAD client cert in PEM or PFX (PKCS#12). Used in spn login. It may be specified in AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE or AZURE_CLIENT_CERTIFICATE_PATH environment variable
      --client-certificate-password string   Password for the client certificate key
      --username string                      user name for ropc login flow. It may be specified in AAD_USER_PRINCIPAL_NAME or AZURE_USERNAME environment variable
      --password string                      password for ropc login flow. It may be specified in AAD_USER_PRINCIPAL_PASSWORD or AZURE_PASSWORD environment variable
  -t, --tenant-id string                     AAD tenant ID. It may be specified in AZURE_TENANT_ID environment variable (azd: passed to azd auth token --tenant-id)
  -s, --subscription string                  subscription for azurecli login
  -e, --environment string                   Azure environment name: AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud, or Kentra (read from endpoints.json) (default "AzurePublicCloud")
      --authority-host string                Workload Identity / any mode: authority host, with a trailing slash. It may be specified in AZURE_AUTHORITY_HOST environment variable
      --federated-token-file string          Workload Identity federated token file. It may be specified in AZURE_FEDERATED_TOKEN_FILE environment variable
      --cache-dir string                     directory of the token cache (default $KUBECACHEDIR or ~/.kube/cache/kubelogin)
      --timeout duration                     timeout duration for the whole sign-in (default 1m0s)
      --disable-environment-override         do not let environment variables override flags
      --disable-instance-discovery           accepted for compatibility: this kubelogin never calls instance discovery
      --identity-resource-id string          Managed Identity resource id
      --azure-pipelines-service-connection-id string   Service connection (resource) ID used by azurepipelines login method. It may be specified in AZURESUBSCRIPTION_SERVICE_CONNECTION_ID environment variable
      --redirect-url string                  interactive: the loopback redirect URL
      --login-hint string                    interactive: login hint
      --legacy                               set to true to get token with 'spn:' prefix in audience claim (devicecode, spn, ropc: the v1 endpoint with resource=<server-id>)
      --pop-enabled                          set to true to use a PoP token for authentication or false to use a regular bearer token
      --pop-claims string                    contains a comma-separated list of claims to attach to the pop token in the format key=val,key2=val2. At minimum, specify the ARM ID of the cluster as u=ARM_ID
      --use-azurerm-env-vars                 Use environment variable names of Terraform Azure Provider (ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_CLIENT_CERTIFICATE_PATH, ARM_CLIENT_CERTIFICATE_PASSWORD, ARM_TENANT_ID)
  -h, --help                                 help for get-token

Environment variables override flags unless --disable-environment-override is given.
Tokens are cached per authority, tenant, client, server id, login mode and identity, in files of mode 0600.
`;

/** ExecCredential for kubectl, in the version kubectl asked for (v1beta1 by default). */
export function execCredential(entry: CacheEntry, execInfo: string | undefined, token = entry.accessToken): string {
  let apiVersion = 'client.authentication.k8s.io/v1beta1';
  if (execInfo) {
    let requested: string | undefined;
    try {
      requested = (JSON.parse(execInfo) as { apiVersion?: string }).apiVersion;
    } catch (err) {
      throw new KubeloginError(`cannot unmarshal "${execInfo}" to ExecCredential: ${(err as Error).message}`);
    }
    if (requested) {
      if (requested !== 'client.authentication.k8s.io/v1' && requested !== 'client.authentication.k8s.io/v1beta1')
        throw new KubeloginError(`api version: ${requested} is not supported`);
      apiVersion = requested;
    }
  }
  const expirationTimestamp = new Date(entry.expiresOn * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${JSON.stringify({ kind: 'ExecCredential', apiVersion, spec: { interactive: false }, status: { expirationTimestamp, token } })}\n`;
}

function legacyIdentity(o: TokenOptions): string {
  return cacheIdentity({ ...o, isLegacy: false });
}

function cacheIdentity(o: TokenOptions): string {
  // A PoP token is bound to this cache dir's key: never the same entry as a bearer token.
  if (o.isPoPTokenEnabled) return `pop:${cacheIdentity({ ...o, isPoPTokenEnabled: false })}`;
  if (o.loginMethod === 'ropc') return o.username.toLowerCase();
  if (o.loginMethod === 'azurecli') return `${o.subscription}`;
  if (o.isLegacy) return `legacy:${legacyIdentity(o)}`;
  if (o.loginMethod === 'workloadidentity') return o.federatedTokenFile;
  if (o.loginMethod === 'azurepipelines') return o.azurePipelinesServiceConnectionId;
  // A token cached for one credential must not answer for another (a rotated or mistyped secret).
  if (o.loginMethod === 'spn')
    return o.clientCert ? `cert:${o.clientCert}` : `secret:${createHash('sha256').update(o.clientSecret).digest('hex').slice(0, 16)}`;
  return '';
}

async function getToken(args: string[]): Promise<void> {
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(GET_TOKEN_HELP);
    return;
  }
  const o = parseFlags(args, GET_TOKEN_FLAGS, defaultOptions(process.env, homedir()));
  updateFromEnv(o, process.env);
  validate(o);
  if (!o.serverId) throw new KubeloginError('server-id is required');
  const popHost = o.isPoPTokenEnabled ? (await import('./pop.cjs')).popHost(o.popClaims) : undefined;
  const file = cacheFile(o.tokenCacheDir, {
    authority: o.authorityHost || o.environment,
    tenantId: o.tenantId,
    clientId: o.clientId,
    scope: scopeOf(o.serverId),
    loginMethod: o.loginMethod,
    identity: cacheIdentity(o),
  });
  let entry = readEntry(file);
  const pop = popHost === undefined ? undefined : await import('./pop.cjs');
  const key = pop?.popKey(o.tokenCacheDir);
  // A cached PoP access token bound to another key (the key file was replaced) is no use.
  if (!usable(entry, Math.floor(Date.now() / 1000)) || (key && pop!.boundKeyId(entry!.accessToken) !== key.kid)) {
    const { acquire } = await import('./acquire.js');
    entry = await acquire(o, file, process.env, process.stderr);
  }
  // --pop-enabled: a fresh SignedHttpRequest around the access token on every run (its ts is checked by the cluster).
  const token = key ? pop!.signedHttpRequest(entry!.accessToken, popHost!, key) : entry!.accessToken;
  process.stdout.write(execCredential(entry!, process.env.KUBERNETES_EXEC_INFO, token));
}

async function removeCacheDir(args: string[], flag: string): Promise<void> {
  const { rmSync } = await import('node:fs');
  let dir = `${homedir()}/.kube/cache/kubelogin/`;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${flag}`) dir = args[++i] ?? dir;
    else if (a.startsWith(`--${flag}=`)) dir = a.slice(flag.length + 3);
    else throw new KubeloginError(`unknown flag: ${a}`);
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw new KubeloginError(`unable to delete authentication record cache in "${dir}": ${(err as Error).message}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'get-token':
      return getToken(rest);
    case 'convert-kubeconfig':
      return (await import('./convert.js')).convertKubeconfig(rest);
    case 'remove-cache-dir':
      return removeCacheDir(rest, 'cache-dir');
    case 'remove-tokens':
      process.stderr.write('Command "remove-tokens" is deprecated, remove-tokens is deprecated, use remove-cache-dir instead\n');
      return removeCacheDir(rest, 'token-cache-dir');
    case '--version':
    case 'version':
      process.stdout.write(
        `kubelogin version\ngit hash: ${VERSION}/kentra\nGo version: none (Node.js ${process.version})\nBuild time: -\nPlatform: ${process.platform}/${process.arch}\n`,
      );
      return;
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(HELP);
      return;
    default:
      throw new KubeloginError(`unknown command "${command}" for "kubelogin"\nRun 'kubelogin --help' for usage.`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`Error: ${err.message}\n`);
  process.exit(1);
});
