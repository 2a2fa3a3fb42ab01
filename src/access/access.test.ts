import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { signJwt, v1Issuer } from '../identity/index.js';
import {
  authenticatorChain,
  cachedGroupLookup,
  cachedTokenAuthenticator,
  entraTokenAuthenticator,
  GROUPS_FROM_DIRECTORY,
  reviewToken,
  SPN_OVERAGE_MESSAGE,
  type AuthnResult,
  type GroupLookup,
  type TokenAuthenticator,
} from './index.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const ORIGIN = 'https://localhost:8443';
const ALICE = { oid: 'a11ce000-0000-4000-8000-000000000001', upn: 'alice@contoso.com' };

/** A signing key and the key source that publishes it (the access component's KeySource port). */
class TestKeyRing {
  private readonly kid = randomUUID();
  private readonly pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  current(): { kid: string; privateKey: KeyObject } {
    return { kid: this.kid, privateKey: this.pair.privateKey };
  }
  publicKey(kid: string): KeyObject | undefined {
    return kid === this.kid ? this.pair.publicKey : undefined;
  }
}

describe('access: Entra token authentication and the TokenReview webhook', () => {
  let keys: TestKeyRing;
  let now = Date.UTC(2026, 10, 25, 12);
  const clock = { now: () => now };
  const lookups: string[] = [];
  const groups: GroupLookup = {
    memberGroups: async (tid, oid) => {
      lookups.push(`${tid}/${oid}`);
      return ['g-201', 'g-250'];
    },
  };
  let authn: TokenAuthenticator;

  const sec = () => Math.floor(now / 1000);
  const sign = (claims: Record<string, unknown>, ring = keys) => {
    const { kid, privateKey } = ring.current();
    return signJwt({ typ: 'JWT', alg: 'RS256', kid, x5t: kid }, claims, privateKey);
  };
  const v1User = (extra: Record<string, unknown> = {}) =>
    sign({
      aud: AKS_SERVER,
      iss: v1Issuer(TENANT),
      iat: sec(),
      nbf: sec(),
      exp: sec() + 3600,
      tid: TENANT,
      ver: '1.0',
      oid: ALICE.oid,
      upn: ALICE.upn,
      groups: ['g-1', 'g-2'],
      appid: '80faf920-1908-4b52-b5ef-a8e7bedfc67a',
      scp: 'user.read',
      ...extra,
    });
  const user = async (token: string) => {
    const r = await authn({ token });
    assert.equal(r.kind, 'user', JSON.stringify(r));
    return (r as Extract<AuthnResult, { kind: 'user' }>).user;
  };
  const error = async (token: string) => {
    const r = await authn({ token });
    assert.equal(r.kind, 'error', JSON.stringify(r));
    return r as Extract<AuthnResult, { kind: 'error' }>;
  };

  before(async () => {
    keys = new TestKeyRing();
    authn = entraTokenAuthenticator({ tenantId: TENANT, audiences: [AKS_SERVER], authorityOrigin: ORIGIN, keys, groups, clock });
  });

  it("a member's v1 token: username is the UPN, groups by object ID, extra.oid, no uid", async () => {
    assert.deepEqual(await user(v1User()), { username: ALICE.upn, uid: '', groups: ['g-1', 'g-2'], extra: { oid: [ALICE.oid] } });
  });

  it('v2 tokens and the spn: audience form are accepted; guests and service principals are named by object ID', async () => {
    const v2 = sign({
      aud: AKS_SERVER,
      iss: `${ORIGIN}/${TENANT}/v2.0`,
      iat: sec(),
      exp: sec() + 600,
      tid: TENANT,
      ver: '2.0',
      oid: ALICE.oid,
      preferred_username: ALICE.upn,
    });
    assert.equal((await user(v2)).username, ALICE.oid, 'v2 tokens carry no upn claim');
    assert.equal((await user(v1User({ aud: `spn:${AKS_SERVER}` }))).username, ALICE.upn);
    const guest = v1User({
      upn: undefined,
      unique_name: 'live.com#bob@fabrikam.com',
      idp: v1Issuer(OTHER_TENANT),
      oid: 'b0b00000-0000-4000-8000-000000000002',
    });
    assert.equal((await user(guest)).username, 'b0b00000-0000-4000-8000-000000000002');
    const app = v1User({ upn: undefined, idtyp: 'app', oid: '5e000000-0000-4000-8000-000000000003', groups: undefined });
    assert.deepEqual(await user(app), {
      username: '5e000000-0000-4000-8000-000000000003',
      uid: '',
      groups: [],
      extra: { oid: ['5e000000-0000-4000-8000-000000000003'] },
    });
  });

  it('refuses expired, not-yet-valid, wrong-audience, wrong-tenant, tampered and foreign-key tokens, with the reason', async () => {
    assert.match((await error(v1User({ exp: sec() - 61 }))).message, /^failed to verify token for azure: oidc: token is expired/);
    assert.equal((await user(v1User({ exp: sec() - 30 }))).username, ALICE.upn, 'a minute of leeway');
    assert.equal((await error(v1User({ exp: undefined }))).message, 'failed to verify token for azure: oidc: the token has no exp claim');
    assert.match((await error(v1User({ nbf: sec() + 120 }))).message, /before the nbf/);
    assert.match(
      (await error(v1User({ aud: 'https://management.core.windows.net/' }))).message,
      /expected audience "6dae42f8-4368-4678-94ff-3960e28e3630" got \["https:\/\/management.core.windows.net\/"\]/,
    );
    assert.match((await error(v1User({ iss: v1Issuer(OTHER_TENANT), tid: OTHER_TENANT }))).message, /issued by a different provider/);
    assert.match((await error(v1User({ tid: OTHER_TENANT }))).message, /the token is for tenant "11111111-2222-4333-8444-555555555555"/);
    const [h, p, s] = v1User().split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), groups: ['cluster-admins'] }),
    ).toString('base64url');
    assert.equal((await error(`${h}.${forged}.${s}`)).message, 'failed to verify token for azure: failed to verify id token signature');
    const otherRing = new TestKeyRing();
    assert.match(
      (
        await error(
          sign({ aud: AKS_SERVER, iss: v1Issuer(TENANT), exp: sec() + 60, tid: TENANT, upn: ALICE.upn, oid: ALICE.oid }, otherRing),
        )
      ).message,
      /no signing key with that kid/,
    );
    assert.equal(
      (await error(v1User({ upn: undefined, oid: undefined }))).message,
      'failed to verify token for azure: username: upn and objectID: oid claims not found',
    );
  });

  it('gives no answer for what is not an Entra token, so the next authenticator can judge it', async () => {
    assert.deepEqual(await authn({ token: 'static-admin-token-0123456789' }), { kind: 'none' });
    assert.deepEqual(
      await authn({
        token: sign({ iss: 'https://kubernetes.default.svc.cluster.local', sub: 'system:serviceaccount:default:app', exp: sec() + 60 }),
      }),
      { kind: 'none' },
    );
    const admin: TokenAuthenticator = async ({ token }) =>
      token === 'static-admin-token-0123456789'
        ? { kind: 'user', user: { username: 'clusterAdmin', uid: '', groups: ['system:masters'], extra: {} } }
        : { kind: 'none' };
    const chain = authenticatorChain(authn, admin);
    assert.equal(((await chain({ token: 'static-admin-token-0123456789' })) as any).user.username, 'clusterAdmin');
    assert.equal(((await chain({ token: v1User() })) as any).user.username, ALICE.upn);
    assert.deepEqual(await chain({ token: 'something-else' }), { kind: 'none' });
    assert.match(((await chain({ token: v1User({ exp: sec() - 3600 }) })) as any).message, /expired/);
  });

  it("overage: a user's groups come from the directory (looked up once for a while); an application is refused as Guard does", async () => {
    const overage = {
      groups: undefined,
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: `${ORIGIN}/${TENANT}/users/${ALICE.oid}/getMemberObjects` } },
    };
    const cached = entraTokenAuthenticator({
      tenantId: TENANT,
      audiences: [AKS_SERVER],
      authorityOrigin: ORIGIN,
      keys,
      groups: cachedGroupLookup(groups, clock, 60_000),
      clock,
    });
    lookups.length = 0;
    for (let i = 0; i < 3; i++)
      assert.deepEqual(((await cached({ token: v1User({ ...overage, uti: `u${i}` }) })) as any).user.groups, ['g-201', 'g-250']);
    assert.deepEqual(lookups, [`${TENANT}/${ALICE.oid}`], 'one look-up for three tokens');
    // The access log tells these groups from a token's own by a mark the user carries (never in its JSON).
    const marked = ((await cached({ token: v1User({ ...overage, uti: 'u0' }) })) as any).user;
    assert.equal(marked[GROUPS_FROM_DIRECTORY], true);
    assert.equal(((await cached({ token: v1User() })) as any).user[GROUPS_FROM_DIRECTORY], undefined);
    now += 61_000;
    await cached({ token: v1User(overage) });
    assert.equal(lookups.length, 2, 'looked up again after the cache time');
    const app = await error(v1User({ ...overage, upn: undefined, idtyp: 'app' }));
    assert.deepEqual(app, { kind: 'error', message: SPN_OVERAGE_MESSAGE, httpStatus: 200, code: 'app_overage' });
    const broken = entraTokenAuthenticator({
      tenantId: TENANT,
      audiences: [AKS_SERVER],
      authorityOrigin: ORIGIN,
      keys,
      clock,
      groups: {
        memberGroups: async () => {
          throw new Error('Graph answered 503');
        },
      },
    });
    const r = await broken({ token: v1User(overage) });
    assert.equal(r.kind, 'error', 'fail closed: no fallback to the groups in the token');
    assert.match((r as any).message, /Graph answered 503/);
  });

  it('the token cache: hits skip the authenticator, errors are not cached, no entry outlives its TTL or the token', async () => {
    let calls = 0;
    const counted: TokenAuthenticator = async (req) => {
      calls++;
      return authn(req);
    };
    const cache = cachedTokenAuthenticator(counted, { clock, successTtlMs: 120_000, failureTtlMs: 10_000 });
    const token = v1User({ exp: sec() + 60 });
    await Promise.all([cache({ token }), cache({ token }), cache({ token })]);
    assert.equal(calls, 1, 'three concurrent requests, one verification');
    assert.equal((await cache({ token, audiences: ['https://kubernetes.default.svc'] })).kind, 'user');
    assert.equal(calls, 2, 'the audiences are part of the key');
    now += 61_000;
    assert.equal((await cache({ token })).kind, 'user', "still inside the verifier's minute of leeway");
    assert.equal(calls, 3, 'the cached user ended with the token, before the 2-minute TTL');
    now += 60_000;
    assert.equal((await cache({ token })).kind, 'error');
    assert.equal((await cache({ token })).kind, 'error');
    assert.equal(calls, 5, 'errors are not cached');
    await cache({ token: 'not-a-jwt' });
    await cache({ token: 'not-a-jwt' });
    assert.equal(calls, 6, '"not authenticated" is cached for the failure TTL');
    now += 11_000;
    await cache({ token: 'not-a-jwt' });
    assert.equal(calls, 7);
    assert.equal(cache.size(), 2);
  });

  describe('TokenReview, in the version the kube-apiserver sends', () => {
    for (const version of ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1']) {
      it(version, async () => {
        // The body the kube-apiserver's webhook token authenticator POSTs (reference/guard-rbac.md §4.1).
        const ok = await reviewToken(
          { apiVersion: version, kind: 'TokenReview', spec: { token: v1User(), audiences: ['https://myserver.example.com'] } },
          authn,
        );
        assert.deepEqual(ok, {
          statusCode: 200,
          body: {
            apiVersion: version,
            kind: 'TokenReview',
            metadata: { creationTimestamp: null },
            spec: {},
            status: { authenticated: true, user: { username: ALICE.upn, uid: '', groups: ['g-1', 'g-2'], extra: { oid: [ALICE.oid] } } },
          },
        });
        const expired = await reviewToken(
          { apiVersion: version, kind: 'TokenReview', spec: { token: v1User({ exp: sec() - 3600 }) } },
          authn,
        );
        assert.equal(expired.statusCode, 401);
        assert.equal((expired.body as any).apiVersion, version);
        assert.equal((expired.body as any).status.authenticated, false);
        assert.match((expired.body as any).status.error, /^failed to verify token for azure: oidc: token is expired/);
        const none = await reviewToken(
          {
            apiVersion: version,
            kind: 'TokenReview',
            metadata: { creationTimestamp: null },
            spec: { token: 'opaque' },
            status: { user: {} },
          },
          authn,
        );
        assert.deepEqual([none.statusCode, (none.body as any).status], [200, { authenticated: false, user: {} }]);
      });
    }

    it("refuses what is not a TokenReview with a Kubernetes Status, and an empty token in the review's own shape", async () => {
      const notReview = await reviewToken({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: {} }, authn);
      assert.equal(notReview.statusCode, 400);
      assert.deepEqual(
        { ...notReview.body, message: undefined },
        { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: undefined, reason: 'BadRequest', code: 400 },
      );
      assert.match(String(notReview.body.message), /unsupported apiVersion "authorization.k8s.io\/v1"/);
      assert.equal((await reviewToken([1, 2], authn)).statusCode, 400);
      const empty = await reviewToken({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: '' } }, authn);
      assert.deepEqual([empty.statusCode, (empty.body as any).status], [400, { authenticated: false, error: 'spec.token is required' }]);
      const badAud = await reviewToken(
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'x', audiences: 'api' } },
        authn,
      );
      assert.equal(badAud.statusCode, 400);
    });
  });
});
