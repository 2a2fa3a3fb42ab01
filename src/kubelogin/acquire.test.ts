import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import type { JsonAnswer, JsonRequest } from '../shared/https-json.js';
import { acquire, type KubeloginPorts } from './acquire.js';
import { readEntry, usable, writeEntry, type CacheEntry } from './cache.cjs';
import { convertKubeconfig } from './convert.js';
import { defaultOptions, KubeloginError, type TokenOptions } from './options.cjs';

// kubelogin's sign-in flows with fake ports: a scripted token endpoint, a clock the test moves, no
// sleeps and no browser. What is asserted is what the token endpoint receives and what the user sees.

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const HOST = 'https://login.example.test/';
const T0 = Date.UTC(2026, 11, 5, 12);

interface Call {
  url: string;
  form: Record<string, string>;
}

/** Fake ports: each HTTP call takes the next scripted answer; sleeps move the clock instead of waiting. */
function fakePorts(answers: { status: number; body: unknown }[]) {
  let now = T0;
  const calls: Call[] = [];
  const sleeps: number[] = [];
  const browser: string[] = [];
  const ports: KubeloginPorts = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    http: (async (url: string | URL, req: JsonRequest = {}): Promise<JsonAnswer> => {
      calls.push({ url: String(url), form: Object.fromEntries(new URLSearchParams(req.form as Record<string, string>)) });
      const next = answers.shift();
      if (!next) throw new Error(`no scripted answer for ${String(url)}`);
      const text = typeof next.body === 'string' ? next.body : JSON.stringify(next.body);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: next.status, headers: {}, text, json };
    }) as KubeloginPorts['http'],
    openBrowser: (url) => void browser.push(url),
  };
  return { ports, calls, sleeps, browser, advance: (ms: number) => (now += ms) };
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function options(over: Partial<TokenOptions>): { o: TokenOptions; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kubelogin-unit-'));
  dirs.push(dir);
  const o: TokenOptions = {
    ...defaultOptions({}, dir),
    serverId: SERVER,
    clientId: CLIENT,
    tenantId: TENANT,
    authorityHost: HOST,
    tokenCacheDir: dir,
    ...over,
  };
  return { o, file: join(dir, 'token.json') };
}

const sink = () => {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
};
const token = (expiresIn = 3600, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: { token_type: 'Bearer', access_token: 'at-1', expires_in: expiresIn, refresh_token: 'rt-1', ...extra },
});

