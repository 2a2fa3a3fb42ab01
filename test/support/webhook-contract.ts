import assert from 'node:assert/strict';
import { createSign } from 'node:crypto';
import { it } from 'node:test';
import { postForm } from './http.js';
import { storeSigningKeyPem } from './signing-key.js';
import type { TestKentra } from './kentra.js';

// The TokenReview webhook contract shared by the webhooks of `kentra up` (access-webhook.test.ts)
// and the standalone `kentra webhook` (webhook-standalone.test.ts): the same directory, the same
// tokens, the exact bodies a kube-apiserver POSTs (reference/guard-rbac.md §4.1, v1 and v1beta1) and
// the same expected answers, Guard's (§1.3, §1.6).

export const D = 'kentra.onmicrosoft.com';
export const OTHER = 'other.onmicrosoft.com';
export const OTHER_TENANT = '77777777-7777-4777-8777-777777777777';
export const ALICE = '77777777-0000-4000-8000-000000000001';
export const ADMINS = '77777777-0000-4000-8000-0000000000a1';
export const MANY = '77777777-0000-4000-8000-000000000002';
export const PAST_200 = '77777777-0000-4000-8000-0000000000a2';
export const CROWDED = '77777777-0000-4000-8000-0000000000c3';
export const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';

/** alice in one group; many in 251 (overage); crowded, an application in 201 (SPN overage); a user of another tenant. */
export function contractSeed(extraApplications = ''): string {
  return `
tenants:
  - domain: ${D}
    users:
      - { userPrincipalName: alice@${D}, password: 'Alice-Passw0rd!', id: ${ALICE} }
      - { userPrincipalName: many@${D}, password: 'Many-Passw0rd!', id: ${MANY} }
    groups:
      - { displayName: admins, id: ${ADMINS}, members: [${ALICE}] }
      - { displayName: past-200, id: ${PAST_200}, members: [many@${D}] }
    applications:
      - { displayName: crowded, appId: ${CROWDED}, secrets: ['crowded-secret-0123456789'] }
${extraApplications}
    groupSets:
      - { prefix: many-, count: 250, members: [many@${D}] }
      - { prefix: crowd-, count: 201, members: ['app:${CROWDED}'] }
  - id: ${OTHER_TENANT}
    domain: ${OTHER}
    users:
      - { userPrincipalName: bob@${OTHER}, password: 'Bob-Passw0rd!' }
`;
}

export interface ContractTokens {
  /** alice's token for the AKS server app. */
  alice: string;
  /** many's, with the overage claim instead of groups. */
  many: string;
  /** alice's claims, two hours old, signed with Kentra's current key: only the lifetime is wrong. */
  expired: string;
  /** alice's token with another upn and the original signature. */
  tampered: string;
  /** alice's token for ARM. */
  wrongAudience: string;
  /** a token of the other tenant for the AKS server app. */
  wrongTenant: string;
  /** an app-only token of an application in 201 groups. */
  spnOverage: string;
}

export const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * The token's own claims two hours old, signed with the Kentra signing key that signed it (read
 * from the SQLite store in `dataDir`): only the lifetime is wrong. `kentra up` has no short token
 * lifetime to wait out.
 */
export function expiredCopy(token: string, dataDir: string): string {
  const [h] = token.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
  const pem = storeSigningKeyPem(dataDir, header.kid);
  const now = Math.floor(Date.now() / 1000);
  const input = `${h}.${b64url({ ...claimsOf(token), iat: now - 7200, nbf: now - 7200, exp: now - 3600 })}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(pem).toString('base64url')}`;
}

