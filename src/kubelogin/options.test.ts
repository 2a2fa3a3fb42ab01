import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { defaultOptions, GET_TOKEN_FLAGS, parseFlags, scopeOf, updateFromEnv, validate } from './options.cjs';

// Kentra's kubelogin accepts what upstream Azure/kubelogin v0.2.19 accepts (reference/kubelogin.md
// §1.2, §1.9; current-clients.md §1): the option parsing, the convert-kubeconfig output, and the
// commands that need no authority (remove-cache-dir, -l azd with a FAKE azd on PATH).

const BIN = join(dirname(fileURLToPath(import.meta.url)), 'bin.cjs');
const SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const TENANT = '66666666-6666-4666-8666-666666666666';

const parseGetToken = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const o = parseFlags(args, GET_TOKEN_FLAGS, defaultOptions(env, '/home/u'));
  updateFromEnv(o, env);
  validate(o);
  return o;
};

describe('kubelogin get-token options as upstream v0.2.x', () => {
  it('--login-hint, --redirect-url, --legacy, -s/--subscription and the spn: server id are accepted', () => {
    const o = parseGetToken([
      '-l',
      'interactive',
      '--server-id',
      `spn:${SERVER}`,
      '--login-hint',
      'dev@contoso.com',
      '--redirect-url',
      'http://localhost:8400/',
      '--legacy',
      '-s',
      'sub-1',
    ]);
    assert.equal(o.loginHint, 'dev@contoso.com');
    assert.equal(o.redirectUrl, 'http://localhost:8400/');
    assert.equal(o.isLegacy, true);
    assert.equal(o.subscription, 'sub-1');
    assert.equal(o.serverId, `spn:${SERVER}`);
    assert.equal(scopeOf(o.serverId), `spn:${SERVER}/.default`);
    assert.equal(parseGetToken(['--subscription=sub-2']).subscription, 'sub-2');
  });

  it("--timeout takes Go durations, AZURE_CLI_TIMEOUT overrides it, and a bad one is cobra's error", () => {
    assert.equal(parseGetToken([]).timeoutSeconds, 60);
    assert.equal(parseGetToken(['--timeout', '1m30s']).timeoutSeconds, 90);
    assert.equal(parseGetToken(['--timeout=500ms']).timeoutSeconds, 0.5);
    assert.equal(parseGetToken(['--timeout', '10s'], { AZURE_CLI_TIMEOUT: '2m' }).timeoutSeconds, 120);
    assert.throws(() => parseGetToken(['--timeout', '10']), /invalid argument "10" for "--timeout" flag: time: invalid duration "10"/);
  });

  it('azurepipelines: the AZURESUBSCRIPTION_* variables fill only what the flags left empty', () => {
    const env = {
      AZURESUBSCRIPTION_CLIENT_ID: 'env-client',
      AZURESUBSCRIPTION_TENANT_ID: 'env-tenant',
      AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: 'env-conn',
    };
    const o = parseGetToken(
      ['-l', 'azurepipelines', '--client-id', 'flag-client', '--azure-pipelines-service-connection-id', 'flag-conn'],
      env,
    );
    assert.equal(o.clientId, 'flag-client');
    assert.equal(o.tenantId, 'env-tenant');
    assert.equal(o.azurePipelinesServiceConnectionId, 'flag-conn');
    assert.equal(parseGetToken(['-l', 'spn'], env).tenantId, '', 'read only for azurepipelines');
  });

  it('--pop-enabled and --pop-claims must come together', () => {
    assert.throws(() => parseGetToken(['--pop-enabled']), /please provide the pop-claims flag/);
    assert.throws(() => parseGetToken(['--pop-claims', 'u=/ARM/ID']), /pop-enabled flag is required/);
  });
});

