import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { KUBELOGIN_BIN } from '../support/kubectl.js';

// Issue 13: Kentra's kubelogin with `--server-id spn:<appId>` and `--legacy` (the `spn:` audience, as Entra
// gives it), and `--login-hint` on the interactive sign-in page.

const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const TENANT = '66666666-6666-4666-8666-66666666a13a';
const PIPELINE = '66666666-0000-4000-8000-00000000a13c';
const SECRET = 'pipeline-secret-0123456789';
const DEV = 'dev@spnhint.onmicrosoft.com';

const SEED = `
tenants:
  - id: ${TENANT}
    domain: spnhint.onmicrosoft.com
    users:
      - { userPrincipalName: ${DEV}, password: 'Dev-Passw0rd!' }
    applications:
      - { displayName: pipeline, appId: ${PIPELINE}, secrets: ['${SECRET}'] }
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('kubelogin: spn: audiences and --login-hint (issue 13)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let dir: string;

  const kubelogin = (args: string[], env: NodeJS.ProcessEnv = {}, onStderr?: (s: string) => void): Promise<Run> =>
    new Promise((done) => {
      const child = spawn(
        process.execPath,
        [
          KUBELOGIN_BIN,
          'get-token',
          '--tenant-id',
          TENANT,
          '--authority-host',
          `${k.endpoints.authority}/`,
          '--disable-instance-discovery',
          ...args,
        ],
        {
          env: { PATH: process.env.PATH, HOME: dir, NODE_EXTRA_CA_CERTS: k.endpoints.caFile, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr);
      });
      child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    });
  const spnToken = async (cache: string, ...args: string[]) => {
    const r = await kubelogin(['--login', 'spn', '--client-id', PIPELINE, '--cache-dir', join(dir, cache), ...args], {
      AAD_SERVICE_PRINCIPAL_CLIENT_SECRET: SECRET,
    });
    assert.equal(r.code, 0, r.stderr);
    return decodeJwt(JSON.parse(r.stdout).status.token as string);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-spn-hint-'));
    k = await startTestKentra({ seed: SEED });
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--server-id spn:<appId>: the token is for that application, with the spn: audience as asked', async () => {
    const claims = await spnToken('v2', '--server-id', `spn:${AKS_SERVER}`);
    assert.equal(claims.aud, `spn:${AKS_SERVER}`);
    assert.equal(claims.appid, PIPELINE);
    assert.equal(claims.ver, '1.0', 'the AKS server application takes v1 tokens');
    assert.equal(claims.tid, TENANT);
  });

  it('--legacy asks the v1 endpoint with api-version=1.0 as ADAL does: the audience is spn:<server-id>, for the GUID and the spn: form', async () => {
    assert.equal((await spnToken('legacy', '--server-id', AKS_SERVER, '--legacy')).aud, `spn:${AKS_SERVER}`);
    assert.equal((await spnToken('legacy-spn', '--server-id', `spn:${AKS_SERVER}`, '--legacy')).aud, `spn:${AKS_SERVER}`);
    // The v1 endpoint itself: without api-version the GUID stays as asked; with 1.0 or resource=spn:…, both aud and resource are spn:.
    const v1 = (query: string, resource: string) =>
      postForm(
        `${k.endpoints.authority}/${TENANT}/oauth2/token${query}`,
        { grant_type: 'client_credentials', client_id: PIPELINE, client_secret: SECRET, resource },
        k.endpoints.caFile,
      );
    for (const [query, resource, aud] of [
      ['', AKS_SERVER, AKS_SERVER],
      ['?api-version=1.0', AKS_SERVER, `spn:${AKS_SERVER}`],
      ['', `spn:${AKS_SERVER}`, `spn:${AKS_SERVER}`],
    ] as const) {
      const res = await v1(query, resource);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().resource, aud, `${query} ${resource}`);
      assert.equal(decodeJwt(res.json().access_token).aud, aud, `${query} ${resource}`);
    }
  });

  it('--login-hint: the sign-in page kubelogin opens names the known account and asks for its password; the sign-in completes', async () => {
    let page: Promise<string> | undefined;
    const r = await kubelogin(
      [
        '--login',
        'interactive',
        '--client-id',
        AKS_CLIENT,
        '--server-id',
        AKS_SERVER,
        '--login-hint',
        DEV,
        '--cache-dir',
        join(dir, 'hint'),
      ],
      {},
      (stderr) => {
        const m = /To sign in, open (\S+) in a browser\./.exec(stderr);
        if (!m || page) return;
        page = (async () => {
          const signIn = await httpsFetch(m[1]!, { caFile: k.endpoints.caFile });
          assert.equal(signIn.status, 200, signIn.text);
          const state = /name="state" value="([^"]*)"/.exec(signIn.text)![1]!.replace(/&amp;/g, '&');
          const action = /<form method="post" action="([^"]*)"/.exec(signIn.text)![1]!;
          const res = await postForm(
            `${k.endpoints.authority}${action}`,
            { state, username: DEV, password: 'Dev-Passw0rd!' },
            k.endpoints.caFile,
          );
          assert.equal(res.status, 303, res.text);
          await (await fetch(String(res.headers.location))).text();
          return signIn.text;
        })();
      },
    );
    const html = await page!;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(decodeJwt(JSON.parse(r.stdout).status.token as string).upn, DEV);
    assert.match(html, /<h1>Enter password<\/h1>/, 'Entra goes straight to the password of a known account');
    assert.match(html, new RegExp(`<p class="account">${DEV.replace(/\./g, '\\.')}</p>`));
    assert.match(html, new RegExp(`name="username" value="${DEV.replace(/\./g, '\\.')}"`));
    assert.match(html, /name="password" autocomplete="current-password" required autofocus>/);
  });

  it('a login_hint that names no account prefills the ordinary sign-in page', async () => {
    const q = new URLSearchParams({
      client_id: AKS_CLIENT,
      response_type: 'code',
      redirect_uri: 'http://localhost',
      scope: `${AKS_SERVER}/.default`,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
      login_hint: 'nobody@spnhint.onmicrosoft.com',
    });
    const res = await httpsFetch(`${k.endpoints.authority}/${TENANT}/oauth2/v2.0/authorize?${q}`, { caFile: k.endpoints.caFile });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /<h1>Sign in<\/h1>/);
    assert.doesNotMatch(res.text, /class="account"/);
    assert.match(res.text, /name="username" value="nobody@spnhint\.onmicrosoft\.com" autocomplete="username" required autofocus>/);
  });
});
