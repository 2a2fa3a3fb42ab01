import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { parse, stringify } from 'yaml';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { commandShims, KUBELOGIN_BIN, processRunner } from '../support/kubectl.js';

// Issue 13: proof-of-possession end to end. Kentra's kubelogin with --pop-enabled --pop-claims "u=<ARM ID>"
// gets a PoP access token (token_type=pop, req_cnf; the token carries cnf.kid) and hands kubectl a
// SignedHttpRequest; the AKS Arc cluster's API checks it as Guard's --azure.enable-pop does.

const ARC_SERVER = '6256c85f-0aad-4d50-b960-e6e9b21efe35';

describe('PoP tokens with the real kubectl against an AKS Arc cluster (issue 13)', { timeout: 180_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  const { run, kubectl } = processRunner(() => env);
  let armId: string;
  let bearerConfig: string;
  let user: { upn: string; password: string };

  /** The kubeconfig `aksarc get-credentials` wrote, signing in with ROPC (the user's password) plus `extraArgs`. */
  const variant = (name: string, extraArgs: string[]): string => {
    const config = parse(readFileSync(bearerConfig, 'utf8'));
    config.users[0].user.exec.args.push('--cache-dir', join(dir, `cache-${name}`), ...extraArgs);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config), { mode: 0o600 });
    return file;
  };
  const ropc = () => ({ AAD_LOGIN_METHOD: 'ropc', AAD_USER_PRINCIPAL_NAME: user.upn, AAD_USER_PRINCIPAL_PASSWORD: user.password });
  /** What the exec plugin of a kubeconfig prints (the token kubectl sends). */
  const pluginToken = async (file: string) => {
    const exec = parse(readFileSync(file, 'utf8')).users[0].user.exec;
    const r = await run(exec.command, exec.args, ropc());
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).status.token as string;
  };

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    dir = mkdtempSync(join(tmpdir(), 'kentra-pop-'));
    const bin = commandShims(dir, { kubelogin: KUBELOGIN_BIN });
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: dir,
      KENTRA_CONFIG_DIR: join(dir, 'config'),
      KENTRA_DATA_DIR: k.dataDir,
      NODE_EXTRA_CA_CERTS: k.endpoints.caFile,
      KUBECONFIG: join(dir, 'kube', 'config'),
    };
    user = { upn: k.endpoints.admin.userPrincipalName, password: k.endpoints.admin.password };
    await cli.json('login', '-u', user.upn, '-p', user.password);
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
    const created = await cli.json('aksarc', 'create', '-g', 'rgPop', '-n', 'pop1', '--aad-admin-group-object-ids', group);
    armId = created.id;
    assert.match(armId, /\/providers\/Microsoft\.Kubernetes\/connectedClusters\/pop1$/);
    bearerConfig = join(dir, 'arc.yaml');
    const got = await cli.run(['aksarc', 'get-credentials', '-g', 'rgPop', '-n', 'pop1', '-f', bearerConfig]);
    assert.equal(got.code, 0, got.stderr);
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kubelogin --pop-enabled --pop-claims "u=<ARM ID>": kubectl sends a SignedHttpRequest and the cluster lists its nodes', async () => {
    const file = variant('pop', ['--pop-enabled', '--pop-claims', `u=${armId}`]);
    const r = await kubectl(file, ['get', 'nodes'], ropc());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+STATUS/);
    const who = await kubectl(file, ['auth', 'whoami'], ropc());
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, new RegExp(`Username\\s+${user.upn.replace(/\./g, '\\.')}`));

    // The token kubectl sends: upstream's SignedHttpRequest around an access token bound to the same key.
    const shr = await pluginToken(file);
    assert.deepEqual(decodeProtectedHeader(shr), { typ: 'pop', alg: 'RS256', kid: (decodeProtectedHeader(shr) as any).kid });
    const claims = decodeJwt(shr) as any;
    assert.deepEqual(Object.keys(claims), ['at', 'ts', 'u', 'cnf', 'nonce']);
    assert.equal(claims.u, armId);
    assert.match(claims.nonce, /^[0-9a-f]{32}$/);
    assert.ok(Math.abs(claims.ts - Date.now() / 1000) < 60);
    const { e, n, kty, alg, kid } = claims.cnf.jwk;
    assert.deepEqual({ kty, alg }, { kty: 'RSA', alg: 'RS256' });
    const thumbprint = createHash('sha256').update(`{"e":"${e}","kty":"RSA","n":"${n}"}`).digest('base64url');
    assert.equal(kid, thumbprint);
    assert.equal((decodeProtectedHeader(shr) as any).kid, thumbprint);
    const at = decodeJwt(claims.at) as any;
    assert.deepEqual(at.cnf, { kid: thumbprint, xms_ksl: 'sw' }, 'Entra binds the access token to the key in req_cnf');
    assert.equal(at.aud, ARC_SERVER);
    // Each run signs a new SHR (new ts and nonce) around the cached access token.
    const again = decodeJwt(await pluginToken(file)) as any;
    assert.notEqual(again.nonce, claims.nonce);
    assert.equal(again.at, claims.at);
  });

  it('the same kubeconfig without PoP (a bearer token) still works on this cluster; a PoP token for another host is refused', async () => {
    const bearer = await kubectl(variant('bearer', []), ['get', 'nodes'], ropc());
    assert.equal(bearer.code, 0, bearer.stderr);
    const other = await kubectl(
      variant('other-host', [
        '--pop-enabled',
        '--pop-claims',
        'u=/subscriptions/x/resourceGroups/y/providers/Microsoft.Kubernetes/connectedClusters/other',
      ]),
      ['get', 'nodes'],
      ropc(),
    );
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      /error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/,
    );
  });

  it('--pop-enabled with a mode upstream has no PoP for, or bad --pop-claims, fails with an error saying so', async () => {
    const base = [
      'get-token',
      '--server-id',
      ARC_SERVER,
      '--tenant-id',
      k.endpoints.tenantId,
      '--client-id',
      '3f4439ff-e698-4d6d-84fe-09c9d574f06b',
      '--authority-host',
      `${k.endpoints.authority}/`,
      '--cache-dir',
      join(dir, 'errors'),
    ];
    const cases: [string[], string][] = [
      [
        ['--pop-enabled'],
        'Error: if enabling pop token mode, please provide the pop-claims flag containing the PoP token claims as a comma-separated string: `u=popClaimHost,key1=val1`\n',
      ],
      [
        ['--pop-claims', 'u=x'],
        'Error: pop-enabled flag is required to use the PoP token feature. Please provide both pop-enabled and pop-claims flags\n',
      ],
      [
        ['--pop-enabled', '--pop-claims', 'host=x'],
        'Error: required u-claim not provided for PoP token flow. Please provide the ARM ID of the cluster in the format `u=<ARM_ID>`\n',
      ],
      [
        ['--pop-enabled', '--pop-claims', 'u'],
        'Error: failed to parse PoP token claims. Ensure the claims are formatted as `key=value` with no extra whitespace\n',
      ],
      [
        ['--pop-enabled', '--pop-claims', `u=${armId}`, '--login', 'devicecode'],
        "Error: --pop-enabled works with -l interactive, spn and ropc (as upstream's PoP credentials), not with -l devicecode\n",
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await run(process.execPath, [KUBELOGIN_BIN, ...base, ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr, stderr, args.join(' '));
    }
  });
});
