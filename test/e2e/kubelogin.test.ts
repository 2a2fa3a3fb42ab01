import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createSelfSignedCertificate } from '../../src/pki/index.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { CHROMIUM_SKIP, launchChromium } from '../support/chromium.js';
import { httpsFetch, postForm } from '../support/http.js';
import { completeDeviceLogin, KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.js';

// Kentra's kubelogin as the exec credential plugin of the real kubectl, in every mode built so far,
// against `kentra up`. The cluster side is a FAKE API server that checks the token (see its file) until
// the cluster-access issue brings the real endpoint.

const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const TENANT = '66666666-6666-4666-8666-666666666666';
const KUBELOGIN = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src/kubelogin/bin.cjs');
const kubectlVersions = readdirSync('/usr/lib/google-cloud-sdk/bin', { withFileTypes: true })
  .filter((d) => /^kubectl\.1\.\d+$/.test(d.name))
  .map((d) => d.name)
  .sort();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('kubelogin with the real kubectl', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let api: FakeApiServer;
  let issuer: TestIssuer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let authorityHost: string;
  let certFile: string;

  const seed = (certPem: string, issuerUrl: string) => `
tenants:
  - id: ${TENANT}
    domain: kubelogin.onmicrosoft.com
    users:
      - { userPrincipalName: dev@kubelogin.onmicrosoft.com, password: 'Dev-Passw0rd!' }
    applications:
      - displayName: pipeline
        appId: 66666666-0000-4000-8000-0000000000c1
        secrets: ['pipeline-secret-0123456789']
        certificates:
          - pem: |
${certPem
  .trim()
  .split('\n')
  .map((l) => `              ${l}`)
  .join('\n')}
        federatedIdentityCredentials:
          - { name: workload, issuer: '${issuerUrl}', subject: 'system:serviceaccount:default:app' }
      - displayName: node-identity
        appId: 66666666-0000-4000-8000-0000000000d1
        managedIdentity: true
`;

  const run = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, onStderr?: (s: string) => void): Promise<Run> =>
    new Promise((resolvePromise) => {
      const child = spawn(cmd, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr);
      });
      child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
    });
  const execUser = (args: string[], execEnv?: { name: string; value: string }[]) => ({
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: 'kubelogin',
      args,
      env: execEnv ?? null,
      provideClusterInfo: false,
      interactiveMode: 'IfAvailable',
    },
  });
  const base = () => [
    'get-token',
    '--server-id',
    AKS_SERVER,
    '--tenant-id',
    TENANT,
    '--authority-host',
    authorityHost,
    '--disable-instance-discovery',
  ];
  /** Runs kubectl get nodes, completing a device-code sign-in when kubelogin prints one. */
  const getNodes = async (kubeconfig: string, opts: { kubectl?: string; extraEnv?: NodeJS.ProcessEnv; signIn?: boolean } = {}) => {
    let signIn: Promise<string> | undefined;
    const r = await run(opts.kubectl ?? 'kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes'], opts.extraEnv, (stderr) => {
      const m = /enter the code ([A-Z]{9}) to authenticate/.exec(stderr);
      if (m && !signIn && opts.signIn !== false)
        signIn = completeDeviceLogin(k.endpoints.authority, k.endpoints.caFile, m[1]!, 'dev@kubelogin.onmicrosoft.com', 'Dev-Passw0rd!');
    });
    if (signIn) await signIn;
    return { ...r, signedIn: !!signIn };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-kubelogin-'));
    const cert = await createSelfSignedCertificate({ commonName: 'pipeline' });
    certFile = join(dir, 'pipeline.pem');
    writeFileSync(certFile, `${cert.certPem}${cert.keyPem}`);
    issuer = await startTestIssuer(dir);
    k = await startTestKentra({ seed: seed(cert.certPem, issuer.url), env: { NODE_EXTRA_CA_CERTS: issuer.caFile } });
    authorityHost = `${k.endpoints.authority}/`;
    api = await startFakeApiServer({
      authority: k.endpoints.authority,
      caFile: k.endpoints.caFile,
      tenantId: TENANT,
      audience: AKS_SERVER,
    });
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'kubelogin'), `#!/bin/sh\nexec "${process.execPath}" "${KUBELOGIN}" "$@"\n`);
    chmodSync(join(bin, 'kubelogin'), 0o755);
    env = { PATH: `${bin}:${process.env.PATH}`, HOME: dir, KUBECACHEDIR: join(dir, 'cache'), NODE_EXTRA_CA_CERTS: k.endpoints.caFile };
  });
  after(async () => {
    await api?.close();
    await k?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devicecode: kubectl shows the sign-in message, lists nodes, and the next command uses the cache', async () => {
    const kubeconfig = api.kubeconfig(dir, execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'devicecode']), 'devicecode');
    const first = await getNodes(kubeconfig);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(first.signedIn);
    assert.match(
      first.stderr,
      /To sign in, use a web browser to open the page https:\/\/localhost:\d+\/devicelogin and enter the code [A-Z]{9} to authenticate\./,
    );
    assert.match(first.stdout, /^NAME\s+STATUS\naks-nodepool1-12345678-vmss000000\s+Ready\n$/);
    const user = api.accepted.at(-1)!;
    assert.equal(user.upn, 'dev@kubelogin.onmicrosoft.com');
    assert.equal(user.appid, AKS_CLIENT);
    const second = await getNodes(kubeconfig, { signIn: false });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, '', 'no prompt on a cache hit');
    const files = readdirSync(join(dir, 'cache')).filter((f) => f.endsWith('.json'));
    for (const f of files) assert.equal(statSync(join(dir, 'cache', f)).mode & 0o777, 0o600);
  });

  it('works with every kubectl version on the machine (1.27–1.33)', async () => {
    assert.ok(kubectlVersions.length >= 7, `kubectl versions found: ${kubectlVersions.join(', ')}`);
    const kubeconfig = join(dir, 'devicecode.kubeconfig');
    for (const kubectl of kubectlVersions) {
      const r = await getNodes(kubeconfig, { kubectl: join('/usr/lib/google-cloud-sdk/bin', kubectl), signIn: false });
      assert.equal(r.code, 0, `${kubectl}: ${r.stderr}`);
      assert.match(r.stdout, /aks-nodepool1-12345678-vmss000000/);
    }
  });

  it('ten kubectl processes started at once on an empty cache cause one device-code sign-in', async () => {
    const kubeconfig = api.kubeconfig(
      dir,
      execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'devicecode', '--cache-dir', join(dir, 'parallel-cache')]),
      'parallel',
    );
    let prompts = 0;
    let signIn: Promise<string> | undefined;
    const runs = await Promise.all(
      Array.from({ length: 10 }, () =>
        run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes'], {}, (stderr) => {
          const m = /enter the code ([A-Z]{9}) to authenticate/.exec(stderr);
          if (m) {
            prompts++;
            signIn ??= completeDeviceLogin(
              k.endpoints.authority,
              k.endpoints.caFile,
              m[1]!,
              'dev@kubelogin.onmicrosoft.com',
              'Dev-Passw0rd!',
            );
          }
        }),
      ),
    );
    await signIn;
    assert.ok(
      runs.every((r) => r.code === 0),
      runs.map((r) => r.stderr).join('\n'),
    );
    const messages = runs.filter((r) => /enter the code/.test(r.stderr)).length;
    assert.equal(messages, 1, 'exactly one process asked the user to sign in');
    assert.ok(prompts >= 1);
  });

  it('signs in again once (not in a loop) when the refresh token has been revoked', async () => {
    const kubeconfig = join(dir, 'devicecode.kubeconfig');
    const cacheDir = join(dir, 'cache');
    const file = readdirSync(cacheDir).find((f) => f.startsWith('devicecode-') && f.endsWith('.json'))!;
    const entry = JSON.parse(readFileSync(join(cacheDir, file), 'utf8'));
    // An expired access token and a refresh token the server no longer honours (revoked, or a password change).
    writeFileSync(join(cacheDir, file), JSON.stringify({ ...entry, expiresOn: 0, refreshToken: '1.revoked-or-unknown-refresh-token' }), {
      mode: 0o600,
    });
    const r = await getNodes(kubeconfig);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/enter the code/g) ?? []).length, 1, 'one new prompt');
    const again = await getNodes(kubeconfig, { signIn: false });
    assert.equal(again.stderr, '', 'and the new tokens are cached');
  });

  it('spn with a secret and with a certificate', async () => {
    const secret = api.kubeconfig(
      dir,
      execUser(
        [...base(), '--login', 'spn', '--client-id', '66666666-0000-4000-8000-0000000000c1'],
        [{ name: 'AAD_SERVICE_PRINCIPAL_CLIENT_SECRET', value: 'pipeline-secret-0123456789' }],
      ),
      'spn-secret',
    );
    const a = await getNodes(secret);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(api.accepted.at(-1)!.appid, '66666666-0000-4000-8000-0000000000c1');
    assert.equal(api.accepted.at(-1)!.appidacr, '1');
    const cert = api.kubeconfig(
      dir,
      execUser([...base(), '--login', 'spn', '--client-id', '66666666-0000-4000-8000-0000000000c1', '--client-certificate', certFile]),
      'spn-cert',
    );
    const b = await getNodes(cert);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(api.accepted.at(-1)!.appidacr, '2');
    const wrong = api.kubeconfig(
      dir,
      execUser([
        ...base(),
        '--login',
        'spn',
        '--client-id',
        '66666666-0000-4000-8000-0000000000c1',
        '--client-secret',
        'wrong-secret-0123456789',
      ]),
      'spn-wrong',
    );
    const c = await getNodes(wrong);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /Error: failed to get token: AADSTS7000215/);
    assert.match(c.stderr, /exec: executable kubelogin failed with exit code 1/);
  });

  it('spn with a PFX (PKCS#12) client certificate, by flag and by AZURE_CLIENT_CERTIFICATE_PATH/PASSWORD; a wrong password is named', async () => {
    const pfx = join(dir, 'pipeline.pfx');
    const made = spawnSync('openssl', ['pkcs12', '-export', '-in', certFile, '-out', pfx, '-passout', 'pass:pfx-Passw0rd'], {
      encoding: 'utf8',
    });
    assert.equal(made.status, 0, made.stderr);
    const byFlag = api.kubeconfig(
      dir,
      execUser([
        ...base(),
        '--login',
        'spn',
        '--client-id',
        '66666666-0000-4000-8000-0000000000c1',
        '--client-certificate',
        pfx,
        '--client-certificate-password',
        'pfx-Passw0rd',
        '--cache-dir',
        join(dir, 'pfx-flag'),
      ]),
      'spn-pfx',
    );
    const a = await getNodes(byFlag);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(api.accepted.at(-1)!.appid, '66666666-0000-4000-8000-0000000000c1');
    assert.equal(api.accepted.at(-1)!.appidacr, '2', 'signed in with the certificate');
    const byEnv = api.kubeconfig(
      dir,
      execUser([...base(), '--login', 'spn', '--client-id', '66666666-0000-4000-8000-0000000000c1', '--cache-dir', join(dir, 'pfx-env')]),
      'spn-pfx-env',
    );
    const b = await getNodes(byEnv, {
      extraEnv: { AZURE_CLIENT_CERTIFICATE_PATH: pfx, AZURE_CLIENT_CERTIFICATE_PASSWORD: 'pfx-Passw0rd' },
    });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(api.accepted.at(-1)!.appidacr, '2');
    const fresh = api.kubeconfig(
      dir,
      execUser([...base(), '--login', 'spn', '--client-id', '66666666-0000-4000-8000-0000000000c1', '--cache-dir', join(dir, 'pfx-wrong')]),
      'spn-pfx-wrong',
    );
    const c = await getNodes(fresh, { extraEnv: { AZURE_CLIENT_CERTIFICATE_PATH: pfx, AZURE_CLIENT_CERTIFICATE_PASSWORD: 'wrong' } });
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /Error: cannot read the PKCS#12 \(PFX\) client certificate \S+pipeline\.pfx: wrong password/);
    assert.match(c.stderr, /exec: executable kubelogin failed with exit code 1/);
  });

  it('spn --legacy signs in through the v1 token endpoint with resource = the server id and api-version=1.0 as ADAL asks: a spn: audience', async () => {
    // This fake API server takes only the bare audience (AKS managed AAD refuses spn:), so the token is read from kubelogin's output.
    const r = await run(
      process.execPath,
      [
        KUBELOGIN,
        ...base(),
        '--login',
        'spn',
        '--legacy',
        '--client-id',
        '66666666-0000-4000-8000-0000000000c1',
        '--cache-dir',
        join(dir, 'legacy'),
      ],
      { AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: 'pipeline-secret-0123456789' },
    );
    assert.equal(r.code, 0, r.stderr);
    const claims = decodeJwt(JSON.parse(r.stdout).status.token);
    assert.equal(claims.appid, '66666666-0000-4000-8000-0000000000c1');
    assert.equal(claims.ver, '1.0', 'a v1 token, as ADAL gets');
    assert.equal(claims.aud, `spn:${AKS_SERVER}`, "upstream's --legacy: 'a token with spn: prefix in audience claim'");
  });

  it('--timeout bounds the whole sign-in: a device code nobody enters fails after it', async () => {
    const kubeconfig = api.kubeconfig(
      dir,
      execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'devicecode', '--timeout', '3s', '--cache-dir', join(dir, 'timeout')]),
      'timeout',
    );
    const started = Date.now();
    const r = await getNodes(kubeconfig, { signIn: false });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /enter the code [A-Z]{9} to authenticate/);
    assert.match(r.stderr, /Error: failed to get token: context deadline exceeded/);
    assert.ok(Date.now() - started < 20_000, 'well before the 60s default');
  });

  it('ropc, with the user name and password from the environment overriding the login mode', async () => {
    const kubeconfig = api.kubeconfig(dir, execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'devicecode']), 'ropc');
    const r = await getNodes(kubeconfig, {
      extraEnv: { AAD_LOGIN_METHOD: 'ropc', AZURE_USERNAME: 'dev@kubelogin.onmicrosoft.com', AZURE_PASSWORD: 'Dev-Passw0rd!' },
      signIn: false,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no device code: the environment chose ropc');
    assert.equal(api.accepted.at(-1)!.upn, 'dev@kubelogin.onmicrosoft.com');
  });

  it('workloadidentity with a federated token file', async () => {
    const tokenFile = join(dir, 'sa-token');
    writeFileSync(tokenFile, issuer.sign({ sub: 'system:serviceaccount:default:app', aud: 'api://AzureADTokenExchange' }));
    const kubeconfig = api.kubeconfig(dir, execUser(['get-token', '--login', 'workloadidentity', '--server-id', AKS_SERVER]), 'workload');
    const r = await getNodes(kubeconfig, {
      extraEnv: {
        AZURE_CLIENT_ID: '66666666-0000-4000-8000-0000000000c1',
        AZURE_TENANT_ID: TENANT,
        AZURE_FEDERATED_TOKEN_FILE: tokenFile,
        AZURE_AUTHORITY_HOST: authorityHost,
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.accepted.at(-1)!.appid, '66666666-0000-4000-8000-0000000000c1');
  });

  it('msi through the IMDS-compatible endpoint of kentra up', async () => {
    const kubeconfig = api.kubeconfig(
      dir,
      execUser(['get-token', '--login', 'msi', '--server-id', AKS_SERVER, '--client-id', '66666666-0000-4000-8000-0000000000d1']),
      'msi',
    );
    const r = await getNodes(kubeconfig, {
      extraEnv: { IDENTITY_ENDPOINT: `${k.endpoints.authority}/metadata/identity/oauth2/token`, IDENTITY_HEADER: 'x' },
      signIn: false,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.accepted.at(-1)!.appid, '66666666-0000-4000-8000-0000000000d1');
    assert.equal(api.accepted.at(-1)!.idtyp, 'app');
    const noHeader = await httpsFetch(
      `${k.endpoints.authority}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${AKS_SERVER}`,
      { caFile: k.endpoints.caFile },
    );
    assert.equal(noHeader.status, 400, 'the Metadata header is required, as on IMDS');
    assert.equal(noHeader.json().error_description, 'Required metadata header not specified');
  });

  it('interactive: authorization code with PKCE through the loopback redirect, opened with $BROWSER', async () => {
    const opened = join(dir, 'opened-urls');
    const browser = join(dir, 'browser.sh');
    writeFileSync(browser, `#!/bin/sh\necho "$1" >> "${opened}"\n`);
    chmodSync(browser, 0o755);
    const kubeconfig = api.kubeconfig(dir, execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'interactive']), 'interactive');
    let signIn: Promise<void> | undefined;
    const r = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes'], { BROWSER: browser }, (stderr) => {
      const m = /To sign in, open (\S+) in a browser\./.exec(stderr);
      if (!m || signIn) return;
      // The scripted browser: the sign-in page, the form, then the redirect to kubelogin's loopback listener.
      signIn = (async () => {
        const page = await httpsFetch(m[1]!, { caFile: k.endpoints.caFile });
        const state = /name="state" value="([^"]*)"/.exec(page.text)![1]!.replace(/&amp;/g, '&');
        const action = /<form method="post" action="([^"]*)"/.exec(page.text)![1]!;
        const res = await postForm(
          `${k.endpoints.authority}${action}`,
          { state, username: 'dev@kubelogin.onmicrosoft.com', password: 'Dev-Passw0rd!' },
          k.endpoints.caFile,
        );
        assert.equal(res.status, 303, res.text); // 303 after the credential POST (RFC 9700 §4.12)
        const location = String(res.headers.location);
        assert.match(location, /^http:\/\/localhost:\d+\/?\?code=/);
        const back = await fetch(location);
        assert.match(await back.text(), /Authentication complete/);
      })();
    });
    await signIn;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.accepted.at(-1)!.upn, 'dev@kubelogin.onmicrosoft.com');
    assert.match(
      readFileSync(opened, 'utf8'),
      /\/oauth2\/v2\.0\/authorize\?client_id=80faf920-1908-4b52-b5ef-a8e7bedfc67a&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A\d+&/,
    );
    const again = await getNodes(kubeconfig, { extraEnv: { BROWSER: browser }, signIn: false });
    assert.equal(again.stderr, '', 'cached: no second browser sign-in');
  });

  it('interactive --redirect-url and --login-hint: the authorize request carries both, the redirect comes back on that port', async () => {
    const opened = join(dir, 'opened-urls-redirect');
    const browser = join(dir, 'browser-redirect.sh');
    writeFileSync(browser, `#!/bin/sh\necho "$1" >> "${opened}"\n`);
    chmodSync(browser, 0o755);
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((done) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => done(p));
      });
    });
    const redirectUrl = `http://localhost:${port}`;
    const kubeconfig = api.kubeconfig(
      dir,
      execUser([
        ...base(),
        '--client-id',
        AKS_CLIENT,
        '--login',
        'interactive',
        '--redirect-url',
        redirectUrl,
        '--login-hint',
        'dev@kubelogin.onmicrosoft.com',
        '--cache-dir',
        join(dir, 'redirect'),
      ]),
      'interactive-redirect',
    );
    let signIn: Promise<void> | undefined;
    const r = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes'], { BROWSER: browser }, (stderr) => {
      const m = /To sign in, open (\S+) in a browser\./.exec(stderr);
      if (!m || signIn) return;
      signIn = (async () => {
        const page = await httpsFetch(m[1]!, { caFile: k.endpoints.caFile });
        const state = /name="state" value="([^"]*)"/.exec(page.text)![1]!.replace(/&amp;/g, '&');
        const action = /<form method="post" action="([^"]*)"/.exec(page.text)![1]!;
        const res = await postForm(
          `${k.endpoints.authority}${action}`,
          { state, username: 'dev@kubelogin.onmicrosoft.com', password: 'Dev-Passw0rd!' },
          k.endpoints.caFile,
        );
        assert.equal(res.status, 303, res.text);
        const location = String(res.headers.location);
        assert.ok(location.startsWith(`${redirectUrl}/?code=`) || location.startsWith(`${redirectUrl}?code=`), location);
        await (await fetch(location)).text();
      })();
    });
    await signIn;
    assert.equal(r.code, 0, r.stderr);
    const url = new URL(readFileSync(opened, 'utf8').trim().split('\n').at(-1)!);
    assert.equal(url.searchParams.get('redirect_uri'), redirectUrl);
    assert.equal(url.searchParams.get('login_hint'), 'dev@kubelogin.onmicrosoft.com');
    assert.equal(api.accepted.at(-1)!.upn, 'dev@kubelogin.onmicrosoft.com');
  });

  it(
    'interactive with the real Chromium: the page kubelogin opened, the sign-in form, the loopback redirect',
    { skip: CHROMIUM_SKIP },
    async () => {
      const opened = join(dir, 'opened-by-chromium-test');
      const browserScript = join(dir, 'browser-chromium.sh');
      writeFileSync(browserScript, `#!/bin/sh\necho "$1" >> "${opened}"\n`);
      chmodSync(browserScript, 0o755);
      const kubeconfig = api.kubeconfig(
        dir,
        execUser([...base(), '--client-id', AKS_CLIENT, '--login', 'interactive']),
        'interactive-chromium',
      );
      const extraEnv = { BROWSER: browserScript, KUBECACHEDIR: join(dir, 'cache-chromium') };
      const browser = await launchChromium(k.endpoints.authority);
      try {
        let signIn: Promise<string> | undefined;
        const r = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes'], extraEnv, (stderr) => {
          if (signIn || !/To sign in, open \S+ in a browser\./.test(stderr)) return;
          signIn = (async () => {
            // The URL kubelogin handed to $BROWSER, opened in Chromium.
            let url = '';
            for (let i = 0; i < 50 && !url; i++) {
              try {
                url = readFileSync(opened, 'utf8').trim().split('\n').at(-1) ?? '';
              } catch {
                await new Promise((w) => setTimeout(w, 100));
              }
            }
            const page = await browser.newPage();
            await page.goto(url);
            assert.equal(await page.title(), 'Sign in to your account');
            await page.fill('#username', 'dev@kubelogin.onmicrosoft.com');
            await page.fill('#password', 'Dev-Passw0rd!');
            await Promise.all([page.waitForURL(/^http:\/\/localhost:\d+\/?\?code=/), page.click('button[type=submit]')]);
            return (await page.textContent('body')) ?? '';
          })();
        });
        const body = await signIn;
        assert.equal(r.code, 0, r.stderr);
        assert.match(body ?? '', /Authentication complete/);
        assert.equal(api.accepted.at(-1)!.upn, 'dev@kubelogin.onmicrosoft.com');
      } finally {
        await browser.close();
      }
    },
  );

  it('azurecli after `kentra login`', async () => {
    const config = join(dir, 'kentra-cli');
    const login = spawnSync(
      process.execPath,
      [
        KENTRA_BIN,
        'login',
        '-u',
        'dev@kubelogin.onmicrosoft.com',
        '-p',
        'Dev-Passw0rd!',
        '--tenant',
        TENANT,
        '--authority',
        k.endpoints.authority,
        '--ca-file',
        k.endpoints.caFile,
      ],
      { env: { ...env, KENTRA_CONFIG_DIR: config }, encoding: 'utf8' },
    );
    assert.equal(login.status, 0, login.stderr);
    const kubeconfig = api.kubeconfig(dir, execUser(['get-token', '--login', 'azurecli', '--server-id', AKS_SERVER]), 'azurecli');
    const r = await getNodes(kubeconfig, { extraEnv: { KENTRA_CONFIG_DIR: config }, signIn: false });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.accepted.at(-1)!.appid, '04b07795-8ddb-461a-bbee-02f9e1bf7b46', 'a token of the Azure CLI client, as az would give');
  });

  it('a --format azure kubeconfig fails in current kubectl, and works after convert-kubeconfig', async () => {
    const kubeconfig = api.kubeconfig(
      dir,
      {
        'auth-provider': {
          name: 'azure',
          config: {
            'apiserver-id': AKS_SERVER,
            'client-id': AKS_CLIENT,
            'config-mode': '1',
            environment: 'AzurePublicCloud',
            'tenant-id': TENANT,
          },
        },
      },
      'legacy-format',
    );
    const before = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes']);
    assert.notEqual(before.code, 0);
    assert.match(before.stderr, /The azure auth plugin has been removed\./);
    const convert = await run('kubelogin', [
      'convert-kubeconfig',
      '-l',
      'ropc',
      '--kubeconfig',
      kubeconfig,
      '--authority-host',
      authorityHost,
    ]);
    assert.equal(convert.code, 0, convert.stderr);
    const converted = readFileSync(kubeconfig, 'utf8');
    assert.match(converted, /command: kubelogin/);
    assert.doesNotMatch(converted, /auth-provider/);
    const after = await getNodes(kubeconfig, {
      extraEnv: { AZURE_USERNAME: 'dev@kubelogin.onmicrosoft.com', AZURE_PASSWORD: 'Dev-Passw0rd!' },
      signIn: false,
    });
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /aks-nodepool1-12345678-vmss000000/);
  });

  it('prints the ExecCredential kubectl asked for, and errors as upstream does', async () => {
    const args = [
      ...base(),
      '--client-id',
      AKS_CLIENT,
      '--login',
      'ropc',
      '--username',
      'dev@kubelogin.onmicrosoft.com',
      '--password',
      'Dev-Passw0rd!',
    ];
    const v1 = await run('kubelogin', args, {
      KUBERNETES_EXEC_INFO: '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}',
    });
    assert.equal(v1.code, 0, v1.stderr);
    assert.match(
      v1.stdout,
      /^\{"kind":"ExecCredential","apiVersion":"client\.authentication\.k8s\.io\/v1","spec":\{"interactive":false\},"status":\{"expirationTimestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","token":"[^"]+"\}\}\n$/,
    );
    assert.equal(decodeJwt(JSON.parse(v1.stdout).status.token).aud, AKS_SERVER);
    const plain = await run('kubelogin', args);
    assert.equal(JSON.parse(plain.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1');
    const noServer = await run('kubelogin', ['get-token', '--login', 'spn']);
    assert.equal(noServer.code, 1);
    assert.equal(noServer.stderr, 'Error: server-id is required\n');
    const badMode = await run('kubelogin', ['get-token', '--login', 'magic', '--server-id', AKS_SERVER]);
    assert.match(
      badMode.stderr,
      /^Error: 'magic' is not a supported login method\. Supported method is one of devicecode, interactive, spn, ropc, msi, azurecli, azd, workloadidentity, azurepipelines\n$/,
    );
    const badHost = await run('kubelogin', ['get-token', '--server-id', AKS_SERVER, '--authority-host', 'https://example.com']);
    assert.equal(badHost.stderr, 'Error: authority host "https://example.com" should have a trailing slash\n');
    const badVersion = await run('kubelogin', args, { KUBERNETES_EXEC_INFO: '{"apiVersion":"client.authentication.k8s.io/v2"}' });
    assert.equal(badVersion.stderr, 'Error: api version: client.authentication.k8s.io/v2 is not supported\n');
    const version = await run('kubelogin', ['--version']);
    assert.match(version.stdout, /^kubelogin version\ngit hash: /);
    const removed = await run('kubelogin', ['remove-cache-dir', '--cache-dir', join(dir, 'parallel-cache')]);
    assert.equal(removed.code, 0);
    assert.throws(() => statSync(join(dir, 'parallel-cache')));
    const health = await httpsFetch(`${k.endpoints.authority}/healthz`, { caFile: k.endpoints.caFile });
    assert.equal(health.status, 200);
  });
});
