import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { parse } from 'yaml';
import { httpsFetch, postForm } from '../support/http.js';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { assertAadError } from './support-oauth.js';

// Proof-of-possession (RFC 7800 cnf; Guard's --azure.enable-pop, pop_tokenverifier.go), attacked on a real
// AKS Arc cluster of `kentra up`: every forged, re-keyed, re-targeted or stale PoP token is a 401 with
// Guard's reason in the log; a key-bound access token is no bearer token; the token endpoint refuses a bad
// req_cnf. Guard keeps no nonce cache (kubectl re-sends one credential for a whole command), nor does Kentra.

const ARC_SERVER = '6256c85f-0aad-4d50-b960-e6e9b21efe35';
const ARC_CLIENT = '3f4439ff-e698-4d6d-84fe-09c9d574f06b';

interface PopKey {
  privateKey: KeyObject;
  e: string;
  n: string;
  kid: string;
}
function newKey(): PopKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { e, n } = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
  return { privateKey, e, n, kid: createHash('sha256').update(`{"e":"${e}","kty":"RSA","n":"${n}"}`).digest('base64url') };
}
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const reqCnf = (k: PopKey) => b64(`{"kid":"${k.kid}","xms_ksl":"sw"}`);

/** A SignedHttpRequest as kubelogin builds it; every part can be overridden to forge one. */
function shr(
  at: string,
  u: string,
  opts: { jwkKey: PopKey; signer?: PopKey; ts?: number; header?: Record<string, unknown>; claims?: Record<string, unknown> },
): string {
  const k = opts.jwkKey;
  const header = b64({ typ: 'pop', alg: 'RS256', kid: k.kid, ...opts.header });
  const payload = b64({
    at,
    ts: opts.ts ?? Math.floor(Date.now() / 1000),
    u,
    cnf: { jwk: { e: k.e, kty: 'RSA', n: k.n, alg: 'RS256', kid: k.kid } },
    nonce: randomUUID().replace(/-/g, ''),
    ...opts.claims,
  });
  return `${header}.${payload}.${sign('RSA-SHA256', Buffer.from(`${header}.${payload}`), (opts.signer ?? k).privateKey).toString('base64url')}`;
}

