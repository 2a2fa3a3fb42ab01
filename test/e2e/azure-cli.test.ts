import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { httpsFetch } from '../support/http.js';
import { completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';

// The real Azure CLI (Debian azure-cli 2.45), registered as a custom cloud against Kentra the way the
// README says, signing in three ways. CI installs the package (.ci/run); elsewhere this skips without it.

const hasAz = spawnSync('sh', ['-c', 'command -v az'], { encoding: 'utf8' }).stdout.trim() !== '';
if (!hasAz && process.env.CI) throw new Error('the Azure CLI is required in CI: install the Debian package azure-cli');

interface AzResult { code: number; stdout: string; stderr: string }

describe('the real Azure CLI against Kentra', { skip: hasAz ? false : 'az not found: install the Debian package azure-cli', timeout: 300_000 }, () => {
  let k: TestKentra;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let jwks: ReturnType<typeof createLocalJWKSet>;

  const az = (...args: string[]): Promise<AzResult> => new Promise((resolve) => {
    const child = spawn('az', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  const azJson = async (...args: string[]) => {
    const r = await az(...args, '-o', 'json');
    assert.equal(r.code, 0, `az ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    k = await startTestKentra();
    const { authority, caFile, tenantId } = k.endpoints;
    home = mkdtempSync(join(tmpdir(), 'kentra-az-'));
    env = {
      PATH: process.env.PATH, HOME: home, AZURE_CONFIG_DIR: join(home, '.azure'), AZURE_CORE_COLLECT_TELEMETRY: 'false',
      AZURE_CORE_NO_COLOR: 'true', REQUESTS_CA_BUNDLE: caFile,
    };
    const cloud = {
      endpoints: {
        resourceManager: `${authority}/`, activeDirectory: `${authority}/adfs`, activeDirectoryResourceId: 'https://management.core.windows.net/',
        activeDirectoryGraphResourceId: 'https://graph.windows.net/', microsoftGraphResourceId: `${authority}/`, management: 'https://management.core.windows.net/',
      },
      suffixes: { storageEndpoint: 'core.windows.net', keyvaultDns: '.vault.azure.net', acrLoginServerEndpoint: '.azurecr.io' },
    };
    writeFileSync(join(home, 'cloud.json'), JSON.stringify(cloud));
    const register = await az('cloud', 'register', '-n', 'Kentra', '--cloud-config', `@${join(home, 'cloud.json')}`);
    assert.equal(register.code, 0, register.stderr);
    assert.equal((await az('cloud', 'set', '-n', 'Kentra')).code, 0);
    jwks = createLocalJWKSet((await httpsFetch(`${authority}/${tenantId}/discovery/v2.0/keys`, { caFile })).json<JSONWebKeySet>());
  });
  after(async () => {
    await k?.close();
    if (home) rmSync(home, { recursive: true, force: true });
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
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
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
});
