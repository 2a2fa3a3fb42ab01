import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Endpoints } from '../kentra.js';
import { hostsFileLines } from '../shared/azure-hosts.js';

// What `eval "$(kentra env)"` sets up in a shell (issue 13): `kentra` and `kubelogin` on PATH, and
// Kentra's CA trusted by Node (NODE_EXTRA_CA_CERTS adds to Node's roots), Python requests
// (REQUESTS_CA_BUNDLE) and Go (SSL_CERT_FILE). Python's and Go's variables replace the system pool, so
// they point at a bundle of the system roots plus Kentra's CA, written into the data directory.

/** The files Go's crypto/x509 reads for the system pool on Linux and the BSDs (root_linux.go, root_bsd.go). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
  '/usr/local/etc/ssl/cert.pem',
];

export const CA_BUNDLE_FILE = 'ca-bundle.pem';

/** The system's roots as PEM: the bundle file Go would read, else Node's own (Mozilla's) list. */
function systemRoots(env: NodeJS.ProcessEnv, ownBundle: string): string {
  const candidates = [env.SSL_CERT_FILE, ...SYSTEM_BUNDLES].filter((f): f is string => !!f && f !== ownBundle);
  for (const file of candidates) {
    try {
      const text = readFileSync(file, 'utf8');
      if (text.includes('-----BEGIN CERTIFICATE-----')) return text.trim();
    } catch {
      /* next */
    }
  }
  return rootCertificates.join('\n');
}

function writeIfChanged(file: string, text: string, mode: number): void {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    /* new */
  }
  if (current !== text) writeFileSync(file, text, { mode });
  chmodSync(file, mode);
}

const executable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** A value in single quotes for a POSIX shell (a quote inside closes, escapes and reopens them). */
const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** A word for a POSIX shell: as it is when it needs no quoting, else in single quotes. */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : shellQuote(value);
}

const realpath = (file: string) => {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
};

/**
 * How the user's own shell runs this kentra, for the commands Kentra prints: `kentra` when the `kentra` on
 * the PATH is this one (npm install -g); else the bin link it was started through (npx, node_modules/.bin),
 * or `node <script>` (a checkout: `npm start` runs `node dist/src/cli/bin.cjs up`). Folders named
 * node_modules/.bin do not count: `npm run` puts them on the PATH of its scripts, a user's shell does not have them.
 */
export function kentraCommand(argv1 = process.argv[1] ?? '', path = process.env.PATH ?? ''): string {
  if (!argv1) return 'kentra';
  const script = realpath(argv1);
  for (const dir of path.split(':')) {
    if (!dir || dir.endsWith(`${sep}node_modules${sep}.bin`)) continue;
    const candidate = join(dir, 'kentra');
    if (executable(candidate) && realpath(candidate) === script) return 'kentra';
  }
  if (basename(argv1) === 'kentra' && executable(argv1)) return shellWord(resolve(argv1));
  return `node ${shellWord(script)}`;
}

/** `kentra env` as the user types it for this data directory: `--data-dir` unless it is the built-in ~/.kentra. */
export function kentraEnvCommand(dataDir: string, argv1?: string, path?: string): string {
  const dir = resolve(dataDir);
  // ~/.kentra is what `kentra env` reads in a shell without KENTRA_DATA_DIR (src/kentra.ts defaultDataDir).
  return `${kentraCommand(argv1, path)} env${dir === join(homedir(), '.kentra') ? '' : ` --data-dir ${shellWord(dir)}`}`;
}

/**
 * The folder to put on PATH for `kentra` and `kubelogin`. When kentra runs from a bin folder that holds
 * both (npm install -g, npx), that one; otherwise (a checkout) `<data-dir>/bin`, with two small shims that
 * run this package's scripts, found from this module's own location, with the node that runs now.
 */
export function clientBinDir(dataDir: string, argv1 = process.argv[1] ?? ''): string {
  const invokedFrom = dirname(argv1);
  if (argv1 && executable(join(invokedFrom, 'kentra')) && executable(join(invokedFrom, 'kubelogin'))) return invokedFrom;
  const bin = join(dataDir, 'bin');
  mkdirSync(bin, { recursive: true });
  const scripts = {
    kentra: fileURLToPath(new URL('./bin.cjs', import.meta.url)),
    kubelogin: fileURLToPath(new URL('../kubelogin/bin.cjs', import.meta.url)),
  };
  for (const [name, script] of Object.entries(scripts)) {
    writeIfChanged(
      join(bin, name),
      `#!/bin/sh\n# Written by \`kentra env\`: runs this Kentra's ${name}.\nexec ${shellQuote(process.execPath)} ${shellQuote(script)} "$@"\n`,
      0o755,
    );
  }
  return bin;
}

