import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AZ_VERSION_CHECK, azFor, type Az, startKentraWithCurrentAz, type CurrentAzKentra } from '../support/az.js';
import { completeDeviceLogin, type TestKentra } from '../support/kentra.js';
import { currentAzureCli } from '../support/tools.js';

// The current Azure CLI from PyPI (scripts/install-azure-cli.sh, pinned) against Kentra registered the
// way docs/clients.md says for it: a custom cloud discovered from Kentra's /metadata/endpoints, whose
// Entra endpoint is Kentra's tenant authority itself, with `core.instance_discovery=false` (not the
// ADFS-style path Debian's az 2.45 needs). Every sign-in az offers a service principal or a user, the
// tokens, role assignments, `ad sp create-for-rbac`, `aks get-versions` and document 003's `az ad` steps.
// All of az's traffic goes through a proxy that refuses and records anything not for Kentra.

const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AZURE_CLI_APP = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const azCli = currentAzureCli();

describe('the current Azure CLI against Kentra as a custom cloud', { skip: azCli.skip, timeout: 300_000 }, () => {
  let k: TestKentra;
  let proxy: CurrentAzKentra['proxy'];
  let az: Az;
  let setup: CurrentAzKentra;
  const verify = (token: string) => setup.verify(token);
  const freshAz = () => setup.freshAz();
  const others: Az[] = [];

  before(async () => {
    setup = await startKentraWithCurrentAz();
    ({ k, proxy, az } = setup);
  });
  after(async () => {
    await setup?.close();
    for (const a of others) a.close();
  });

  it('registers Kentra from its /metadata/endpoints: the Entra endpoint is the tenant authority itself, Graph is Kentra', async (t) => {
    const version = await az.json('version');
    t.diagnostic(`azure-cli ${version['azure-cli']} (azure-cli-core ${version['azure-cli-core']}) at ${az.bin}`);
    assert.equal(version['azure-cli'], '2.91.0');
    const cloud = await az.json('cloud', 'show', '-n', 'Kentra');
    const { authority } = k.endpoints;
    assert.equal(cloud.isActive, true);
    assert.equal(cloud.endpoints.activeDirectory, authority, 'not the ADFS-style /adfs path');
    assert.equal(cloud.endpoints.resourceManager, `${authority}/`);
    assert.equal(cloud.endpoints.microsoftGraphResourceId, `${authority}/`);
    assert.equal(cloud.endpoints.activeDirectoryResourceId, 'https://management.core.windows.net/');
    assert.equal(cloud.endpoints.management, 'https://management.core.windows.net/');
    assert.equal(await az.tsv('config', 'get', 'core.instance_discovery', '--query', 'value'), 'false');
  });

  it('refuses a wrong client secret with the AADSTS error', async () => {
    const { servicePrincipal: sp, tenantId } = k.endpoints;
    const r = await az.run('login', '--service-principal', '-u', sp.appId, '-p', 'this-is-not-the-secret', '--tenant', tenantId);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR: AADSTS7000215: Invalid client secret provided/);
  });

  it('signs in as a service principal with a secret and gets tokens for ARM and the AKS server app', async () => {
    const { servicePrincipal: sp, tenantId, subscriptionId } = k.endpoints;
    const subs = await az.json('login', '--service-principal', '-u', sp.appId, '-p', sp.secret, '--tenant', tenantId);
    assert.deepEqual(
      subs.map((s: any) => [s.id, s.tenantId, s.cloudName, s.user.type, s.user.name]),
      [[subscriptionId, tenantId, 'Kentra', 'servicePrincipal', sp.appId]],
    );
    const arm = await az.json('account', 'get-access-token');
    assert.equal(arm.subscription, subscriptionId);
    assert.equal(arm.tenant, tenantId);
    const armClaims = await verify(arm.accessToken);
    assert.equal(armClaims.aud, 'https://management.core.windows.net/');
    assert.equal(armClaims.appid, sp.appId);
    assert.equal(armClaims.tid, tenantId);
    const aks = await az.json('account', 'get-access-token', '--resource', AKS_SERVER_APP);
    assert.equal((await verify(aks.accessToken)).aud, AKS_SERVER_APP);
  });

  it('signs in a user with -u/-p', async () => {
    const { admin, tenantId } = k.endpoints;
    const user = await freshAz();
    const before443 = proxy.tunnelsTo443();
    const subs = await user.json('login', '-u', admin.userPrincipalName, '-p', admin.password);
    assert.deepEqual(
      subs.map((s: any) => [s.tenantId, s.user.name, s.user.type]),
      [[tenantId, admin.userPrincipalName, 'user']],
    );
    assert.ok(proxy.tunnelsTo443() > before443, "MSAL asked the authority's host on port 443 for the user realm");
    const token = await user.json('account', 'get-access-token', '--resource', AKS_SERVER_APP);
    const claims = await verify(token.accessToken);
    assert.equal(claims.upn, admin.userPrincipalName);
    assert.equal(claims.appid, AZURE_CLI_APP);
    const bad = await user.run('login', '-u', admin.userPrincipalName, '-p', 'wrong-password');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /AADSTS50126/);
  });

  it("also works in Debian az 2.45's ADFS-style set-up, where -u/-p makes no user-realm request", async () => {
    const { admin, tenantId } = k.endpoints;
    const adfs = await azFor(k.endpoints, az.bin, { HTTPS_PROXY: proxy.url });
    others.push(adfs);
    assert.equal(await adfs.tsv('cloud', 'show', '-n', 'Kentra', '--query', 'endpoints.activeDirectory'), `${k.endpoints.authority}/adfs`);
    const before443 = proxy.tunnelsTo443();
    const subs = await adfs.json('login', '-u', admin.userPrincipalName, '-p', admin.password);
    assert.deepEqual(
      subs.map((s: any) => [s.tenantId, s.user.name]),
      [[tenantId, admin.userPrincipalName]],
    );
    assert.equal(proxy.tunnelsTo443(), before443, 'no request to port 443');
  });

  it('signs in a user with a device code completed on /devicelogin', async () => {
    const { admin, authority, caFile, subscriptionId } = k.endpoints;
    const user = await freshAz();
    let signIn: Promise<string> | undefined;
    const r = await user.spawn(['login', '--use-device-code', '-o', 'json'], (stderr) => {
      const m = /open the page (\S+) and enter the code ([A-Z]{9}) to authenticate/.exec(stderr);
      if (m && !signIn) {
        assert.equal(m[1], `${authority}/devicelogin`);
        signIn = completeDeviceLogin(authority, caFile, m[2]!, admin.userPrincipalName, admin.password);
      }
    });
    assert.ok(signIn, `az printed no device code: ${r.stderr}`);
    assert.match(await signIn, /You have signed in to the Microsoft Azure CLI application on your device/);
    assert.equal(r.code, 0, r.stderr);
    const subs = JSON.parse(r.stdout);
    assert.deepEqual(
      subs.map((s: any) => [s.id, s.user.name]),
      [[subscriptionId, admin.userPrincipalName]],
    );
    assert.equal((await verify((await user.json('account', 'get-access-token')).accessToken)).upn, admin.userPrincipalName);
  });

  it('sent nothing anywhere but Kentra (but its version check on a fresh config directory)', () => {
    assert.deepEqual(
      proxy.refused.filter((r) => r !== AZ_VERSION_CHECK),
      [],
    );
  });
});
