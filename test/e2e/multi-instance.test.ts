import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrivateKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { parseAllDocuments } from 'yaml';
import { loadOrCreateCertificateAuthority } from '../../src/pki/index.js';
import { sealerForDataDir } from '../../src/shared/key-sealing.js';
import { openStore } from '../../src/store/index.js';
import { packageSkip } from '../support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../support/postgres.js';
import { KENTRA_BIN, completeDeviceLogin, startTestKentra, type TestKentra } from '../support/kentra.js';
import { startRoundRobin, type RoundRobinProxy } from '../support/round-robin.js';

// Several `kentra up` processes on one PostgreSQL store behind a round-robin TCP proxy serve one
// deployment (issue 7 §3). Every request the test cares about opens its own connection, so the proxy
// log says which instance served it.

const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');
const AZ_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const ARM_SCOPE = 'https://management.azure.com/.default';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

/** One request on a fresh connection (no keep-alive), with a deadline. */
function fetchOnce(
  url: string,
  caFile: string,
  opts: { method?: string; form?: Record<string, string>; json?: unknown; token?: string; timeoutMs?: number } = {},
): Promise<Res> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.json !== undefined ? JSON.stringify(opts.json) : undefined;
  const headers: Record<string, string> = { connection: 'close' };
  if (opts.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      url,
      {
        method: opts.method ?? (body ? 'POST' : 'GET'),
        headers,
        ca: readFileSync(caFile),
        agent: false,
        timeout: opts.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'TEST_TIMEOUT' })));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function kentraCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((r) =>
    execFile(process.execPath, [KENTRA_BIN, ...args], { env: process.env }, (err, stdout, stderr) =>
      r({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** Two instances behind the proxy; `on(i)` sends the next request to instance i. */
class Pair {
  constructor(
    readonly a: TestKentra,
    readonly b: TestKentra,
    readonly proxy: RoundRobinProxy,
    readonly caFile: string,
  ) {}
  get url() {
    return `https://localhost:${this.proxy.port}`;
  }
  async on(i: number, path: string, opts: Parameters<typeof fetchOnce>[2] = {}): Promise<Res> {
    this.proxy.next(i);
    const before = this.proxy.served.length;
    const res = await fetchOnce(`${this.url}${path}`, this.caFile, opts);
    assert.equal(this.proxy.served[before], i, 'the request landed on the instance asked for');
    return res;
  }
}

const tokenOf = (res: Res) => {
  assert.equal(res.status, 200, res.text);
  return res.json();
};

describe('several kentra up processes on one PostgreSQL', { skip, timeout: 300_000 }, () => {
  let pg: TestPostgres;
  before(async () => {
    if (available) pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  describe('started one after the other with a shared data directory', () => {
    let p: Pair;
    let dataDir: string;
    let store: string;
    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'kentra-multi-'));
      store = await pg.newDatabase();
      const a = await startTestKentra({ store, dataDir, extraArgs: ['--provisioning-delay', '300'] });
      const b = await startTestKentra({ store, dataDir, extraArgs: ['--provisioning-delay', '300'] });
      p = new Pair(a, b, await startRoundRobin([a.port, b.port]), a.endpoints.caFile);
    });
    after(async () => {
      await p?.proxy.close();
      await p?.a.close();
      await p?.b.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('serves one deployment: one tenant, the same bootstrap credentials, both ready', async () => {
      const { a, b } = p;
      assert.notEqual(a.port, b.port);
      const shared = JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8'));
      assert.equal(shared.tenantId, a.endpoints.tenantId);
      assert.equal(shared.admin.password, a.endpoints.admin.password, "the second instance kept the first one's secrets in endpoints.json");
      assert.ok(!a.endpoints.admin.password.startsWith('('));
      assert.equal((await p.on(0, '/readyz')).text, 'ready');
      assert.equal((await p.on(1, '/readyz')).text, 'ready');
      const s = await openStore({ url: store });
      try {
        assert.equal((await s.listTenants()).filter((t) => t.defaultDomain === 'kentra.onmicrosoft.com').length, 1);
        assert.equal((await s.listSigningKeys()).length, 1);
      } finally {
        await s.close();
      }
    });

    it("finishes a device-code sign-in begun on A on B, refreshes on B, refuses the replayed refresh token, rotates keys for both, and shows A's cluster on B", async () => {
      const { a, b } = p;
      const { tenantId, subscriptionId } = a.endpoints;
      const { userPrincipalName, password } = a.endpoints.admin;

      // Device code begun on A, completed on B's device-login page, redeemed by polling A.
      const dc = tokenOf(
        await p.on(0, `/${tenantId}/oauth2/v2.0/devicecode`, {
          form: { client_id: AZ_CLI, scope: `${ARM_SCOPE} offline_access openid profile` },
        }),
      );
      const pending = await p.on(0, `/${tenantId}/oauth2/v2.0/token`, {
        form: { client_id: AZ_CLI, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dc.device_code },
      });
      assert.equal(pending.json().error, 'authorization_pending');
      const done = await completeDeviceLogin(`https://localhost:${b.port}`, p.caFile, dc.user_code, userPrincipalName, password);
      assert.match(done, /signed in|You have signed in|close this window/i);
      const signedIn = tokenOf(
        await p.on(0, `/${tenantId}/oauth2/v2.0/token`, {
          form: { client_id: AZ_CLI, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dc.device_code },
        }),
      );
      assert.ok(signedIn.access_token && signedIn.refresh_token);
      const again = await p.on(1, `/${tenantId}/oauth2/v2.0/token`, {
        form: { client_id: AZ_CLI, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: dc.device_code },
      });
      assert.equal(again.status, 400, 'the code is redeemed once, on any instance');

      // The refresh token redeemed on B; it rotates.
      const refreshed = tokenOf(
        await p.on(1, `/${tenantId}/oauth2/v2.0/token`, {
          form: {
            client_id: AZ_CLI,
            grant_type: 'refresh_token',
            refresh_token: signedIn.refresh_token,
            scope: `${ARM_SCOPE} offline_access`,
          },
        }),
      );
      assert.notEqual(refreshed.refresh_token, signedIn.refresh_token);
      const refreshedAt = Date.now();
      const me = await p.on(0, `/subscriptions?api-version=2020-01-01`, { token: refreshed.access_token });
      assert.equal(me.status, 200, 'a token issued by B is accepted by A');

      // Key rotation in the store, seen by both instances.
      const before = decodeProtectedHeader(signedIn.access_token).kid;
      // The signing keys are sealed with the deployment's key-encryption key (here derived from the shared CA in the data directory).
      const rotated = await kentraCli(['keys', 'rotate', '--store', store, '--data-dir', dataDir, '--json']);
      assert.equal(rotated.code, 0, rotated.stderr);
      const kid = JSON.parse(rotated.stdout).kid as string;
      assert.notEqual(kid, before);
      const sp = {
        client_id: a.endpoints.servicePrincipal.appId,
        client_secret: a.endpoints.servicePrincipal.secret,
        grant_type: 'client_credentials',
        scope: ARM_SCOPE,
      };
      const newKidToken = async (i: number) => {
        for (let n = 0; n < 60; n++) {
          const t = tokenOf(await p.on(i, `/${tenantId}/oauth2/v2.0/token`, { form: sp })).access_token as string;
          if (decodeProtectedHeader(t).kid === kid) return t;
          await sleep(500);
        }
        throw new Error(`instance ${i} never signed with the rotated key`);
      };
      const fromA = await newKidToken(0);
      const fromB = await newKidToken(1);
      for (const i of [0, 1]) {
        const jwks = tokenOf(await p.on(i, '/common/discovery/v2.0/keys'));
        assert.ok(
          jwks.keys.some((k: any) => k.kid === kid),
          `instance ${i} publishes the new key`,
        );
        assert.ok(
          jwks.keys.some((k: any) => k.kid === before),
          `instance ${i} still publishes the old key`,
        );
      }
      assert.equal(
        (await p.on(1, `/subscriptions?api-version=2020-01-01`, { token: fromA })).status,
        200,
        "B accepts a token signed by A's new key",
      );
      assert.equal((await p.on(0, `/subscriptions?api-version=2020-01-01`, { token: fromB })).status, 200);
      const listed = await kentraCli(['keys', 'list', '--store', store, '--data-dir', dataDir]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`${kid.replace(/[-]/g, '\\-')}\\s+signing`));

      // The first refresh token, replayed after the rotation's grace, is refused on either instance (and revokes the family).
      await sleep(Math.max(0, 10_500 - (Date.now() - refreshedAt)));
      for (const i of [0, 1]) {
        const replay = await p.on(i, `/${tenantId}/oauth2/v2.0/token`, {
          form: { client_id: AZ_CLI, grant_type: 'refresh_token', refresh_token: signedIn.refresh_token },
        });
        assert.equal(replay.status, 400, replay.text);
        assert.equal(replay.json().error, 'invalid_grant');
      }
      const family = await p.on(1, `/${tenantId}/oauth2/v2.0/token`, {
        form: { client_id: AZ_CLI, grant_type: 'refresh_token', refresh_token: refreshed.refresh_token },
      });
      assert.equal(family.json().error, 'invalid_grant', 'the replay revoked the whole family');

      // A cluster created through A is listed, and its operation polled, through B.
      const owner = fromA;
      const sub = `/subscriptions/${subscriptionId}`;
      assert.equal(
        (await p.on(0, `${sub}/resourcegroups/rg1?api-version=2021-04-01`, { method: 'PUT', json: { location: 'eastus' }, token: owner }))
          .status,
        201,
      );
      const put = await p.on(
        0,
        `${sub}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1?api-version=2022-11-01`,
        {
          method: 'PUT',
          token: owner,
          json: {
            location: 'eastus',
            properties: {
              dnsPrefix: 'c1',
              agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
              aadProfile: { managed: true, adminGroupObjectIDs: [] },
            },
          },
        },
      );
      assert.equal(put.status, 201, put.text);
      const op = new URL(String(put.headers['azure-asyncoperation']));
      assert.equal(op.port, String(a.port), 'A wrote the operation link');
      const list = tokenOf(
        await p.on(1, `${sub}/providers/Microsoft.ContainerService/managedClusters?api-version=2022-11-01`, { token: owner }),
      );
      assert.deepEqual(
        list.value.map((c: any) => c.name),
        ['c1'],
      );
      let status = 'InProgress';
      for (let n = 0; n < 60 && status === 'InProgress'; n++) {
        status = tokenOf(await p.on(1, `${op.pathname}${op.search}`, { token: owner })).status;
        if (status === 'InProgress') await sleep(200);
      }
      assert.equal(status, 'Succeeded', 'the operation completes when polled on B');
      const got = tokenOf(
        await p.on(1, `${sub}/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1?api-version=2022-11-01`, {
          token: owner,
        }),
      );
      assert.equal(got.properties.provisioningState, 'Succeeded');
    });
  });

  it('starts two instances at the same moment on an empty database as one deployment', async () => {
    // Their own data directories with one CA, as the Kubernetes manifests lay it out.
    const dirs = [mkdtempSync(join(tmpdir(), 'kentra-multi-a-')), mkdtempSync(join(tmpdir(), 'kentra-multi-b-'))];
    await loadOrCreateCertificateAuthority(dirs[0]!, 'Kentra Local CA');
    for (const f of ['ca.pem', 'ca-key.pem']) copyFileSync(join(dirs[0]!, f), join(dirs[1]!, f));
    const store = await pg.newDatabase();
    const started = await Promise.allSettled(dirs.map((dataDir) => startTestKentra({ store, dataDir })));
    try {
      for (const s of started) assert.equal(s.status, 'fulfilled', s.status === 'rejected' ? String(s.reason) : '');
      const [a, b] = started.map((s) => (s as PromiseFulfilledResult<TestKentra>).value) as [TestKentra, TestKentra];
      assert.equal(a.endpoints.tenantId, b.endpoints.tenantId);
      assert.equal(a.endpoints.subscriptionId, b.endpoints.subscriptionId);
      const s = await openStore({ url: store });
      try {
        assert.equal((await s.listTenants()).filter((t) => t.defaultDomain === 'kentra.onmicrosoft.com').length, 1, 'one bootstrap tenant');
        assert.equal((await s.listSigningKeys()).length, 1, 'one signing key');
        assert.ok(await s.getMeta('form-key'));
      } finally {
        await s.close();
      }
      // The instance that bootstrapped has the credentials; a token from it is honoured by the other.
      const withSecret = [a, b].find((k) => !k.endpoints.servicePrincipal.secret.startsWith('('))!;
      const proxy = await startRoundRobin([a.port, b.port]);
      try {
        const p = new Pair(a, b, proxy, join(dirs[0]!, 'ca.pem'));
        const { appId, secret } = withSecret.endpoints.servicePrincipal;
        const t = tokenOf(
          await p.on(0, `/${a.endpoints.tenantId}/oauth2/v2.0/token`, {
            form: { client_id: appId, client_secret: secret, grant_type: 'client_credentials', scope: ARM_SCOPE },
          }),
        );
        assert.equal((await p.on(1, '/subscriptions?api-version=2020-01-01', { token: t.access_token })).status, 200);
      } finally {
        await proxy.close();
      }
    } finally {
      for (const s of started) if (s.status === 'fulfilled') await s.value.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it('answers a burst of token requests or fails them cleanly when one instance is killed, and leaves the store consistent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kentra-multi-kill-'));
    const store = await pg.newDatabase();
    let a = await startTestKentra({ store, dataDir });
    const b = await startTestKentra({ store, dataDir });
    const proxy = await startRoundRobin([a.port, b.port]);
    try {
      const p = new Pair(a, b, proxy, a.endpoints.caFile);
      const { tenantId } = a.endpoints;
      const form = {
        client_id: a.endpoints.servicePrincipal.appId,
        client_secret: a.endpoints.servicePrincipal.secret,
        grant_type: 'client_credentials',
        scope: ARM_SCOPE,
      };
      const jwks = createLocalJWKSet(tokenOf(await p.on(1, '/common/discovery/v2.0/keys')));
      const results = await Promise.all(
        Array.from({ length: 200 }, async (_, n) => {
          if (n === 40) a.process.kill('SIGKILL');
          try {
            const res = await fetchOnce(`${p.url}/${tenantId}/oauth2/v2.0/token`, p.caFile, { form, timeoutMs: 30_000 });
            return { res };
          } catch (err) {
            return { err: err as NodeJS.ErrnoException };
          }
        }),
      );
      let ok = 0;
      let failed = 0;
      for (const r of results) {
        if (r.err) {
          assert.notEqual(r.err.code, 'TEST_TIMEOUT', 'no request hangs');
          failed++;
          continue;
        }
        const res = r.res!;
        const body = JSON.parse(res.text); // a malformed body throws here
        if (res.status === 200) {
          const { payload } = await jwtVerify(body.access_token, jwks);
          assert.equal(payload.tid, tenantId);
          ok++;
        } else {
          assert.ok(res.status >= 400 && typeof (body.error ?? body.error_description) === 'string', res.text);
          failed++;
        }
      }
      assert.equal(ok + failed, 200);
      assert.ok(ok > 0, 'the survivor answered');

      // The survivor still issues; a restarted A joins again with the same deployment.
      tokenOf(await p.on(1, `/${tenantId}/oauth2/v2.0/token`, { form }));
      a = await startTestKentra({ store, dataDir });
      proxy.setBackend(0, a.port);
      const fromA = tokenOf(await p.on(0, `/${tenantId}/oauth2/v2.0/token`, { form }));
      await jwtVerify(fromA.access_token, jwks);
      assert.equal((await p.on(1, '/subscriptions?api-version=2020-01-01', { token: fromA.access_token })).status, 200);

      // The signing keys are sealed: opened with the deployment's key-encryption key (from the data directory's CA key).
      const s = await openStore({ url: store, sealer: sealerForDataDir(dataDir) });
      try {
        assert.equal((await s.listTenants()).filter((t) => t.defaultDomain === 'kentra.onmicrosoft.com').length, 1);
        const keys = await s.listSigningKeys();
        assert.equal(keys.length, 1, 'no key added twice by restarts');
        for (const k of keys) assert.doesNotThrow(() => createPrivateKey(k.privateKeyPem), 'every key row is whole');
      } finally {
        await s.close();
      }
    } finally {
      await proxy.close();
      await a.close();
      await b.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const dir = join(root, 'deploy/kubernetes');
  const docs = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
        assert.equal(d.errors.length, 0, `${f}: ${d.errors.join('; ')}`);
        return d.toJS() as any;
      }),
    );
  const kind = (k: string) => docs.filter((d) => d.kind === k);

  it('has a Deployment with two replicas, a Service, a Secret and a PodDisruptionBudget whose selectors match the pods', () => {
    assert.deepEqual(docs.map((d) => d.kind).sort(), ['Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    const [dep] = kind('Deployment');
    assert.equal(dep.spec.replicas, 2);
    const labels = dep.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(labels[k], v);
    for (const [k, v] of Object.entries(kind('Service')[0].spec.selector)) assert.equal(labels[k], v, 'the Service selects the pods');
    const [pdb] = kind('PodDisruptionBudget');
    assert.equal(pdb.spec.minAvailable, 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v, 'the budget covers the pods');
  });

  it('runs kentra up on 0.0.0.0 with the store URL from the Secret, non-root, with probes on endpoints Kentra serves and the CA from the Secret', async () => {
    const [dep] = kind('Deployment');
    const [secret] = kind('Secret');
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    assert.deepEqual(c.args.slice(0, 3), ['up', '--listen', '0.0.0.0']);
    // The `kentra` command itself, which sizes the thread pool before anything else loads; not the module behind it.
    const bin = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.kentra;
    assert.deepEqual(c.command, ['node', bin]);
    // That pool's threads hand scrypt's 16 MiB back to the kernel after each hash (docs/performance.md, "Memory").
    assert.equal(c.env.find((e: any) => e.name === 'GLIBC_TUNABLES')?.value, 'glibc.malloc.mmap_threshold=131072');
    assert.equal(c.args[c.args.indexOf('--store') + 1], '$(KENTRA_STORE)');
    const env = c.env.find((e: any) => e.name === 'KENTRA_STORE');
    assert.equal(env.valueFrom.secretKeyRef.name, secret.metadata.name);
    assert.ok(env.valueFrom.secretKeyRef.key in secret.stringData);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(c.resources.requests && c.resources.limits);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
    assert.ok(c.livenessProbe.httpGet.path);
    const caVolume = pod.volumes.find((v: any) => v.secret?.secretName === secret.metadata.name);
    assert.deepEqual(caVolume.secret.items.map((i: any) => i.key).sort(), ['ca-key.pem', 'ca.pem']);
    const port = Number(c.args[c.args.indexOf('--port') + 1]);
    assert.equal(kind('Service')[0].spec.ports[0].port, port, 'clients reach the Service on the port Kentra builds its URLs with');

    // The probe paths are endpoints a running Kentra serves (on 127.0.0.1 here: tests listen on loopback only).
    const k = await startTestKentra();
    try {
      for (const path of [c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]) {
        const res = await fetchOnce(`https://127.0.0.1:${k.port}${path}`, k.endpoints.caFile);
        assert.equal(res.status, 200, `${path}: ${res.text}`);
      }
    } finally {
      await k.close();
    }
  });
});