describe('the kubelogin command', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-kubelogin-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const kubelogin = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: dir, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('get-token --help lists every mode, azd and azurepipelines included, and the flags upstream has', () => {
    const r = kubelogin(['get-token', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Supported methods: devicecode, interactive, spn, ropc, msi, azurecli, azd, workloadidentity, azurepipelines\./);
    for (const flag of [
      '--login-hint',
      '--redirect-url',
      '--timeout',
      '--legacy',
      '-s, --subscription',
      '--pop-enabled',
      '--pop-claims',
      '--azure-pipelines-service-connection-id',
    ])
      assert.ok(r.stdout.includes(flag), flag);
  });

  it('-l azurepipelines outside a pipeline fails as upstream does: SYSTEM_ACCESSTOKEN environment variable not set', () => {
    const r = kubelogin(['get-token', '-l', 'azurepipelines', '--server-id', SERVER, '--cache-dir', join(dir, 'c-ap')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: SYSTEM_ACCESSTOKEN environment variable not set\n');
  });

  it('--pop-enabled with a mode that has no PoP credential upstream says so, rather than handing out a bearer token', () => {
    const r = kubelogin([
      'get-token',
      '-l',
      'azurecli',
      '--server-id',
      SERVER,
      '--pop-enabled',
      '--pop-claims',
      'u=/arm/id',
      '--cache-dir',
      join(dir, 'c-pop'),
    ]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "Error: --pop-enabled works with -l interactive, spn and ropc (as upstream's PoP credentials), not with -l azurecli\n",
    );
  });

  it('remove-cache-dir removes --cache-dir, and by default ~/.kube/cache/kubelogin/ (not KUBECACHEDIR)', () => {
    const custom = join(dir, 'custom-cache');
    mkdirSync(custom);
    writeFileSync(join(custom, 'x.json'), '{}');
    assert.equal(kubelogin(['remove-cache-dir', '--cache-dir', custom]).code, 0);
    assert.equal(existsSync(custom), false);
    const home = join(dir, '.kube', 'cache', 'kubelogin');
    const other = join(dir, 'kubecachedir');
    mkdirSync(home, { recursive: true });
    mkdirSync(other);
    const r = kubelogin(['remove-cache-dir'], { KUBECACHEDIR: other });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(home), false);
    assert.equal(existsSync(other), true);
    const bad = kubelogin(['remove-cache-dir', '--nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: unknown flag: --nope$/m);
  });

  it('-l azd runs `azd auth token` (a FAKE azd on PATH) with the scope and tenant, and prints its token', () => {
    const bin = join(dir, 'fake-azd-bin');
    mkdirSync(bin);
    const argvFile = join(dir, 'fake-azd-argv');
    // FAKE azd: records its arguments and answers as `azd auth token --output json` does.
    writeFileSync(
      join(bin, 'azd'),
      `#!/bin/sh\necho "$@" > "${argvFile}"\necho '{"token":"fake-azd-token","expiresOn":"2099-01-01T00:00:00Z"}'\n`,
    );
    chmodSync(join(bin, 'azd'), 0o755);
    const r = kubelogin(['get-token', '-l', 'azd', '--server-id', SERVER, '-t', TENANT, '--cache-dir', join(dir, 'c-azd')], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, r.stderr);
    const cred = JSON.parse(r.stdout);
    assert.equal(cred.status.token, 'fake-azd-token');
    assert.equal(cred.status.expirationTimestamp, '2099-01-01T00:00:00Z');
    assert.equal(
      readFileSync(argvFile, 'utf8').trim(),
      `auth token --output json --no-prompt --scope ${SERVER}/.default --tenant-id ${TENANT}`,
    );

    writeFileSync(join(bin, 'azd'), "#!/bin/sh\necho 'ERROR: not logged in, run `azd auth login` to login' >&2\nexit 1\n");
    const failed = kubelogin(['get-token', '-l', 'azd', '--server-id', `${SERVER}x`, '--cache-dir', join(dir, 'c-azd2')], {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /^Error: failed to get token: AzureDeveloperCLICredential: ERROR: not logged in, run `azd auth login` to login$/m,
    );

    const missing = kubelogin(['get-token', '-l', 'azd', '--server-id', SERVER, '--cache-dir', join(dir, 'c-azd3')], {
      PATH: '/nonexistent',
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /AzureDeveloperCLICredential: Azure Developer CLI not found on path/);
  });

  it('a PFX client certificate with a wrong password is refused with a clear error', () => {
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    const pfx = join(dir, 'client.pfx');
    assert.equal(
      spawnSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=pfx', '-days', '1'],
        { stdio: 'ignore' },
      ).status,
      0,
    );
    assert.equal(
      spawnSync('openssl', ['pkcs12', '-export', '-inkey', key, '-in', cert, '-out', pfx, '-passout', 'pass:right-password'], {
        stdio: 'ignore',
      }).status,
      0,
    );
    const r = kubelogin([
      'get-token',
      '-l',
      'spn',
      '--server-id',
      SERVER,
      '-t',
      TENANT,
      '--client-id',
      CLIENT,
      '--client-certificate',
      pfx,
      '--client-certificate-password',
      'wrong',
      '--authority-host',
      'https://127.0.0.1:9/',
      '--cache-dir',
      join(dir, 'c-pfx'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: .*cannot read the PKCS#12 \(PFX\) client certificate .*client\.pfx.*wrong password/m);
  });
});

describe('convert-kubeconfig output as upstream v0.2.x', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-kubelogin-convert-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const azureKubeconfig = (configMode: string) => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:6443' } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
users:
- name: u
  user:
    auth-provider:
      name: azure
      config: { apiserver-id: ${SERVER}, client-id: ${CLIENT}, tenant-id: ${TENANT}, environment: AzurePublicCloud, config-mode: '${configMode}' }
`;
  let n = 0;
  const convert = (args: string[], configMode = '1', env: NodeJS.ProcessEnv = {}) => {
    const file = join(dir, `k${n++}`);
    writeFileSync(file, azureKubeconfig(configMode));
    const r = spawnSync(process.execPath, [BIN, 'convert-kubeconfig', '--kubeconfig', file, ...args], {
      env: { PATH: process.env.PATH, HOME: dir, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return (parse(readFileSync(file, 'utf8')) as any).users[0].user.exec.args as string[];
  };
  const ids = ['--client-id', CLIENT, '--tenant-id', TENANT, '--environment', 'AzurePublicCloud'];

  it('devicecode: config-mode "" or "0" adds --legacy, "1" does not', () => {
    assert.deepEqual(convert([], ''), ['get-token', '--login', 'devicecode', '--server-id', SERVER, ...ids, '--legacy']);
    assert.deepEqual(convert([], '0'), ['get-token', '--login', 'devicecode', '--server-id', SERVER, ...ids, '--legacy']);
    assert.deepEqual(convert([], '1'), ['get-token', '--login', 'devicecode', '--server-id', SERVER, ...ids]);
  });

  it('interactive carries --pop-enabled/--pop-claims, --redirect-url and --login-hint', () => {
    assert.deepEqual(
      convert([
        '-l',
        'interactive',
        '--redirect-url',
        'http://localhost:8400/',
        '--login-hint',
        'dev@contoso.com',
        '--pop-enabled',
        '--pop-claims',
        'u=/arm/id',
      ]),
      [
        'get-token',
        '--login',
        'interactive',
        '--server-id',
        SERVER,
        ...ids,
        '--pop-enabled',
        '--pop-claims',
        'u=/arm/id',
        '--redirect-url',
        'http://localhost:8400/',
        '--login-hint',
        'dev@contoso.com',
      ],
    );
  });

  it('spn carries the certificate, --legacy, PoP and --disable-environment-override', () => {
    assert.deepEqual(
      convert([
        '-l',
        'spn',
        '--client-certificate',
        '/c.pfx',
        '--client-certificate-password',
        'pw',
        '--legacy',
        '--pop-enabled',
        '--pop-claims',
        'u=x',
        '--disable-environment-override',
      ]),
      [
        'get-token',
        '--login',
        'spn',
        '--server-id',
        SERVER,
        ...ids,
        '--client-certificate',
        '/c.pfx',
        '--client-certificate-password',
        'pw',
        '--legacy',
        '--pop-enabled',
        '--pop-claims',
        'u=x',
        '--disable-environment-override',
      ],
    );
  });

  it('the spn: server id is written as given', () => {
    assert.deepEqual(convert(['--server-id', `spn:${SERVER}`]), [
      'get-token',
      '--login',
      'devicecode',
      '--server-id',
      `spn:${SERVER}`,
      ...ids,
    ]);
  });

  it('azurecli writes --tenant-id and -s/--subscription only when passed; azd only --tenant-id', () => {
    assert.deepEqual(convert(['-l', 'azurecli']), ['get-token', '--login', 'azurecli', '--server-id', SERVER]);
    assert.deepEqual(convert(['-l', 'azurecli', '-s', 'sub-1', '-t', TENANT]), [
      'get-token',
      '--login',
      'azurecli',
      '--server-id',
      SERVER,
      '--tenant-id',
      TENANT,
      '--subscription',
      'sub-1',
    ]);
    assert.deepEqual(convert(['-l', 'azd']), ['get-token', '--login', 'azd', '--server-id', SERVER]);
    assert.deepEqual(convert(['-l', 'azd', '--tenant-id', TENANT]), [
      'get-token',
      '--login',
      'azd',
      '--server-id',
      SERVER,
      '--tenant-id',
      TENANT,
    ]);
  });

  it('azurepipelines writes --tenant-id and --azure-pipelines-service-connection-id', () => {
    assert.deepEqual(convert(['-l', 'azurepipelines', '--azure-pipelines-service-connection-id', 'conn-1']), [
      'get-token',
      '--login',
      'azurepipelines',
      '--server-id',
      SERVER,
      '--tenant-id',
      TENANT,
      '--azure-pipelines-service-connection-id',
      'conn-1',
    ]);
  });
});