describe('PoP tokens, attacked (Guard --azure.enable-pop; issue 13)', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  let armId: string;
  let server: string;
  let caFile: string;
  let managedServer: string;
  const key = newKey();
  const attacker = newKey();
  let popAt: string;
  let bearerAt: string;

  const tokenRequest = (fields: Record<string, string>) =>
    postForm(
      `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
      {
        grant_type: 'password',
        client_id: ARC_CLIENT,
        username: k.endpoints.admin.userPrincipalName,
        password: k.endpoints.admin.password,
        scope: `${ARC_SERVER}/.default openid profile offline_access`,
        ...fields,
      },
      k.endpoints.caFile,
    );
  const nodes = (token: string, base = server) =>
    httpsFetch(`${base}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` }, caFile });
  /** A 401 in the Kubernetes Status shape, with Guard's reason in Kentra's log (and the token nowhere in it). */
  const refused = async (token: string, reason: RegExp, base = server) => {
    const before = k.logs().length;
    const res = await nodes(token, base);
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(
      { kind: res.json().kind, reason: res.json().reason, code: res.json().code },
      { kind: 'Status', reason: 'Unauthorized', code: 401 },
    );
    // Kentra's log is written asynchronously: wait (bounded) for the line of this request.
    for (let i = 0; i < 100 && !reason.test(k.logs().slice(before)); i++) await new Promise((r) => setTimeout(r, 20));
    const log = k.logs().slice(before);
    assert.match(log, reason);
    assert.ok(!log.includes(token.split('.')[2]!), 'no token in the log');
  };

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-pop-sec-'));
    env = { PATH: process.env.PATH, HOME: dir, KENTRA_CONFIG_DIR: join(dir, 'config'), KENTRA_DATA_DIR: k.dataDir };
    await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    const group = (
      await cli.ok('ad', 'group', 'create', '--display-name', 'popAdmins', '--mail-nickname', 'popAdmins', '--query', 'id', '-o', 'tsv')
    ).trim();
    await cli.ok(
      'ad',
      'group',
      'member',
      'add',
      '--group',
      'popAdmins',
      '--member-id',
      (await cli.ok('ad', 'signed-in-user', 'show', '--query', 'id', '-o', 'tsv')).trim(),
    );
    await cli.json('group', 'create', '--name', 'rgPop', '--location', 'centralus');
    armId = (await cli.json('aksarc', 'create', '-g', 'rgPop', '-n', 'pop1', '--aad-admin-group-object-ids', group)).id;
    const file = join(dir, 'arc.yaml');
    assert.equal((await cli.run(['aksarc', 'get-credentials', '-g', 'rgPop', '-n', 'pop1', '-f', file])).code, 0);
    const cluster = parse(readFileSync(file, 'utf8')).clusters[0].cluster;
    server = cluster.server;
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, Buffer.from(cluster['certificate-authority-data'], 'base64'));
    await cli.json('aks', 'create', '-g', 'rgPop', '-n', 'managed1', '--enable-aad', '--aad-admin-group-object-ids', group);
    const managedFile = join(dir, 'managed.yaml');
    assert.equal((await cli.run(['aks', 'get-credentials', '-g', 'rgPop', '-n', 'managed1', '-f', managedFile])).code, 0);
    managedServer = parse(readFileSync(managedFile, 'utf8')).clusters[0].cluster.server;

    const pop = await tokenRequest({ token_type: 'pop', req_cnf: reqCnf(key) });
    assert.equal(pop.status, 200, pop.text);
    assert.equal(pop.json().token_type, 'pop');
    popAt = pop.json().access_token;
    assert.deepEqual(decodeJwt(popAt).cnf, { kid: key.kid, xms_ksl: 'sw' });
    const bearer = await tokenRequest({});
    assert.equal(bearer.json().token_type, 'Bearer');
    bearerAt = bearer.json().access_token;
    assert.equal(decodeJwt(bearerAt).cnf, undefined);
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the honest PoP token is accepted (the control), and so is the same one sent again: Guard keeps no nonce cache', async () => {
    const token = shr(popAt, armId, { jwkKey: key });
    assert.equal((await nodes(token)).status, 200);
    assert.equal((await nodes(token)).status, 200, 'kubectl sends one credential for a whole command');
  });

  it('a PoP token signed by another key than its cnf.jwk is refused', async () => {
    await refused(shr(popAt, armId, { jwkKey: key, signer: attacker }), /RSA verify err/);
  });

  it("a stolen PoP access token re-wrapped with the thief's own key is refused: cnf mismatch", async () => {
    await refused(shr(popAt, armId, { jwkKey: attacker }), /'cnf' claim mismatch/);
  });

  it('an access token without cnf (a bearer token) wrapped in a PoP token is refused', async () => {
    await refused(shr(bearerAt, armId, { jwkKey: key }), /could not retrieve 'cnf' claim from access token/);
  });

  it('a PoP token for another cluster (u) is refused', async () => {
    await refused(shr(popAt, armId.replace(/pop1$/, 'other'), { jwkKey: key }), /host mismatch/);
    await refused(shr(popAt, armId, { jwkKey: key, claims: { u: undefined } }), /'u' claim is missing/);
  });

  it('a stale PoP token (ts older than 15 minutes) and one dated far in the future are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(shr(popAt, armId, { jwkKey: key, ts: now - 16 * 60 }), /Token is expired/);
    await refused(shr(popAt, armId, { jwkKey: key, ts: now + 60 * 60 }), /Token is not valid yet/);
    await refused(shr(popAt, armId, { jwkKey: key, claims: { ts: undefined } }), /'ts' claim is missing/);
  });

  it('header tricks are refused: alg none or HS256, no kid, no typ', async () => {
    await refused(
      shr(popAt, armId, { jwkKey: key, header: { alg: 'none' } }),
      /Wrong algorithm found in PoP token header, expected 'RS256' having 'none'/,
    );
    await refused(shr(popAt, armId, { jwkKey: key, header: { alg: 'HS256' } }), /expected 'RS256' having 'HS256'/);
    await refused(shr(popAt, armId, { jwkKey: key, header: { kid: '' } }), /No KeyID found in PoP token header/);
    await refused(shr(popAt, armId, { jwkKey: key, claims: { at: 42 } }), /'at' claim should be string/);
  });

  it('a key-bound (cnf) access token is not a bearer token, on the Arc cluster and on a managed one', async () => {
    await refused(popAt, /bound to a proof-of-possession key \(cnf\)/);
    await refused(popAt, /bound to a proof-of-possession key \(cnf\)/, managedServer);
  });

  it('a managed AKS cluster takes no PoP tokens (AKS managed AAD does not use PoP)', async () => {
    await refused(shr(popAt, armId, { jwkKey: key }), /this cluster does not take PoP tokens/, managedServer);
  });

  it('the token endpoint refuses token_type=pop without a usable req_cnf, and unknown token types', async () => {
    assertAadError(await tokenRequest({ token_type: 'pop' }), 400, 'invalid_request', 900144);
    for (const bad of [
      'not base64!',
      b64('[]'),
      b64('{"kid":"short"}'),
      b64('{"jwk":{}}'),
      b64(`{"kid":"${key.kid}","xms_ksl":{"x":1}}`),
      'x'.repeat(2000),
    ]) {
      assertAadError(await tokenRequest({ token_type: 'pop', req_cnf: bad }), 400, 'invalid_request', 9002313);
    }
    assertAadError(await tokenRequest({ token_type: 'mac', req_cnf: reqCnf(key) }), 400, 'invalid_request', 9002313);
  });
});
