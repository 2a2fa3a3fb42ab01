import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { azFor, azSkip, type Az } from '../support/az.js';
import { CHROMIUM_SKIP, launchChromium } from '../support/chromium.js';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { goTool } from '../support/tools.js';
import { AKS_CLIENT, AKS_SERVER, kentraEnvironment, requestCount, runCommand, upstreamBin } from '../support/upstream-kubelogin.js';

// Issue 15 part 1: upstream Azure/kubelogin (v0.2.19, built from its Go module) as the exec plugin of
// the real kubectl, with the kubeconfigs `kentra aks get-credentials` writes, changed only by upstream's
// own `kubelogin convert-kubeconfig` (and, where that drops the authority, the documented
// `kubectl config set-credentials --exec-arg` workaround). Trust of Kentra's CA comes from
// `eval "$(kentra env)"`; each test has its own HOME, XDG_CACHE_HOME (MSAL's token cache) and
// KUBECACHEDIR (kubelogin's authentication record).

const TENANT = '15151515-1515-4515-8515-151515151515';
const DOMAIN = 'upstream.onmicrosoft.com';
const SUBSCRIPTION = '15151515-0000-4000-8000-00000000005b';
const ADMINS = '15151515-0000-4000-8000-0000000000a0';
const PIPELINE = '15151515-0000-4000-8000-0000000000c1';
const NODE_IDENTITY = '15151515-0000-4000-8000-0000000000d1';
const DEV = { username: `dev@${DOMAIN}`, password: 'Dev-Passw0rd!15' };
const SECRET = 'pipeline-secret-0123456789-upstream';
const TOKEN_ROUTE = /^\/:tenant\/oauth2\/(v2\.0\/)?token$/;
// The newest kubectl of Debian's kubectl package, run directly: its `kubectl` is Google's dispatcher, which asks the
// server for its version before every command (running the exec plugin even for `kubectl config set-credentials`).
// Built (or taken from ~/.cache/kentra) by scripts/build-go-tool.sh; in CI a missing tool is an error, never a skip.
const UPSTREAM = goTool('kubelogin');
const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const KUBECTL = join(
  KUBECTL_DIR,
  readdirSync(KUBECTL_DIR)
    .filter((f) => /^kubectl\.1\.\d+$/.test(f))
    .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
    .at(-1) ?? 'kubectl',
);