export async function contractTokens(k: TestKentra): Promise<ContractTokens> {
  const token = async (tenant: string, fields: Record<string, string>) => {
    const res = await postForm(`${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const password = (tenant: string, username: string, pw: string, scope = `${AKS_SERVER}/.default`) =>
    token(tenant, { client_id: AKS_CLIENT, grant_type: 'password', username, password: pw, scope });
  const tid = k.endpoints.tenantId;
  const alice = await password(tid, `alice@${D}`, 'Alice-Passw0rd!');
  const [h, p, s] = alice.split('.');
  return {
    alice,
    many: await password(tid, `many@${D}`, 'Many-Passw0rd!'),
    expired: expiredCopy(alice, k.dataDir),
    tampered: `${h}.${b64url({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), upn: `mallory@${D}` })}.${s}`,
    wrongAudience: await password(tid, `alice@${D}`, 'Alice-Passw0rd!', 'https://management.azure.com/.default'),
    wrongTenant: await password(OTHER_TENANT, `bob@${OTHER}`, 'Bob-Passw0rd!'),
    spnOverage: await token(tid, {
      client_id: CROWDED,
      client_secret: 'crowded-secret-0123456789',
      grant_type: 'client_credentials',
      scope: `${AKS_SERVER}/.default`,
    }),
  };
}

export interface Reply {
  status: number;
  json: any;
}

/** A TokenReview exactly as a kube-apiserver sends it (`audiences` only when it is audience-limited). */
export const tokenReview = (version: string, token: string, audiences?: string[]) => ({
  apiVersion: `authentication.k8s.io/${version}`,
  kind: 'TokenReview',
  spec: { token, ...(audiences ? { audiences } : {}) },
});

const FAILED = 'failed to verify token for azure: ';

interface Case {
  name: string;
  body: (t: ContractTokens) => unknown;
  status: number;
  /** The expected `status` of the TokenReview, or a check of the whole answer. */
  expect: Record<string, unknown> | ((json: any, t: ContractTokens) => void);
}

/** Every case whose answer is the same wherever the webhook runs. */
export const TOKEN_REVIEW_CASES: Case[] = [
  ...['v1', 'v1beta1'].map((version): Case => ({
    name: `a ${version} TokenReview is answered in ${version}: the user, their groups and extra.oid`,
    body: (t) => tokenReview(version, t.alice, ['https://kubernetes.default.svc']),
    status: 200,
    expect: (json) => {
      assert.equal(json.apiVersion, `authentication.k8s.io/${version}`);
      assert.equal(json.kind, 'TokenReview');
      assert.deepEqual(json.status, {
        authenticated: true,
        user: { username: `alice@${D}`, uid: '', groups: [ADMINS], extra: { oid: [ALICE] } },
      });
    },
  })),
  {
    name: "an application in group overage is refused with Guard's message and HTTP 200, so the kube-apiserver logs it",
    body: (t) => tokenReview('v1', t.spnOverage),
    status: 200,
    expect: (json, t) => {
      assert.deepEqual(claimsOf(t.spnOverage)._claim_names, { groups: 'src1' }, 'the token has the overage claim');
      assert.deepEqual(json.status, {
        authenticated: false,
        user: {},
        error:
          'service principal with group membership exceeding 200 is not supported. See https://learn.microsoft.com/en-us/azure/aks/kubelogin-authentication#kubelogin-authentication-in-aks-limitations',
      });
    },
  },
  {
    name: 'a tampered token: 401, the signature',
    body: (t) => tokenReview('v1', t.tampered),
    status: 401,
    expect: { authenticated: false, user: {}, error: `${FAILED}failed to verify id token signature` },
  },
  {
    name: 'an expired token: 401, the expiry',
    body: (t) => tokenReview('v1', t.expired),
    status: 401,
    expect: (json) => assert.match(json.status.error, /^failed to verify token for azure: oidc: token is expired \(Token Expiry: .+\)$/),
  },
  {
    name: 'a token for ARM: 401, the audience',
    body: (t) => tokenReview('v1beta1', t.wrongAudience),
    status: 401,
    expect: (json) => {
      assert.equal(json.apiVersion, 'authentication.k8s.io/v1beta1');
      assert.equal(json.status.authenticated, false);
      assert.match(
        json.status.error,
        /^failed to verify token for azure: oidc: expected audience "6dae42f8-4368-4678-94ff-3960e28e3630" got /,
      );
    },
  },
  {
    name: 'a token of another tenant: 401, the issuer',
    body: (t) => tokenReview('v1', t.wrongTenant),
    status: 401,
    expect: (json) =>
      assert.match(
        json.status.error,
        new RegExp(
          `^failed to verify token for azure: oidc: id token issued by a different provider, expected "https://sts.windows.net/[0-9a-f-]+/" got ".*${OTHER_TENANT}.*"$`,
        ),
      ),
  },
  {
    name: 'an opaque token is simply not authenticated (200, no error)',
    body: () => tokenReview('v1', 'not-a-jwt'),
    status: 200,
    expect: { authenticated: false, user: {} },
  },
  {
    name: 'a TokenReview without a token: 400',
    body: () => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: {} }),
    status: 400,
    expect: { authenticated: false, error: 'spec.token is required' },
  },
  {
    name: 'not a TokenReview: a 400 Status',
    body: () => ({ apiVersion: 'v1', kind: 'Pod' }),
    status: 400,
    expect: (json) => assert.deepEqual([json.kind, json.status, json.reason, json.code], ['Status', 'Failure', 'BadRequest', 400]),
  },
];

/** Registers one test per case; `post` sends a body to the webhook's tokenreviews path with a good client certificate. */
export function tokenReviewContract(ctx: () => { post(body: unknown): Promise<Reply>; tokens: ContractTokens }): void {
  for (const c of TOKEN_REVIEW_CASES) {
    it(`contract: ${c.name}`, async () => {
      const { post, tokens } = ctx();
      const r = await post(c.body(tokens));
      assert.equal(r.status, c.status, JSON.stringify(r.json));
      if (typeof c.expect === 'function') c.expect(r.json, tokens);
      else assert.deepEqual(r.json.status, c.expect);
    });
  }
}
