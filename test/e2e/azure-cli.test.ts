import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { azFor, azSkip, type Az } from '../support/az.js';
import { httpsFetch } from '../support/http.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';

// The real Azure CLI (Debian azure-cli 2.45), registered as a custom cloud against Kentra the way the
// README says, signing in three ways. CI installs the package (.ci/run); elsewhere this skips without it.

describe('the real Azure CLI against Kentra', { skip: azSkip, timeout: 300_000 }, () => {
  let k: TestKentra;
  let cli: Az;
  let env: NodeJS.ProcessEnv;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  // A tripwire for "offline": every az command after registration goes through this proxy for
  // anything but Kentra itself, which records and refuses it. The ADFS-style authority must mean
  // no instance discovery at login.microsoftonline.com, no alias lookup, nothing public.
  let proxy: Server;
  const leaked: string[] = [];
  const az = (...args: string[]) => cli.run(...args);
  const azJson = (...args: string[]) => cli.json(...args);

  before(async () => {
    k = await startTestKentra();
    cli = await azFor(k.endpoints);
    env = cli.env;
    proxy = createServer((req, res) => {
      leaked.push(`${req.method} ${req.url}`);
      res.writeHead(403).end();
    });
    proxy.on('connect', (req, socket) => {
      leaked.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // The same object az's runs spawn with (cloud registration, which made az's one-off version check, is done).
    Object.assign(env, { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl, NO_PROXY: 'localhost,127.0.0.1,::1' });
    const { authority, caFile, tenantId } = k.endpoints;
    jwks = createLocalJWKSet((await httpsFetch(`${authority}/${tenantId}/discovery/v2.0/keys`, { caFile })).json<JSONWebKeySet>());
  });
  after(async () => {
    await k?.close();
    cli?.close();
    proxy?.close();
  });

  const verify = async (token: string) => (await jwtVerify(token, jwks)).payload;

  it('signs in as a service principal and gets Kentra tokens for ARM and the AKS server app', async () => {
    const { servicePrincipal: sp, tenantId, subscriptionId } = k.endpoints;
    const subs = await azJson('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
    assert.equal(subs.length, 1);
    assert.equal(subs[0].id, subscriptionId);
    assert.equal(subs[0].tenantId, tenantId);
    assert.equal(subs[0].user.type, 'servicePrincipal');
    assert.equal(subs[0].user.name, sp.appId);

    const arm = await azJson('account', 'get-access-token');
    assert.equal(arm.subscription, subscriptionId);
    assert.equal(arm.tenant, tenantId);
    const armClaims = await verify(arm.accessToken);
    assert.equal(armClaims.aud, 'https://management.core.windows.net/');
    assert.equal(armClaims.appid, sp.appId);
    assert.equal(armClaims.tid, tenantId);

    const aks = await azJson('account', 'get-access-token', '--resource', '6dae42f8-4368-4678-94ff-3960e28e3630');
    assert.equal((await verify(aks.accessToken)).aud, '6dae42f8-4368-4678-94ff-3960e28e3630');
  });

  it('shows the AADSTS error and fails on a wrong secret', async () => {
    const { servicePrincipal: sp, tenantId } = k.endpoints;
    const r = await az('login', '--service-principal', '-u', sp.appId, '-p', 'this-is-not-the-secret', '--tenant', tenantId);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /AADSTS7000215/);
  });

  it('signs in a user with a password', async () => {
    await az('logout');
    const { admin, tenantId } = k.endpoints;
    const subs = await azJson('login', '-u', admin.userPrincipalName, '-p', admin.password);
    assert.equal(subs[0].user.name, admin.userPrincipalName);
    assert.equal(subs[0].user.type, 'user');
    const account = await azJson('account', 'show');
    assert.equal(account.user.name, admin.userPrincipalName);
    assert.equal(account.tenantId, tenantId);
    const token = await azJson('account', 'get-access-token', '--resource', '6dae42f8-4368-4678-94ff-3960e28e3630');
    const claims = await verify(token.accessToken);
    assert.equal(claims.upn, admin.userPrincipalName);
    assert.equal(claims.appid, '04b07795-8ddb-461a-bbee-02f9e1bf7b46');
    const bad = await az('login', '-u', admin.userPrincipalName, '-p', 'wrong-password');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /AADSTS50126/);
  });

  it('signs in with a device code completed on /devicelogin', async () => {
    await az('logout');
    const { admin, authority, caFile, subscriptionId } = k.endpoints;
    const child = spawn('az', ['login', '--use-device-code', '-o', 'json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const code = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no device code message from az: ${stderr}`)), 60_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /open the page (\S+) and enter the code ([A-Z]{9}) to authenticate/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          assert.equal(m[1], `${authority}/devicelogin`);
          resolve(m[2]!);
        }
      });
    });
    const page = await completeDeviceLogin(authority, caFile, code, admin.userPrincipalName, admin.password);
    assert.match(page, /You have signed in to the Microsoft Azure CLI application on your device/);
    const exit = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(exit, 0, stderr);
    const subs = JSON.parse(stdout);
    assert.equal(subs[0].id, subscriptionId);
    assert.equal(subs[0].user.name, admin.userPrincipalName);
    const token = await azJson('account', 'get-access-token');
    assert.equal((await verify(token.accessToken)).upn, admin.userPrincipalName);
  });

  it('sent nothing anywhere but Kentra', () => {
    assert.deepEqual(leaked, []);
  });
});