/** The CA bundle (system roots + Kentra's CA) in the data directory, for REQUESTS_CA_BUNDLE and SSL_CERT_FILE. */
export function writeCaBundle(e: Pick<Endpoints, 'caFile' | 'dataDir'>, env: NodeJS.ProcessEnv = process.env): string {
  const file = join(e.dataDir, CA_BUNDLE_FILE);
  const kentraCa = existsSync(e.caFile) ? readFileSync(e.caFile, 'utf8').trim() : '';
  writeIfChanged(file, `${systemRoots(env, file)}\n# Kentra's CA (${e.caFile})\n${kentraCa}\n`, 0o644);
  return file;
}

/** The variables, in the order they are printed. PATH is printed as a prefix of the shell's own PATH. */
export function clientEnvironment(e: Endpoints, env: NodeJS.ProcessEnv = process.env): { binDir: string; vars: [string, string][] } {
  const bundle = writeCaBundle(e, env);
  return {
    binDir: clientBinDir(e.dataDir),
    vars: [
      ['KENTRA_DATA_DIR', e.dataDir],
      ['NODE_EXTRA_CA_CERTS', e.caFile],
      ['REQUESTS_CA_BUNDLE', bundle],
      ['SSL_CERT_FILE', bundle],
      // Serving Microsoft's names, clients keep their default authority (login.microsoftonline.com).
      ...(e.azureHostnames ? [] : [['AZURE_AUTHORITY_HOST', `${e.authority}/`] as [string, string]]),
    ],
  };
}

/**
 * The commands that point the current Azure CLI (2.54 or later: `core.instance_discovery`) at this Kentra:
 * a cloud whose endpoints az reads from Kentra's /metadata/endpoints, with Kentra's tenant authority as
 * its Entra endpoint. Debian's az 2.45 needs the ADFS-style set-up of docs/azure-cli.md instead.
 */
export function azureCliSetup(e: Pick<Endpoints, 'authority'>): string[] {
  return [
    `az cloud register -n Kentra --endpoint-resource-manager '${e.authority}/' && az cloud set -n Kentra`,
    'az config set core.instance_discovery=false',
  ];
}

/** What the Azure CLI needs, as comments: the custom cloud, or nothing when Kentra answers at Microsoft's names. */
function azureCliComments(e: Pick<Endpoints, 'authority' | 'azureHostnames'>): string[] {
  if (e.azureHostnames)
    return [
      '# The Azure CLI needs no set-up: it stays in its default AzureCloud, which reaches Kentra once /etc/hosts',
      '# has the lines of `kentra env --hosts` (if you made Kentra its cloud before: az cloud set -n AzureCloud).',
    ];
  return ['# The Azure CLI 2.54 or later, once per az configuration:', ...azureCliSetup(e).map((c) => `#   ${c}`)];
}

/** `export` lines for a POSIX shell, then the Azure CLI set-up as comments. */
export function shellExports(e: Endpoints, env: NodeJS.ProcessEnv = process.env): string {
  const { binDir, vars } = clientEnvironment(e, env);
  // Evaluated twice, the shell still gets the folder on PATH once.
  return (
    [
      `case ":$PATH:" in *:${shellQuote(binDir)}:*) ;; *) export PATH=${shellQuote(binDir)}:"$PATH" ;; esac`,
      ...vars.map(([k, v]) => `export ${k}=${shellQuote(v)}`),
      ...azureCliComments(e),
    ].join('\n') + '\n'
  );
}

/** `kentra env --hosts`: the /etc/hosts lines for a Kentra started with --azure-hostnames (issue 19). */
export function hostsLines(e: Pick<Endpoints, 'azureHostnames'>): string {
  if (!e.azureHostnames) return '';
  return `# Kentra (kentra up --azure-hostnames): Microsoft's host names served locally\n${hostsFileLines(e.azureHostnames.address)}`;
}
