import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KENTRA_BIN, startTestKentra, type TestKentra } from '../support/kentra.js';
import { packageSkip } from '../support/packages.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../support/postgres.js';
import {
  AKS_SERVER_SCOPE,
  bootstrapToken,
  call,
  closeAgents,
  sleep,
  tokenForm,
  tokenReviewBody,
  trace,
  webhookCluster,
  type Answer,
  type ClientCertificate,
} from './load.js';

// Issue 16: key rotation under load on two instances. Two `kentra up` on one PostgreSQL store and one
// data directory (one CA, so one key-encryption key) take a steady stream of client-credentials token
// requests, and each token is checked on the OTHER instance (ARM GET /subscriptions, a cluster
// TokenReview, Graph GET), while `kentra keys rotate --activate-in 10` rotates the key twice. Not one
// request may fail, and each new kid must be seen signed by both instances and accepted by both.

const available = !!process.env.KENTRA_TEST_POSTGRES_URL || postgresBinDir() !== null;
const skip = packageSkip(available, 'postgresql', 'PostgreSQL (initdb)');
const ARM_SCOPE = 'https://management.azure.com/.default';
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const WORKERS = 8;

const kidOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid;

function kentraKeys(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((r) =>
    execFile(process.execPath, [KENTRA_BIN, 'keys', ...args], { env: process.env }, (err, stdout, stderr) =>
      r({ code: err ? Number((err as any).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('reliability: key rotation under load on two instances', { skip, timeout: 150_000 }, () => {
  let pg: TestPostgres;
  let store: string;
  let dataDir: string;
  const inst: TestKentra[] = [];
  let cert: ClientCertificate;
  let reviewPath: string;

  before(async () => {
    if (skip) return;
    pg = await startPostgres();
    store = await pg.newDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'kentra-rotation-'));
    inst.push(await startTestKentra({ store, dataDir, extraArgs: ['--provisioning-delay', '0'] }));
    inst.push(await startTestKentra({ store, dataDir, extraArgs: ['--provisioning-delay', '0'] }));
    ({ cert, tokenReviewPath: reviewPath } = await webhookCluster(inst[0]!, await bootstrapToken(inst[0]!, 'arm'), 'rot', origin(0)));
  });
  after(async () => {
    closeAgents();
    for (const k of inst) await k.close();
    await pg?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Each instance by its own port (both share one CA), so the test knows which one answered. */
  const origin = (i: number) => `https://localhost:${inst[i]!.port}`;

  it('issue 16: two rotations while 2 instances issue and cross-verify tokens: 0 failed requests, each new kid signed and accepted by both', async () => {
    const k = inst[0]!;
    const tenant = k.endpoints.tenantId;
    const kinds = ['arm', 'tokenreview', 'graph'] as const;
    const scopeOf = { arm: ARM_SCOPE, tokenreview: AKS_SERVER_SCOPE, graph: GRAPH_SCOPE };
    let requests = 0;
    const failures: string[] = [];
    /** `${kid} ${issuer}` for each token issued; `${kid} ${verifier}` for each token accepted. */
    const issued = new Map<string, number>();
    const accepted = new Map<string, number>();
    const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
    const fail = (what: string, a: Answer) => {
      failures.push(`${what}: ${a.status} ${a.text.slice(0, 200)}`);
      trace(`key-rotation failure ${what}: ${a.status} ${a.text.slice(0, 200)}`);
    };

    const verify = (kind: (typeof kinds)[number], i: number, token: string): Promise<{ ok: boolean; a: Answer }> => {
      if (kind === 'arm')
        return call(k, 'GET', `${origin(i)}/subscriptions?api-version=2020-01-01`, { headers: { authorization: `Bearer ${token}` } }).then(
          (a) => ({ ok: a.status === 200, a }),
        );
      if (kind === 'graph')
        return call(k, 'GET', `${origin(i)}/v1.0/users`, { headers: { authorization: `Bearer ${token}` } }).then((a) => ({
          ok: a.status === 200,
          a,
        }));
      return call(k, 'POST', `${origin(i)}${reviewPath}`, {
        body: tokenReviewBody(token),
        headers: { 'content-type': 'application/json' },
        cert,
      }).then((a) => ({ ok: a.status === 200 && a.json().status?.authenticated === true, a }));
    };

    let running = true;
    const loops = Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = 0; running; n++) {
        const issuer = (w + n) % 2;
        const verifier = 1 - issuer;
        const kind = kinds[(w + n) % kinds.length]!;
        requests++;
        const t = await call(k, 'POST', `${origin(issuer)}/${tenant}/oauth2/v2.0/token`, {
          body: tokenForm(k, scopeOf[kind]),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        if (t.status !== 200) {
          fail(`token from ${issuer}`, t);
          continue;
        }
        const token = t.json().access_token as string;
        const kid = kidOf(token);
        bump(issued, `${kid} ${issuer}`);
        requests++;
        const v = await verify(kind, verifier, token);
        if (v.ok) bump(accepted, `${kid} ${verifier}`);
        else fail(`${kind} on ${verifier} of a token from ${issuer} (kid ${kid})`, v.a);
      }
    });

    const both = (m: Map<string, number>, kid: string) => [0, 1].every((i) => (m.get(`${kid} ${i}`) ?? 0) > 0);
    const rotate = async (): Promise<string> => {
      const r = await kentraKeys(['rotate', '--store', store, '--data-dir', dataDir, '--activate-in', '10', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const kid = JSON.parse(r.stdout).kid as string;
      trace(`key-rotation: rotated to ${kid}`);
      // The new key signs 10 s from now; wait until both instances have signed with it and both accepted it (or give up at 45 s).
      const until = Date.now() + 45_000;
      while (Date.now() < until && !(both(issued, kid) && both(accepted, kid))) await sleep(250);
      return kid;
    };

    const started = Date.now();
    const firstKid = kidOf(await bootstrapToken(k, 'arm'));
    const kids: string[] = [];
    try {
      await sleep(3_000);
      kids.push(await rotate());
      await sleep(2_000);
      kids.push(await rotate());
      await sleep(3_000);
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const seconds = (Date.now() - started) / 1000;
    const count = (m: Map<string, number>, kid: string, i: number) => m.get(`${kid} ${i}`) ?? 0;
    const perKid = [firstKid, ...kids]
      .map(
        (kid) =>
          `${kid.slice(0, 8)}… issued A/B ${count(issued, kid, 0)}/${count(issued, kid, 1)}, accepted A/B ${count(accepted, kid, 0)}/${count(accepted, kid, 1)}`,
      )
      .join('; ');
    console.log(
      `reliability: key rotation on 2 instances (PostgreSQL): ${requests} requests in ${seconds.toFixed(1)} s (${WORKERS} workers: client-credentials tokens, each verified on the other instance by ARM GET, TokenReview or Graph GET), ${failures.length} failures, 2 rotations; ${perKid}`,
    );

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests`);
    assert.equal(new Set([firstKid, ...kids]).size, 3, 'each rotation added a new kid');
    for (const kid of kids) {
      assert.ok(both(issued, kid), `both instances signed with the new kid ${kid}`);
      assert.ok(both(accepted, kid), `both instances accepted tokens signed with the new kid ${kid} by the other instance`);
    }
    // Both publish all three keys: tokens of the retired ones keep verifying until they expire.
    for (const i of [0, 1]) {
      const jwks = await call(k, 'GET', `${origin(i)}/common/discovery/v2.0/keys`);
      assert.equal(jwks.status, 200);
      const published = jwks.json().keys.map((key: { kid: string }) => key.kid);
      for (const kid of [firstKid, ...kids]) assert.ok(published.includes(kid), `instance ${i} publishes ${kid}`);
    }
  });
});
