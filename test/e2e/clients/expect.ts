// What a resource server or a relying party checks in the tokens the client libraries got: the
// signature against the tenant's published keys, the issuer and audience, and the claims Entra puts
// in v1 and v2 access tokens and in id tokens. Shared by the client-library end-to-end tests.
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { parse, stringify } from 'yaml';
import { httpsFetch } from '../../support/http.js';

export type Claims = JWTPayload & Record<string, any>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface TokenChecker {
  /** The v2 issuer of the tenant: `<authority>/<tid>/v2.0`. */
  v2Issuer: string;
  /** The v1 issuer of the tenant: `https://sts.windows.net/<tid>/`. */
  v1Issuer: string;
  /** Verifies the signature against the JWKS the test fetched, then the issuer, audience and times. */
  verify(token: string, expect: { iss: string; aud: string }): Promise<Claims>;
  /** A v2 access token for a user (delegated): what an API built on Microsoft.Identity.Web checks. */
  v2User(token: string, expect: { aud: string; azp: string; scp: string; username: string; azpacr?: '0' | '1' | '2' }): Promise<Claims>;
  /** A v1 access token for a user (Graph, or an API without accessTokenAcceptedVersion 2). */
  v1User(token: string, expect: { aud: string; appid: string; scp: string; upn: string; appidacr?: '0' | '1' | '2' }): Promise<Claims>;
  /** An app-only token (client credentials) in either version. */
  app(token: string, expect: { version: 1 | 2; aud: string; clientId: string; roles: string[]; acr: '1' | '2' }): Promise<Claims>;
  /** A v2 id token. */
  idToken(token: string, expect: { clientId: string; username: string; nonce?: string }): Promise<Claims>;
}

/** Fetches `<authority>/<tid>/discovery/v2.0/keys` once (over HTTPS, trusting the CA) and checks tokens against it. */
export async function tokenChecker(authority: string, caFile: string, tenantId: string): Promise<TokenChecker> {
  const res = await httpsFetch(`${authority}/${tenantId}/discovery/v2.0/keys`, { caFile });
  assert.equal(res.status, 200, res.text);
  const jwks = res.json<JSONWebKeySet>();
  assert.ok(jwks.keys.length > 0 && jwks.keys.every((k) => k.kty === 'RSA' && k.use === 'sig' && k.kid), res.text);
  const keySet = createLocalJWKSet(jwks);
  const v2Issuer = `${authority}/${tenantId}/v2.0`;
  const v1Issuer = `https://sts.windows.net/${tenantId}/`;

  const verify = async (token: string, expect: { iss: string; aud: string }): Promise<Claims> => {
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'RS256');
    assert.ok(
      jwks.keys.some((k) => k.kid === header.kid),
      `kid ${header.kid} is in the published keys`,
    );
    const { payload } = await jwtVerify(token, keySet, { algorithms: ['RS256'], issuer: expect.iss, audience: expect.aud });
    const claims = payload as Claims;
    assert.equal(claims.tid, tenantId, 'tid');
    const lifetime = claims.exp! - claims.iat!;
    assert.ok(claims.nbf! <= claims.iat! + 1 && claims.iat! <= Date.now() / 1000 + 5, `iat ${claims.iat} nbf ${claims.nbf}`);
    return Object.assign(claims, { lifetime });
  };
  const accessLifetime = (c: Claims) =>
    assert.ok(c.lifetime >= 3600 && c.lifetime <= 5400, `access token lifetime ${c.lifetime} s is in 3600..5400`);

  return {
    v2Issuer,
    v1Issuer,
    verify,
    async v2User(token, e) {
      const c = await verify(token, { iss: v2Issuer, aud: e.aud });
      assert.equal(c.ver, '2.0');
      assert.equal(c.azp, e.azp);
      if (e.azpacr) assert.equal(c.azpacr, e.azpacr);
      assert.equal(c.appid, undefined, 'v2 tokens carry azp, not appid');
      assert.equal(c.scp, e.scp);
      assert.equal(c.preferred_username, e.username);
      assert.match(c.oid, GUID);
      assert.ok(typeof c.sub === 'string' && c.sub !== c.oid, 'sub is pairwise, not the object id');
      assert.equal(c.idtyp, undefined);
      accessLifetime(c);
      return c;
    },
    async v1User(token, e) {
      const c = await verify(token, { iss: v1Issuer, aud: e.aud });
      assert.equal(c.ver, '1.0');
      assert.equal(c.appid, e.appid);
      if (e.appidacr) assert.equal(c.appidacr, e.appidacr);
      assert.equal(c.azp, undefined, 'v1 tokens carry appid, not azp');
      assert.equal(c.scp, e.scp);
      assert.equal(c.upn, e.upn);
      assert.equal(c.unique_name, e.upn);
      assert.match(c.oid, GUID);
      assert.ok(Array.isArray(c.amr) && c.amr.length > 0, 'amr');
      accessLifetime(c);
      return c;
    },
    async app(token, e) {
      const c = await verify(token, { iss: e.version === 2 ? v2Issuer : v1Issuer, aud: e.aud });
      assert.equal(c.ver, e.version === 2 ? '2.0' : '1.0');
      if (e.version === 2) {
        assert.equal(c.azp, e.clientId);
        assert.equal(c.azpacr, e.acr);
      } else {
        assert.equal(c.appid, e.clientId);
        assert.equal(c.appidacr, e.acr);
      }
      assert.equal(c.idtyp, 'app');
      assert.match(c.oid, GUID);
      assert.equal(c.sub, c.oid, 'an app token is about the service principal: sub = oid');
      assert.deepEqual([...(c.roles ?? [])].sort(), [...e.roles].sort());
      assert.equal(c.scp, undefined);
      assert.equal(c.upn, undefined);
      assert.equal(c.preferred_username, undefined);
      accessLifetime(c);
      return c;
    },
    async idToken(token, e) {
      const c = await verify(token, { iss: v2Issuer, aud: e.clientId });
      assert.equal(c.ver, '2.0');
      assert.equal(c.preferred_username, e.username);
      assert.match(c.oid, GUID);
      assert.ok(typeof c.sub === 'string' && c.sub.length > 0);
      if (e.nonce !== undefined) assert.equal(c.nonce, e.nonce);
      assert.ok(c.lifetime >= 300 && c.lifetime <= 86400, `id token lifetime ${c.lifetime}`);
      return c;
    },
  };
}

/** Adds to a YAML seed: applications (before or after the existing ones), users, and fields of existing applications by appId. */
export function extendSeed(
  seedText: string,
  add: {
    applicationsFirst?: Record<string, unknown>[];
    applications?: Record<string, unknown>[];
    users?: Record<string, unknown>[];
    patch?: Record<string, (app: Record<string, any>) => void>;
  },
): string {
  const seed = parse(seedText) as { tenants: { applications?: Record<string, any>[]; users?: Record<string, unknown>[] }[] };
  const tenant = seed.tenants[0]!;
  tenant.applications = [...(add.applicationsFirst ?? []), ...(tenant.applications ?? []), ...(add.applications ?? [])];
  tenant.users = [...(tenant.users ?? []), ...(add.users ?? [])];
  for (const [appId, fn] of Object.entries(add.patch ?? {})) {
    const app = tenant.applications.find((a) => a.appId === appId);
    assert.ok(app, `the seed has app ${appId}`);
    fn(app);
  }
  return stringify(seed);
}

/** The 9-letter user code in a device-code prompt. */
export function userCodeIn(message: string): string | undefined {
  return /enter the code ([A-Z]{9}) to authenticate/.exec(message)?.[1];
}