describe('kubelogin: the token cache and the sign-in flows, with fake ports', () => {
  it('the cache is usable until five minutes before expiry, by the clock given', () => {
    const entry: CacheEntry = { accessToken: 'a', expiresOn: T0 / 1000 + 600 };
    assert.equal(usable(entry, T0 / 1000), true);
    assert.equal(usable(entry, T0 / 1000 + 299), true);
    assert.equal(usable(entry, T0 / 1000 + 300), false, 'renewed 300 s before it expires');
    assert.equal(usable(null, T0 / 1000), false);
  });

  it('a usable cached entry is answered without a request; an expired one is refreshed with its refresh token', async () => {
    const { o, file } = options({ loginMethod: 'devicecode' });
    const f = fakePorts([token(3600, { access_token: 'at-2', refresh_token: 'rt-2' })]);
    writeEntry(o.tokenCacheDir, file, { accessToken: 'at-1', expiresOn: T0 / 1000 + 3600, refreshToken: 'rt-1', tenantId: TENANT });
    assert.equal((await acquire(o, file, {}, sink().stream, f.ports)).accessToken, 'at-1');
    assert.equal(f.calls.length, 0, 'a cache hit makes no request');
    f.advance(3_400_000); // 56 min 40 s later: inside the five-minute renewal margin
    const renewed = await acquire(o, file, {}, sink().stream, f.ports);
    assert.equal(renewed.accessToken, 'at-2');
    assert.equal(renewed.expiresOn, Math.floor((T0 + 3_400_000) / 1000) + 3600, 'expiry counted from the clock given');
    assert.equal(f.calls[0]!.url, `${HOST}${TENANT}/oauth2/v2.0/token`);
    assert.deepEqual(f.calls[0]!.form, {
      client_id: CLIENT,
      grant_type: 'refresh_token',
      refresh_token: 'rt-1',
      scope: `${SERVER}/.default openid offline_access profile`,
      client_info: '1',
    });
    assert.equal(readEntry(file)?.refreshToken, 'rt-2', 'the new refresh token is cached');
  });

  it('device code: prints the server message, polls at its interval while pending, then caches the token', async () => {
    const { o, file } = options({ loginMethod: 'devicecode' });
    const message =
      'To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD12345 to authenticate.';
    const pending = { status: 400, body: { error: 'authorization_pending', error_description: 'AADSTS70016: pending' } };
    const f = fakePorts([{ status: 200, body: { device_code: 'dc-1', message, expires_in: 900, interval: 3 } }, pending, pending, token()]);
    const err = sink();
    const entry = await acquire(o, file, {}, err.stream, f.ports);
    assert.equal(err.text(), `${message}\n`);
    assert.deepEqual(f.sleeps, [3000, 3000, 3000]);
    assert.equal(f.calls[0]!.url, `${HOST}${TENANT}/oauth2/v2.0/devicecode`);
    assert.deepEqual(f.calls[0]!.form, { client_id: CLIENT, scope: `${SERVER}/.default openid offline_access profile` });
    assert.deepEqual(f.calls[1]!.form, {
      client_id: CLIENT,
      grant_type: 'device_code',
      device_code: 'dc-1',
      client_info: '1',
      scope: `${SERVER}/.default openid offline_access profile`,
    });
    assert.equal(entry.accessToken, 'at-1');
    assert.equal(readEntry(file)?.accessToken, 'at-1');
  });

  it('device code --legacy: the v1 endpoints with api-version=1.0 and resource = the server id, the code sent under both names', async () => {
    const { o, file } = options({ loginMethod: 'devicecode', isLegacy: true });
    const f = fakePorts([{ status: 200, body: { device_code: 'dc-2', message: 'm', expires_in: 900, interval: 1 } }, token()]);
    await acquire(o, file, {}, sink().stream, f.ports);
    assert.equal(f.calls[0]!.url, `${HOST}${TENANT}/oauth2/devicecode?api-version=1.0`);
    assert.equal(f.calls[1]!.url, `${HOST}${TENANT}/oauth2/token?api-version=1.0`);
    assert.deepEqual(f.calls[1]!.form, {
      client_id: CLIENT,
      grant_type: 'device_code',
      code: 'dc-2',
      device_code: 'dc-2',
      resource: SERVER,
    });
  });

  it('device code: gives up with the server error once the code has expired', async () => {
    const { o, file } = options({ loginMethod: 'devicecode' });
    const pending = { status: 400, body: { error: 'authorization_pending', error_description: 'AADSTS70016: pending' } };
    const expired = {
      status: 400,
      body: {
        error: 'expired_token',
        error_description: 'AADSTS70020: The provided value for the input parameter device_code is expired.\r\nTrace ID: x',
      },
    };
    const f = fakePorts([{ status: 200, body: { device_code: 'dc', message: 'm', expires_in: 10, interval: 5 } }, pending, expired]);
    await assert.rejects(acquire(o, file, {}, sink().stream, f.ports), (e: unknown) => {
      assert.ok(e instanceof KubeloginError);
      assert.equal(e.message, 'failed to get token: AADSTS70020: The provided value for the input parameter device_code is expired.');
      return true;
    });
  });

  it('ropc and spn: the grant each sends; a missing secret and a non-JSON answer are refused with clear messages', async () => {
    const ropc = options({ loginMethod: 'ropc', username: 'Alice@Contoso.com', password: 'pw' });
    const f = fakePorts([token(), token(), { status: 502, body: '<html>Bad gateway</html>' }]);
    await acquire(ropc.o, ropc.file, {}, sink().stream, f.ports);
    assert.deepEqual(f.calls[0]!.form, {
      client_id: CLIENT,
      grant_type: 'password',
      username: 'Alice@Contoso.com',
      password: 'pw',
      scope: `${SERVER}/.default openid offline_access profile`,
      client_info: '1',
    });
    const spn = options({ loginMethod: 'spn', clientSecret: 's3cret' });
    await acquire(spn.o, spn.file, {}, sink().stream, f.ports);
    assert.deepEqual(f.calls[1]!.form, {
      client_id: CLIENT,
      grant_type: 'client_credentials',
      scope: `${SERVER}/.default`,
      client_secret: 's3cret',
    });
    const down = options({ loginMethod: 'spn', clientSecret: 'other' });
    await assert.rejects(acquire(down.o, down.file, {}, sink().stream, f.ports), {
      message: `failed to get token: ${HOST}${TENANT}/oauth2/v2.0/token answered HTTP 502: <html>Bad gateway</html>`,
    });
    const noSecret = options({ loginMethod: 'spn' });
    await assert.rejects(acquire(noSecret.o, noSecret.file, {}, sink().stream, f.ports), { message: 'client secret cannot be empty' });
  });
});

describe('kubelogin convert-kubeconfig', () => {
  it("rewrites the legacy azure auth-provider user into kubelogin's exec plugin, keeping its ids", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubelogin-convert-'));
    dirs.push(dir);
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'aks', cluster: { server: 'https://aks.example:443' } }],
        contexts: [{ name: 'aks', context: { cluster: 'aks', user: 'clusterUser_rg_aks' } }],
        'current-context': 'aks',
        users: [
          {
            name: 'clusterUser_rg_aks',
            user: {
              'auth-provider': {
                name: 'azure',
                config: {
                  'apiserver-id': SERVER,
                  'client-id': CLIENT,
                  'tenant-id': TENANT,
                  'config-mode': '1',
                  environment: 'AzurePublicCloud',
                },
              },
            },
          },
        ],
      }),
    );
    await convertKubeconfig(['--kubeconfig', kubeconfig, '-l', 'azurecli']);
    const user = (parse(readFileSync(kubeconfig, 'utf8')) as { users: { user: Record<string, any> }[] }).users[0]!.user;
    assert.equal(user['auth-provider'], undefined);
    assert.equal(user.exec.command, 'kubelogin');
    assert.deepEqual(user.exec.args, ['get-token', '--login', 'azurecli', '--server-id', SERVER]);
    await assert.rejects(convertKubeconfig(['--kubeconfig', join(dir, 'missing')]), {
      message: `kubeconfig ${join(dir, 'missing')} does not exist`,
    });
  });
});
