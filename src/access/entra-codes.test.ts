import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { signJwt, v1Issuer } from '../identity/index.js';
import { authenticatorChain, entraTokenAuthenticator, type AuthnResult, type TokenFailureCode } from './index.js';

// Each way the Entra authenticator refuses a token has a stable code, so callers (check-access's
// explanation) branch on the code and never on the message's words.

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER = '11111111-2222-4333-8444-555555555555';
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const ORIGIN = 'https://localhost:8443';

describe('access: the Entra authenticator names the failed check with a stable code', () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.UTC(2026, 10, 25, 12);
  const sec = Math.floor(now / 1000);
  const authn = entraTokenAuthenticator({
    tenantId: TENANT,
    audiences: [AKS_SERVER],
    authorityOrigin: ORIGIN,
    keys: { publicKey: (kid) => (kid === 'k1' ? pair.publicKey : undefined) },
    groups: {
      memberGroups: () => Promise.reject(new Error('Graph is down')),
    },
    clock: { now: () => now },
  });
  const token = (claims: Record<string, unknown>, opts: { kid?: string; key?: typeof pair.privateKey } = {}) =>
    signJwt(
      { typ: 'JWT', alg: 'RS256', kid: opts.kid ?? 'k1' },
      { aud: AKS_SERVER, iss: v1Issuer(TENANT), nbf: sec, exp: sec + 3600, tid: TENANT, oid: 'a11ce', upn: 'alice@contoso.com', ...claims },
      opts.key ?? pair.privateKey,
    );
  const codeOf = async (t: string): Promise<string | undefined> => {
    const r = await authn({ token: t });
    assert.equal(r.kind, 'error', JSON.stringify(r));
    return (r as Extract<AuthnResult, { kind: 'error' }>).code;
  };

  const cases: [string, TokenFailureCode, () => string][] = [
    ['another tenant named as issuer', 'issuer', () => token({ iss: v1Issuer(OTHER) })],
    ['a kid no key has', 'unknown_key', () => token({}, { kid: 'k-unknown' })],
    ['a signature by another key', 'bad_signature', () => token({}, { key: other.privateKey })],
    ['an expired token', 'expired', () => token({ exp: sec - 3600 })],
    ['a token not valid yet', 'not_yet_valid', () => token({ nbf: sec + 3600 })],
    ['another audience', 'audience', () => token({ aud: 'https://management.core.windows.net/' })],
    ['another tid', 'tenant', () => token({ tid: OTHER })],
    ['no upn and no oid', 'user_claims', () => token({ upn: undefined, oid: undefined })],
    [
      'an overage the directory cannot resolve',
      'groups',
      () => token({ _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'x' } } }),
    ],
    [
      'an application in overage',
      'app_overage',
      () => token({ idtyp: 'app', _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'x' } } }),
    ],
  ];
  for (const [name, code, make] of cases) {
    it(`${name}: ${code}`, async () => {
      assert.equal(await codeOf(make()), code);
    });
  }

  it('a chain with one error keeps its code; errors joined from several have none', async () => {
    const refuse = (message: string) => async (): Promise<AuthnResult> => ({ kind: 'error', message });
    const one = await authenticatorChain(authn)({ token: token({ exp: sec - 3600 }) });
    assert.equal(one.kind === 'error' && one.code, 'expired');
    const two = await authenticatorChain(authn, refuse('another'))({ token: token({ exp: sec - 3600 }) });
    assert.equal(two.kind === 'error' && two.code, undefined);
  });
});