describe('upstream Azure/kubelogin with the real kubectl against kentra up', { timeout: 600_000, skip: UPSTREAM.skip }, () => {
  let k: TestKentra;
  let issuer: TestIssuer;
  let dir: string;
  let shellEnv: NodeJS.ProcessEnv;
  let upstream: { bin: string; openedUrls: string };
  let authorityHost: string;
  let execKubeconfig: string;
  let azureKubeconfig: string;
  let pemFile: string;
  let pfxFile: string;
  let opensslDefaultPfx: string;
  let cases = 0;
  /** Object ids of the service principals: the username Kentra's cluster gives an app token. */
  let pipelineSp: string;
  let nodeIdentitySp: string;

  /** A fresh user environment after `eval "$(kentra env)"`, with upstream's kubelogin first on PATH. */
  const isolated = (name: string): NodeJS.ProcessEnv => {
    const home = join(dir, `home-${++cases}-${name}`);
    mkdirSync(home, { recursive: true });
    return {
      ...shellEnv,
      PATH: `${upstream.bin}:${shellEnv.PATH}`,
      HOME: home,
      XDG_CACHE_HOME: join(home, '.cache'),
      KUBECACHEDIR: join(home, '.kube', 'cache', 'kubelogin'),
    };
  };
  /** A copy of a kubeconfig get-credentials wrote, for one test to change. */
  const copyOf = (file: string, name: string): string => {
    const copy = join(dir, `${name}.kubeconfig`);
    copyFileSync(file, copy);
    return copy;
  };
  const userOf = (kubeconfig: string) =>
    parse(readFileSync(kubeconfig, 'utf8')).users[0] as { name: string; user: { exec: { command: string; args: string[] } } };
  const kubectl = (env: NodeJS.ProcessEnv, kubeconfig: string, args: string[], signIn = false) =>
    runCommand(env, KUBECTL, ['--kubeconfig', kubeconfig, ...args], signIn ? { k, signIn: DEV } : {});
  const convert = async (env: NodeJS.ProcessEnv, kubeconfig: string, args: string[]) => {
    const r = await runCommand(env, 'kubelogin', ['convert-kubeconfig', '--kubeconfig', kubeconfig, ...args]);
    assert.equal(r.code, 0, `kubelogin convert-kubeconfig ${args.join(' ')}: ${r.stderr}`);
    return userOf(kubeconfig).user.exec.args;
  };
  /**
   * The documented workaround for what convert-kubeconfig drops (docs/clients.md): the converted args
   * plus Kentra's authority, written back with kubectl (which replaces the whole args list).
   */
  const restoreAuthority = async (
    env: NodeJS.ProcessEnv,
    kubeconfig: string,
    added = ['--authority-host', authorityHost, '--disable-instance-discovery'],
  ) => {
    const { name, user } = userOf(kubeconfig);
    const args = [...user.exec.args, ...added];
    const r = await kubectl(env, kubeconfig, ['config', 'set-credentials', name, `--exec-arg=${args.join(',')}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(userOf(kubeconfig).user.exec.args, args);
  };
  const assertNodes = (r: { code: number; stdout: string; stderr: string }) => {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n\S+\s+Ready\s/);
  };
  const whoami = async (env: NodeJS.ProcessEnv, kubeconfig: string): Promise<string> => {
    const r = await kubectl(env, kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-upstream-kubelogin-'));
    const cert = await createSelfSignedCertificate({ commonName: 'pipeline' });
    pemFile = join(dir, 'pipeline.pem');
    writeFileSync(pemFile, `${cert.certPem}${cert.keyPem}`);
    // Upstream reads PFX files with golang.org/x/crypto/pkcs12: SHA-1 MAC and 3DES only, not OpenSSL 3's default (AES, SHA-256).
    pfxFile = join(dir, 'pipeline.pfx');
    const made = spawnSync(
      'openssl',
      [
        'pkcs12',
        '-export',
        '-in',
        pemFile,
        '-out',
        pfxFile,
        '-passout',
        'pass:pfx-Passw0rd',
        '-certpbe',
        'PBE-SHA1-3DES',
        '-keypbe',
        'PBE-SHA1-3DES',
        '-macalg',
        'sha1',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(made.status, 0, made.stderr);
    opensslDefaultPfx = join(dir, 'pipeline-openssl3.pfx');
    const made3 = spawnSync('openssl', ['pkcs12', '-export', '-in', pemFile, '-out', opensslDefaultPfx, '-passout', 'pass:pfx-Passw0rd'], {
      encoding: 'utf8',
    });
    assert.equal(made3.status, 0, made3.stderr);
    issuer = await startTestIssuer(dir);
    const indent = (pem: string) =>
      pem
        .trim()
        .split('\n')
        .map((l) => `              ${l}`)
        .join('\n');
    k = await startTestKentra({
      extraArgs: ['--provisioning-delay', '0'],
      env: { NODE_EXTRA_CA_CERTS: issuer.caFile },
      seed: `
tenants:
  - id: ${TENANT}
    domain: ${DOMAIN}
    users:
      - { userPrincipalName: ${DEV.username}, password: '${DEV.password}' }
    applications:
      - displayName: pipeline
        appId: ${PIPELINE}
        secrets: ['${SECRET}']
        certificates:
          - pem: |
${indent(cert.certPem)}
        federatedIdentityCredentials:
          - { name: workload, issuer: '${issuer.url}', subject: 'system:serviceaccount:default:app' }
      - displayName: node-identity
        appId: ${NODE_IDENTITY}
        managedIdentity: true
    groups:
      - { displayName: aks-admins, id: ${ADMINS}, members: ['${DEV.username}', 'app:${PIPELINE}', 'app:${NODE_IDENTITY}'] }
    subscriptions:
      - { id: ${SUBSCRIPTION}, displayName: upstream, roleAssignments: [{ principal: '${DEV.username}', role: Owner }] }
`,
    });
    authorityHost = `${k.endpoints.authority}/`;
    shellEnv = kentraEnvironment(k, dir);
    upstream = upstreamBin(dir, UPSTREAM.path);
    // The cluster and its two user kubeconfigs, as a user makes them with Kentra's CLI.
    const cli = kentraCli(() => ({ ...shellEnv, HOME: join(dir, 'kentra-home') }));
    await cli.ok('login', '-u', DEV.username, '-p', DEV.password, '--tenant', TENANT);
    await cli.ok('group', 'create', '--name', 'rg', '--location', 'centralus', '--subscription', SUBSCRIPTION);
    await cli.ok(
      'aks',
      'create',
      '-g',
      'rg',
      '-n',
      'upstream',
      '--subscription',
      SUBSCRIPTION,
      '--enable-aad',
      '--aad-admin-group-object-ids',
      ADMINS,
      '--generate-ssh-keys',
    );
    pipelineSp = (await cli.ok('ad', 'sp', 'show', '--id', PIPELINE, '--query', 'id', '-o', 'tsv')).trim();
    nodeIdentitySp = (await cli.ok('ad', 'sp', 'show', '--id', NODE_IDENTITY, '--query', 'id', '-o', 'tsv')).trim();
    execKubeconfig = join(dir, 'exec.kubeconfig');
    azureKubeconfig = join(dir, 'azure.kubeconfig');
    await cli.ok('aks', 'get-credentials', '-g', 'rg', '-n', 'upstream', '--subscription', SUBSCRIPTION, '-f', execKubeconfig);
    await cli.ok(
      'aks',
      'get-credentials',
      '-g',
      'rg',
      '-n',
      'upstream',
      '--subscription',
      SUBSCRIPTION,
      '-f',
      azureKubeconfig,
      '--format',
      'azure',
    );
  });
  after(async () => {
    await k?.close();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("kubectl runs upstream kubelogin v0.2.19, not Kentra's", async (t) => {
    const env = isolated('version');
    const where = await runCommand(env, 'bash', ['-c', 'command -v kubelogin']);
    assert.equal(where.stdout.trim(), join(upstream.bin, 'kubelogin'));
    const version = await runCommand(env, 'kubelogin', ['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^kubelogin version\s*\ngit hash: v0\.2\.19\nGo version: go1\.\d+/);
    t.diagnostic(`upstream kubelogin: ${version.stdout.trim().replace(/\n/g, ' | ')}`);
    const kubectlVersion = await runCommand(env, KUBECTL, ['version', '--client']);
    assert.equal(kubectlVersion.code, 0, kubectlVersion.stderr);
    t.diagnostic(`kubectl (${KUBECTL}): ${kubectlVersion.stdout.split('\n')[0]}`);
    assert.ok(
      shellEnv.SSL_CERT_FILE && readFileSync(shellEnv.SSL_CERT_FILE, 'utf8').includes(readFileSync(k.endpoints.caFile, 'utf8').trim()),
      'Go trusts Kentra through SSL_CERT_FILE from kentra env',
    );
  });

  it("devicecode with the get-credentials kubeconfig as written: upstream's prompt, the sign-in, and the next kubectl served from its cache", async () => {
    const env = isolated('devicecode');
    const { user } = userOf(execKubeconfig);
    assert.deepEqual(user.exec.args.slice(-3), ['--authority-host', authorityHost, '--disable-instance-discovery']);
    const first = await kubectl(env, execKubeconfig, ['get', 'nodes'], true);
    assertNodes(first);
    assert.equal(first.signIns, 1);
    // Upstream prints the IdP's `message` verbatim with a newline (fmt.Fprintln(os.Stderr, dcm.Message)), nothing else.
    assert.match(
      first.stderr,
      new RegExp(
        `^To sign in, use a web browser to open the page ${k.endpoints.authority.replace(/[.]/g, '\\.')}/devicelogin and enter the code [A-Z]{9} to authenticate\\.\\n$`,
      ),
    );
    assert.ok(
      existsSync(join(env.XDG_CACHE_HOME!, '.IdentityService', 'msal.cache')),
      "MSAL's persistent cache is written under XDG_CACHE_HOME",
    );
    assert.ok(existsSync(join(env.KUBECACHEDIR!, 'auth.json')), 'the authentication record is in KUBECACHEDIR');
    const before = await requestCount(k, TOKEN_ROUTE);
    const second = await kubectl(env, execKubeconfig, ['get', 'nodes']);
    assertNodes(second);
    assert.equal(second.stderr, '', 'no prompt');
    assert.equal(await requestCount(k, TOKEN_ROUTE), before, 'the second kubectl did not call the token endpoint');
    assert.equal(await whoami(env, execKubeconfig), DEV.username);
  });

  it('document 002: --format azure is refused by kubectl; upstream convert-kubeconfig drops the authority; the set-credentials workaround signs in', async () => {
    const env = isolated('format-azure');
    const kubeconfig = copyOf(azureKubeconfig, 'format-azure');
    const refused = await kubectl(env, kubeconfig, ['get', 'nodes']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /The azure auth plugin has been removed\./);
    const args = await convert(env, kubeconfig, []);
    assert.deepEqual(args, [
      'get-token',
      '--login',
      'devicecode',
      '--server-id',
      AKS_SERVER,
      '--client-id',
      AKS_CLIENT,
      '--tenant-id',
      TENANT,
      '--environment',
      'AzurePublicCloud',
    ]);
    // The auth-provider format has no key for an authority, and convert writes none (pkg/internal/converter/convert.go).
    // What kubectl runs now goes to the public cloud (this machine is offline: a refusing proxy makes that quick to see;
    // Go never proxies localhost, so Kentra would still be reached directly).
    const lost = await runCommand({ ...env, HTTPS_PROXY: 'http://127.0.0.1:9' }, 'kubelogin', args);
    assert.equal(lost.code, 1);
    assert.match(
      lost.stderr,
      new RegExp(
        `^Error: failed to authenticate: unable to resolve an endpoint: server response error:\\n Get "https://login\\.microsoftonline\\.com/${TENANT}/v2\\.0/\\.well-known/openid-configuration`,
      ),
    );
    await restoreAuthority(env, kubeconfig);
    const r = await kubectl(env, kubeconfig, ['get', 'nodes'], true);
    assertNodes(r);
    assert.equal(r.signIns, 1);
  });

  it('spn with a secret: convert-kubeconfig -l spn from the exec kubeconfig loses --authority-host, the workaround restores it', async () => {
    const env = { ...isolated('spn-secret'), AAD_SERVICE_PRINCIPAL_CLIENT_ID: PIPELINE, AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: SECRET };
    const kubeconfig = copyOf(execKubeconfig, 'spn');
    const args = await convert(env, kubeconfig, ['-l', 'spn']);
    assert.deepEqual(args, [
      'get-token',
      '--login',
      'spn',
      '--server-id',
      AKS_SERVER,
      '--client-id',
      AKS_CLIENT,
      '--tenant-id',
      TENANT,
      '--environment',
      'AzurePublicCloud',
    ]);
    await restoreAuthority(env, kubeconfig);
    assertNodes(await kubectl(env, kubeconfig, ['get', 'nodes']));
    assert.equal(await whoami(env, kubeconfig), pipelineSp, "the pipeline's service principal, by object id");
    const before = await requestCount(k, TOKEN_ROUTE);
    assertNodes(await kubectl(env, kubeconfig, ['get', 'nodes']));
    assert.equal(await requestCount(k, TOKEN_ROUTE), before, 'spn tokens are cached too');
  });

  it('spn with a certificate: PEM (certificate and key in one file) and PFX with its password', async () => {
    const kubeconfig = copyOf(execKubeconfig, 'spn-cert');
    const pem = { ...isolated('spn-pem'), AAD_SERVICE_PRINCIPAL_CLIENT_ID: PIPELINE, AAD_SERVICE_PRINCIPAL_CLIENT_CERTIFICATE: pemFile };
    await convert(pem, kubeconfig, ['-l', 'spn']);
    await restoreAuthority(pem, kubeconfig);
    assertNodes(await kubectl(pem, kubeconfig, ['get', 'nodes']));
    assert.equal(await whoami(pem, kubeconfig), pipelineSp);
    const pfx = {
      ...isolated('spn-pfx'),
      AZURE_CLIENT_ID: PIPELINE,
      AZURE_CLIENT_CERTIFICATE_PATH: pfxFile,
      AZURE_CLIENT_CERTIFICATE_PASSWORD: 'pfx-Passw0rd',
    };
    assertNodes(await kubectl(pfx, kubeconfig, ['get', 'nodes']));
    assert.equal(await whoami(pfx, kubeconfig), pipelineSp);
    // A PFX as OpenSSL 3 writes it by default is refused by upstream itself, before any request (docs/clients.md).
    const modern = await runCommand(
      {
        ...isolated('spn-pfx-openssl3'),
        AZURE_CLIENT_ID: PIPELINE,
        AZURE_CLIENT_CERTIFICATE_PATH: opensslDefaultPfx,
        AZURE_CLIENT_CERTIFICATE_PASSWORD: 'pfx-Passw0rd',
      },
      'kubelogin',
      userOf(kubeconfig).user.exec.args,
    );
    assert.equal(modern.code, 1);
    assert.match(
      modern.stderr,
      /^Error: failed to create azidentity credential: failed to read certificate: pkcs12: unknown digest algorithm: 2\.16\.840\.1\.101\.3\.4\.2\.1\n$/,
    );
  });

  it('ropc chosen by AAD_LOGIN_METHOD over the unchanged kubeconfig: MSAL Go asks /common/UserRealm first, Kentra answers', async () => {
    const env = {
      ...isolated('ropc'),
      AAD_LOGIN_METHOD: 'ropc',
      AAD_USER_PRINCIPAL_NAME: DEV.username,
      AAD_USER_PRINCIPAL_PASSWORD: DEV.password,
    };
    const realm = await requestCount(k, /^\/common\/userrealm\/:user$/i, 'GET');
    const r = await kubectl(env, execKubeconfig, ['get', 'nodes']);
    assertNodes(r);
    assert.equal(r.stderr, '', 'no device code: the environment chose ropc');
    assert.ok((await requestCount(k, /^\/common\/userrealm\/:user$/i, 'GET')) > realm, 'the user realm was asked');
    assert.equal(await whoami(env, execKubeconfig), DEV.username);
  });

  it("interactive with Debian's Chromium at upstream's loopback redirect", { skip: CHROMIUM_SKIP }, async () => {
    const env = isolated('interactive');
    const kubeconfig = copyOf(execKubeconfig, 'interactive');
    const args = await convert(env, kubeconfig, ['-l', 'interactive']);
    assert.ok(!args.includes('--authority-host'));
    await restoreAuthority(env, kubeconfig);
    const browser = await launchChromium(k.endpoints.authority);
    try {
      const opened = () =>
        existsSync(upstream.openedUrls) ? (readFileSync(upstream.openedUrls, 'utf8').trim().split('\n').at(-1) ?? '') : '';
      const started = Date.now();
      const run = kubectl(env, kubeconfig, ['get', 'nodes']);
      while (!opened() && Date.now() - started < 30_000) await new Promise((w) => setTimeout(w, 100));
      const url = opened();
      assert.match(url, new RegExp(`^${k.endpoints.authority.replace(/[.]/g, '\\.')}/${TENANT}/oauth2/v2\\.0/authorize\\?`));
      assert.match(new URL(url).searchParams.get('redirect_uri') ?? '', /^http:\/\/localhost:\d+$/);
      const signIn = (async () => {
        const page = await browser.newPage();
        await page.goto(url);
        assert.equal(await page.title(), 'Sign in to your account');
        await page.fill('#username', DEV.username);
        await page.fill('#password', DEV.password);
        // MSAL Go asks for response_mode=form_post: the page posts the code to upstream's loopback listener.
        await Promise.all([page.waitForURL(/^http:\/\/localhost:\d+\/?$/), page.click('button[type=submit]')]);
        return (await page.textContent('body')) ?? '';
      })();
      const [r, body] = await Promise.all([run, signIn]);
      assertNodes(r);
      assert.match(body, /Authentication complete/i);
      assert.equal(await whoami(env, kubeconfig), DEV.username);
      const before = await requestCount(k, TOKEN_ROUTE);
      const again = await kubectl(env, kubeconfig, ['get', 'nodes']);
      assertNodes(again);
      assert.equal(await requestCount(k, TOKEN_ROUTE), before, 'cached: no second sign-in, no token request');
    } finally {
      await browser.close();
    }
  });

  it('workloadidentity with a federated token file; the authority from AZURE_AUTHORITY_HOST of kentra env', async () => {
    const tokenFile = join(dir, 'sa-token');
    writeFileSync(tokenFile, issuer.sign({ sub: 'system:serviceaccount:default:app', aud: 'api://AzureADTokenExchange' }));
    const env: NodeJS.ProcessEnv = {
      ...isolated('workload'),
      AZURE_CLIENT_ID: PIPELINE,
      AZURE_TENANT_ID: TENANT,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    };
    assert.equal(env.AZURE_AUTHORITY_HOST, authorityHost);
    const kubeconfig = copyOf(execKubeconfig, 'workload');
    const args = await convert(env, kubeconfig, ['-l', 'workloadidentity']);
    // No --disable-instance-discovery is written, so MSAL Go would first ask login.microsoftonline.com/common/discovery/instance.
    assert.deepEqual(args, ['get-token', '--login', 'workloadidentity', '--server-id', AKS_SERVER]);
    await restoreAuthority(env, kubeconfig, ['--disable-instance-discovery']);
    assertNodes(await kubectl(env, kubeconfig, ['get', 'nodes']));
    assert.equal(await whoami(env, kubeconfig), pipelineSp);
  });

  it("msi through Kentra's managed identity endpoint, described by IDENTITY_ENDPOINT and IDENTITY_HEADER", async () => {
    const env = {
      ...isolated('msi'),
      IDENTITY_ENDPOINT: `${k.endpoints.authority}/metadata/identity/oauth2/token`,
      IDENTITY_HEADER: 'kentra-test-identity-header',
    };
    const kubeconfig = copyOf(execKubeconfig, 'msi');
    const args = await convert(env, kubeconfig, ['-l', 'msi', '--client-id', NODE_IDENTITY]);
    assert.deepEqual(args, ['get-token', '--login', 'msi', '--server-id', AKS_SERVER, '--client-id', NODE_IDENTITY]);
    assertNodes(await kubectl(env, kubeconfig, ['get', 'nodes']));
    assert.equal(await whoami(env, kubeconfig), nodeIdentitySp);
  });

  describe('azurecli', { skip: azSkip }, () => {
    let az: Az;
    before(async () => {
      az = await azFor(k.endpoints);
    });
    after(() => az?.close());

    it('azurecli: upstream runs az account get-access-token after az login', async (t) => {
      t.diagnostic(
        `az: ${(await az.run('version', '--query', '"azure-cli"', '-o', 'tsv')).stdout.trim()} (Debian's, through Kentra's ADFS authority: docs/azure-cli.md)`,
      );
      const login = await az.run('login', '-u', DEV.username, '-p', DEV.password, '--tenant', TENANT);
      assert.equal(login.code, 0, login.stderr);
      const env = { ...isolated('azurecli'), AZURE_CONFIG_DIR: az.env.AZURE_CONFIG_DIR, REQUESTS_CA_BUNDLE: az.env.REQUESTS_CA_BUNDLE };
      const kubeconfig = copyOf(execKubeconfig, 'azurecli');
      const args = await convert(env, kubeconfig, ['-l', 'azurecli']);
      assert.deepEqual(args, ['get-token', '--login', 'azurecli', '--server-id', AKS_SERVER]);
      assertNodes(await kubectl(env, kubeconfig, ['get', 'nodes']));
      assert.equal(await whoami(env, kubeconfig), DEV.username);
    });
  });
});
