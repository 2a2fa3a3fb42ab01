import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, postForm } from '../support/http.js';
import { startInProcessKentra, type InProcessKentra } from '../support/in-process.js';
import {
  assertAadError,
  authorizationCode,
  getAuthorize,
  pkcePair,
  signIn,
  tokenRequest,
  visibleText,
  type OAuthTarget,
} from './support-oauth.js';

// The OAuth 2.0 endpoints (/authorize, /token, /logout) against RFC 6749, RFC 7636 (PKCE), RFC 8252
// (loopback), RFC 9207 (iss) and RFC 9700 (the OAuth security BCP), driven over HTTPS against the real
// `kentra up`. Each describe names the rule it holds Kentra to. Rules and sources:
// /work/shared/reference/security.md §2, §3 and §6.

const TENANT = '44444444-4444-4444-8444-444444444444';
const PUB = '44444444-0000-4000-8000-0000000000a1';
const WEB = '44444444-0000-4000-8000-0000000000a2';
const FALLBACK = '44444444-0000-4000-8000-0000000000a3';
const OTHER = '44444444-0000-4000-8000-0000000000a4';
const SCHEMES = '44444444-0000-4000-8000-0000000000a5';
const WEB_SECRET = 'web-secret-0123456789abcdef';
const OTHER_SECRET = 'other-secret-0123456789abcdef';
const WEB_REDIRECT = 'https://app.example/callback';
const ALICE = { username: 'alice@oauthsec.onmicrosoft.com', password: 'Alice-Passw0rd!' };

const SEED = `
tenants:
  - id: ${TENANT}
    domain: oauthsec.onmicrosoft.com
    users:
      - { userPrincipalName: ${ALICE.username}, password: ${ALICE.password}, displayName: Alice }
    applications:
      - displayName: public-app
        appId: ${PUB}
        publicClient: { redirectUris: ['http://localhost', 'http://127.0.0.1/cb'] }
        identifierUris: ['api://pub']
        scopes: [{ value: access_as_user }]
      - displayName: web-app
        appId: ${WEB}
        web: { redirectUris: ['${WEB_REDIRECT}', 'https://app.example/signed-out'] }
        identifierUris: ['api://web']
        scopes: [{ value: access_as_user }]
        secrets: [{ value: ${WEB_SECRET} }]
      - displayName: fallback-public-web
        appId: ${FALLBACK}
        web: { redirectUris: ['https://fallback.example/cb'] }
        isFallbackPublicClient: true
        identifierUris: ['api://fallback']
        scopes: [{ value: access_as_user }]
      - displayName: other-web-app
        appId: ${OTHER}
        web: { redirectUris: ['https://other.example/cb'] }
        identifierUris: ['api://other']
        scopes: [{ value: access_as_user }]
        secrets: [{ value: ${OTHER_SECRET} }]
      - displayName: dangerous-schemes
        appId: ${SCHEMES}
        web: { redirectUris: ['javascript:alert(document.domain)//', 'data:text/html,<script>alert(1)</script>'] }
        publicClient: { redirectUris: ['vbscript:msgbox(1)', 'file:///etc/passwd'] }
        identifierUris: ['api://schemes']
        scopes: [{ value: access_as_user }]
`;

const pubScope = 'api://pub/access_as_user openid profile offline_access';
const webScope = 'api://web/access_as_user openid offline_access';

describe('OAuth 2.0 authorization server security (RFC 6749, 7636, 8252, 9207, 9700)', { timeout: 120_000 }, () => {
  let k: InProcessKentra;
  let t: OAuthTarget;

  /** A code for the public client, with PKCE; returns it with its verifier. */
  const publicCode = async (redirect = 'http://localhost:53100') => {
    const { verifier, challenge } = pkcePair();
    const code = await authorizationCode(
      t,
      { client_id: PUB, redirect_uri: redirect, scope: pubScope, state: 's', code_challenge: challenge, code_challenge_method: 'S256' },
      ALICE,
    );
    return { code, verifier, redirect };
  };
  /** A code for the confidential web client, without PKCE. */
  const webCode = () => authorizationCode(t, { client_id: WEB, redirect_uri: WEB_REDIRECT, scope: webScope, state: 's' }, ALICE);

  before(async () => {
    k = await startInProcessKentra({ seed: SEED });
    t = { authority: k.endpoints.authority, caFile: k.endpoints.caFile, tenant: TENANT };
  });
  after(async () => k?.close());

  describe('RFC 9700 §2.1.1 PKCE downgrade: a code issued without code_challenge is refused with any code_verifier', () => {
    it('answers invalid_grant in the AADSTS shape, and issues nothing', async () => {
      const code = await webCode();
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: WEB,
        client_secret: WEB_SECRET,
        code,
        redirect_uri: WEB_REDIRECT,
        code_verifier: pkcePair().verifier,
      });
      assertAadError(res, 400, 'invalid_grant');
    });

    it('still redeems a code issued without code_challenge when no code_verifier is sent (confidential client)', async () => {
      const code = await webCode();
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: WEB,
        client_secret: WEB_SECRET,
        code,
        redirect_uri: WEB_REDIRECT,
      });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json().access_token);
    });
  });

  describe('RFC 7636 §4.1, §4.6: the code_verifier is 43–128 characters of [A-Za-z0-9-._~] and must match the challenge', () => {
    for (const [name, verifier] of [
      ['42 characters', 'a'.repeat(42)],
      ['129 characters', 'a'.repeat(129)],
      ['a character outside the unreserved set', `${'a'.repeat(50)}+/=`],
      ['a space', `${'a'.repeat(50)} b`],
    ] as const) {
      it(`refuses a verifier of ${name} with invalid_grant, even when its S256 matches the challenge`, async () => {
        const { challenge } = pkcePair(verifier);
        const code = await authorizationCode(
          t,
          {
            client_id: PUB,
            redirect_uri: 'http://localhost:53101',
            scope: pubScope,
            code_challenge: challenge,
            code_challenge_method: 'S256',
          },
          ALICE,
        );
        const res = await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: PUB,
          code,
          redirect_uri: 'http://localhost:53101',
          code_verifier: verifier,
        });
        assertAadError(res, 400, 'invalid_grant');
      });
    }

    it('accepts verifiers of 43 and 128 characters using every allowed character class', async () => {
      for (const verifier of ['A-._~z09'.repeat(5) + 'abc', 'aZ9-._~'.repeat(18) + 'ab']) {
        assert.ok(verifier.length === 43 || verifier.length === 128);
        const { challenge } = pkcePair(verifier);
        const code = await authorizationCode(
          t,
          {
            client_id: PUB,
            redirect_uri: 'http://localhost:53102',
            scope: pubScope,
            code_challenge: challenge,
            code_challenge_method: 'S256',
          },
          ALICE,
        );
        const res = await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: PUB,
          code,
          redirect_uri: 'http://localhost:53102',
          code_verifier: verifier,
        });
        assert.equal(res.status, 200, res.text);
      }
    });

    it('refuses a wrong verifier with invalid_grant (AADSTS501481)', async () => {
      const { code, redirect } = await publicCode();
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: PUB,
        code,
        redirect_uri: redirect,
        code_verifier: pkcePair().verifier,
      });
      assertAadError(res, 400, 'invalid_grant', 501481);
    });

    it('refuses a code issued with a challenge when no verifier is sent', async () => {
      const { code, redirect } = await publicCode();
      const res = await tokenRequest(t, { grant_type: 'authorization_code', client_id: PUB, code, redirect_uri: redirect });
      assertAadError(res, 400, 'invalid_request', 900144);
    });

    it('refuses code_challenge_method=plain at /authorize, and advertises only S256 in the metadata', async () => {
      const res = await getAuthorize(t, {
        client_id: PUB,
        redirect_uri: 'http://localhost:53103',
        scope: pubScope,
        state: 'st',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'plain',
      });
      assert.equal(res.status, 302);
      assert.equal(new URL(String(res.headers.location)).searchParams.get('error'), 'invalid_request');
      for (const path of [`${TENANT}/v2.0/.well-known/openid-configuration`, `${TENANT}/.well-known/openid-configuration`]) {
        const meta = (await httpsFetch(`${t.authority}/${path}`, { caFile: t.caFile })).json();
        assert.deepEqual(meta.code_challenge_methods_supported, ['S256'], path);
      }
    });
  });

  describe('RFC 9700 §2.1.1 public clients MUST use PKCE; a code for a web redirect URI is redeemed only by an authenticated client', () => {
    it('refuses /authorize without code_challenge for a public-client redirect URI (invalid_request, RFC 7636 §4.4.1)', async () => {
      const res = await getAuthorize(t, { client_id: PUB, redirect_uri: 'http://localhost:53104', scope: pubScope, state: 'st' });
      assert.equal(res.status, 302);
      const location = new URL(String(res.headers.location));
      assert.equal(location.origin, 'http://localhost:53104');
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.equal(location.searchParams.get('state'), 'st');
    });

    it('refuses a fallback public client redeeming a web-redirect code with neither secret nor verifier (AADSTS7000218)', async () => {
      const code = await authorizationCode(
        t,
        { client_id: FALLBACK, redirect_uri: 'https://fallback.example/cb', scope: 'api://fallback/access_as_user openid' },
        ALICE,
      );
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: FALLBACK,
        code,
        redirect_uri: 'https://fallback.example/cb',
      });
      assertAadError(res, 401, 'invalid_client', 7000218);
      assert.match(
        res.json().error_description,
        /The request body must contain the following parameter: 'client_assertion' or 'client_secret'/,
      );
    });

    it('refuses a fallback public client redeeming a web-redirect code with PKCE but no secret (AADSTS7000218)', async () => {
      const { verifier, challenge } = pkcePair();
      const code = await authorizationCode(
        t,
        {
          client_id: FALLBACK,
          redirect_uri: 'https://fallback.example/cb',
          scope: 'api://fallback/access_as_user openid',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        },
        ALICE,
      );
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: FALLBACK,
        code,
        redirect_uri: 'https://fallback.example/cb',
        code_verifier: verifier,
      });
      assertAadError(res, 401, 'invalid_client', 7000218);
    });

    it('refuses a web client redeeming its code without its secret (AADSTS7000218)', async () => {
      const code = await webCode();
      const res = await tokenRequest(t, { grant_type: 'authorization_code', client_id: WEB, code, redirect_uri: WEB_REDIRECT });
      assertAadError(res, 401, 'invalid_client', 7000218);
    });
  });

  describe('RFC 6749 §4.1.2, RFC 9700 §4.2.4: a replayed authorization code is refused and revokes the refresh tokens issued from it (access tokens are stateless JWTs: they stay valid until they expire)', () => {
    it('refuses the replay with AADSTS54005, then the refresh token of the first redemption and its rotated successor are revoked', async () => {
      const { code, verifier, redirect } = await publicCode();
      const first = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: PUB,
        code,
        redirect_uri: redirect,
        code_verifier: verifier,
      });
      assert.equal(first.status, 200, first.text);
      const rt1 = first.json().refresh_token as string;
      assert.ok(rt1);
      const rotated = await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt1, scope: pubScope });
      assert.equal(rotated.status, 200, rotated.text);
      const rt2 = rotated.json().refresh_token as string;

      const replay = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: PUB,
        code,
        redirect_uri: redirect,
        code_verifier: verifier,
      });
      assertAadError(replay, 400, 'invalid_grant', 54005);

      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt2, scope: pubScope }),
        400,
        'invalid_grant',
        50173,
      );
      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt1, scope: pubScope }),
        400,
        'invalid_grant',
        50173,
      );
    });

    it('leaves refresh tokens of other sign-ins of the same user and client alone', async () => {
      const a = await publicCode();
      const b = await publicCode();
      const tokensA = (
        await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: PUB,
          code: a.code,
          redirect_uri: a.redirect,
          code_verifier: a.verifier,
        })
      ).json();
      const tokensB = (
        await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: PUB,
          code: b.code,
          redirect_uri: b.redirect,
          code_verifier: b.verifier,
        })
      ).json();
      assert.ok(tokensA.refresh_token && tokensB.refresh_token);
      assertAadError(
        await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: PUB,
          code: a.code,
          redirect_uri: a.redirect,
          code_verifier: a.verifier,
        }),
        400,
        'invalid_grant',
        54005,
      );
      const stillB = await tokenRequest(t, {
        grant_type: 'refresh_token',
        client_id: PUB,
        refresh_token: tokensB.refresh_token,
        scope: pubScope,
      });
      assert.equal(stillB.status, 200, stillB.text);
    });
  });

  describe('RFC 9700 §4.1.3, RFC 8252 §7.3/§8.4: redirect_uri is matched exactly; only a loopback port may differ', () => {
    for (const [client, uri] of [
      [WEB, 'https://app.example/callback/'],
      [WEB, 'https://APP.example/callback'],
      [WEB, 'https://app.example/Callback'],
      [WEB, 'https://app.example/callback?x=1'],
      [WEB, 'https://app.example/callback#frag'],
      [WEB, 'http://app.example/callback'],
      [WEB, 'https://app.example:8443/callback'],
      [WEB, 'https://app.example.evil.example/callback'],
      [WEB, 'https://evil.example/callback'],
      [PUB, 'http://localhost.evil.com:8080'],
      [PUB, 'http://localhost@evil.example'],
      [PUB, 'http://localhost:1234@evil.example/'],
      [PUB, 'http://127.0.0.1.nip.io/cb'],
      [PUB, 'http://127.0.0.1:5000/cb/x'],
      [PUB, 'http://127.0.0.1:5000/cb/'],
      [PUB, 'http://127.0.0.1:5000/CB'],
      [PUB, 'https://localhost:1234'],
      [PUB, 'http://localhost:1234/?extra=1'],
      [PUB, 'http://[::2]:1234'],
    ] as const) {
      it(`refuses ${uri} for ${client === WEB ? 'the web app' : 'the public app'} with an AADSTS50011 page and no redirect`, async () => {
        const res = await getAuthorize(t, {
          client_id: client,
          redirect_uri: uri,
          scope: 'openid',
          state: 'st',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
        });
        assert.equal(res.status, 400, res.text.slice(0, 300));
        assert.equal(res.headers.location, undefined);
        assert.match(visibleText(res.text), /AADSTS50011/);
      });
    }

    for (const uri of [
      'http://localhost:53999',
      'http://localhost:53999/',
      'http://localhost',
      'http://127.0.0.1:8400/cb',
      'http://127.0.0.1/cb',
    ]) {
      it(`accepts the registered loopback URI with any port: ${uri}`, async () => {
        const res = await getAuthorize(t, {
          client_id: PUB,
          redirect_uri: uri,
          scope: pubScope,
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
        });
        assert.equal(res.status, 200, visibleText(res.text));
        assert.match(res.text, /name="password"/);
      });
    }
  });

  describe('RFC 6749 §4.1.2.1, RFC 9700 §4.11.2: /authorize errors never redirect to an unregistered redirect_uri', () => {
    const cases: [string, Record<string, string>][] = [
      [
        'an unknown client_id',
        { client_id: '44444444-0000-4000-8000-0000000000ff', redirect_uri: 'https://evil.example/cb', scope: 'openid' },
      ],
      ['a missing client_id', { redirect_uri: 'https://evil.example/cb', scope: 'openid' }],
      [
        'a bad response_type with an unregistered redirect_uri',
        { client_id: WEB, redirect_uri: 'https://evil.example/cb', scope: 'openid', response_type: 'token' },
      ],
      [
        'prompt=none with an unregistered redirect_uri',
        { client_id: WEB, redirect_uri: 'https://evil.example/cb', scope: 'openid', prompt: 'none' },
      ],
      ['a missing scope with an unregistered redirect_uri', { client_id: WEB, redirect_uri: 'https://evil.example/cb' }],
      ['a duplicated client_id', { client_id: WEB, redirect_uri: 'https://evil.example/cb', scope: 'openid' }],
    ];
    for (const [name, query] of cases) {
      it(`shows an error page for ${name}, with no Location`, async () => {
        let url = `${t.authority}/${TENANT}/oauth2/v2.0/authorize?${new URLSearchParams({ response_type: 'code', ...query })}`;
        if (name.includes('duplicated')) url += `&client_id=${PUB}`;
        const res = await httpsFetch(url, { caFile: t.caFile });
        assert.equal(res.status, 400, res.text.slice(0, 300));
        assert.equal(res.headers.location, undefined);
        assert.match(visibleText(res.text), /AADSTS\d+/);
      });
    }

    it('sends an error about a valid request to the registered redirect_uri, with state', async () => {
      const res = await getAuthorize(t, {
        client_id: WEB,
        redirect_uri: WEB_REDIRECT,
        scope: 'openid',
        state: 'st-9',
        response_type: 'token',
      });
      assert.equal(res.status, 302);
      const location = new URL(String(res.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, WEB_REDIRECT);
      assert.equal(location.searchParams.get('error'), 'unsupported_response_type');
      assert.equal(location.searchParams.get('state'), 'st-9');
    });
  });

  describe('RFC 6749 §4.1.3: a code is bound to its client and its redirect_uri', () => {
    it('refuses a code redeemed by another (authenticated) client with invalid_grant', async () => {
      const code = await webCode();
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: OTHER,
        client_secret: OTHER_SECRET,
        code,
        redirect_uri: WEB_REDIRECT,
      });
      assertAadError(res, 400, 'invalid_grant');
    });

    it('refuses a code redeemed with another redirect_uri, even one registered for the same client (AADSTS50011)', async () => {
      const code = await webCode();
      const res = await tokenRequest(t, {
        grant_type: 'authorization_code',
        client_id: WEB,
        client_secret: WEB_SECRET,
        code,
        redirect_uri: 'https://app.example/signed-out',
      });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error_codes[0], 50011);
      assert.equal(res.json().access_token, undefined);
    });

    it('refuses a code redeemed at another tenant', async () => {
      const code = await webCode();
      const res = await tokenRequest(
        { ...t, tenant: k.endpoints.tenantId },
        { grant_type: 'authorization_code', client_id: WEB, client_secret: WEB_SECRET, code, redirect_uri: WEB_REDIRECT },
      );
      assert.equal(res.status >= 400 && res.status < 500, true, res.text);
      assert.equal(res.json().access_token, undefined);
    });
  });

  describe('RFC 6749 §6, RFC 9700 §4.14.2: refresh tokens are bound to their client and rotate', () => {
    it('refuses a refresh token of one client presented by another, even an authenticated one', async () => {
      const code = await webCode();
      const rt = (
        await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: WEB,
          client_secret: WEB_SECRET,
          code,
          redirect_uri: WEB_REDIRECT,
        })
      ).json().refresh_token as string;
      assert.ok(rt);
      assertAadError(
        await tokenRequest(t, {
          grant_type: 'refresh_token',
          client_id: OTHER,
          client_secret: OTHER_SECRET,
          refresh_token: rt,
          scope: 'api://other/access_as_user',
        }),
        400,
        'invalid_grant',
      );
      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt, scope: pubScope }),
        400,
        'invalid_grant',
      );
    });

    it("refuses a confidential client's refresh token without its secret", async () => {
      const code = await webCode();
      const rt = (
        await tokenRequest(t, {
          grant_type: 'authorization_code',
          client_id: WEB,
          client_secret: WEB_SECRET,
          code,
          redirect_uri: WEB_REDIRECT,
        })
      ).json().refresh_token as string;
      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: WEB, refresh_token: rt, scope: webScope }),
        401,
        'invalid_client',
        7000218,
      );
    });

    // What Kentra does (Entra itself does not revoke a used refresh token, reference §6 #12): each refresh
    // rotates the token; a rotated token presented again within 10 s counts as a concurrent refresh by the
    // same client and is answered; presented later, it revokes the whole family (the later tokens too).
    it('rotates on every refresh; a rotated token replayed after the 10 s concurrency window revokes the whole family', async () => {
      const { code, verifier, redirect } = await publicCode();
      const rt1 = (
        await tokenRequest(t, { grant_type: 'authorization_code', client_id: PUB, code, redirect_uri: redirect, code_verifier: verifier })
      ).json().refresh_token as string;
      const second = await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt1, scope: pubScope });
      assert.equal(second.status, 200, second.text);
      const rt2 = second.json().refresh_token as string;
      assert.notEqual(rt2, rt1);
      const concurrent = await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt1, scope: pubScope });
      assert.equal(concurrent.status, 200, 'within 10 s a rotated token is a concurrent refresh, not theft');
      k.clock.advance(10_500);
      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt1, scope: pubScope }),
        400,
        'invalid_grant',
        50173,
      );
      assertAadError(
        await tokenRequest(t, { grant_type: 'refresh_token', client_id: PUB, refresh_token: rt2, scope: pubScope }),
        400,
        'invalid_grant',
        50173,
      );
    });
  });

  describe('RFC 9207 §3: Kentra does not advertise authorization_response_iss_parameter_supported (as Entra does not)', () => {
    it('leaves the claim out of both metadata documents', async () => {
      for (const path of [
        `${TENANT}/v2.0/.well-known/openid-configuration`,
        `${TENANT}/.well-known/openid-configuration`,
        'organizations/v2.0/.well-known/openid-configuration',
      ]) {
        const meta = (await httpsFetch(`${t.authority}/${path}`, { caFile: t.caFile })).json();
        assert.ok(meta.authorization_endpoint, path);
        assert.notEqual(meta.authorization_response_iss_parameter_supported, true, path);
      }
    });
  });

  describe('OpenID RP-Initiated Logout §3, RFC 9700 §4.11: the logout endpoint is not an open redirector', () => {
    const logout = (query: Record<string, string>, version = 'oauth2/v2.0') =>
      httpsFetch(`${t.authority}/${TENANT}/${version}/logout?${new URLSearchParams(query)}`, { caFile: t.caFile });

    for (const [name, query] of [
      ['without client_id or id_token_hint', { post_logout_redirect_uri: 'https://evil.example/' }],
      ['with a client_id that did not register it', { post_logout_redirect_uri: 'https://evil.example/', client_id: WEB }],
      ['with a prefix of a registered URI', { post_logout_redirect_uri: 'https://app.example/', client_id: WEB }],
      ['registered by another client than the one named', { post_logout_redirect_uri: 'https://other.example/cb', client_id: WEB }],
      ['with a javascript: URI', { post_logout_redirect_uri: 'javascript:alert(1)', client_id: SCHEMES }],
      [
        'with an unknown client_id',
        { post_logout_redirect_uri: 'https://evil.example/', client_id: '44444444-0000-4000-8000-0000000000ff' },
      ],
      [
        'with a forged id_token_hint',
        { post_logout_redirect_uri: 'https://evil.example/', id_token_hint: 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.' },
      ],
    ] as const) {
      it(`shows the signed-out page (200, no Location) for a post_logout_redirect_uri ${name}`, async () => {
        for (const version of ['oauth2/v2.0', 'oauth2']) {
          const res = await logout(query, version);
          assert.equal(res.status, 200, `${version}: ${res.text.slice(0, 300)}`);
          assert.equal(res.headers.location, undefined, version);
          assert.match(visibleText(res.text), /signed out/i);
        }
      });
    }

    it('redirects to a URI registered for the client_id, carrying state back', async () => {
      const res = await logout({ post_logout_redirect_uri: 'https://app.example/signed-out', client_id: WEB, state: 'bye-1' });
      assert.equal(res.status, 302);
      const location = new URL(String(res.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, 'https://app.example/signed-out');
      assert.equal(location.searchParams.get('state'), 'bye-1');
    });

    it("redirects to a URI registered for the id_token_hint's audience", async () => {
      const { code, verifier, redirect } = await publicCode();
      const idToken = (
        await tokenRequest(t, { grant_type: 'authorization_code', client_id: PUB, code, redirect_uri: redirect, code_verifier: verifier })
      ).json().id_token as string;
      const res = await logout({ post_logout_redirect_uri: 'http://127.0.0.1/cb', id_token_hint: idToken });
      assert.equal(res.status, 302, res.text.slice(0, 300));
      assert.equal(String(res.headers.location), 'http://127.0.0.1/cb');
      const mismatch = await logout({ post_logout_redirect_uri: 'http://127.0.0.1/cb', id_token_hint: idToken, client_id: WEB });
      assert.equal(mismatch.headers.location, undefined, 'an id_token_hint for another client than client_id is not proof');
    });

    it('answers a CR/LF in post_logout_redirect_uri with a page, never a 5xx or an injected header', async () => {
      for (const uri of ['https://app.example/signed-out\r\nSet-Cookie: injected=1', 'https://evil.example/\r\nX-Injected: 1', '\r\n']) {
        for (const extra of [{}, { client_id: WEB }] as Record<string, string>[]) {
          const res = await logout({ post_logout_redirect_uri: uri, ...extra });
          assert.ok(res.status === 200 || res.status === 400, `${JSON.stringify(uri)}: ${res.status} ${res.text.slice(0, 200)}`);
          assert.equal(res.headers.location, undefined);
          assert.equal(res.headers['set-cookie'], undefined);
          assert.equal(res.headers['x-injected'], undefined);
          assert.match(res.headers['content-type'] as string, /^text\/html/);
        }
      }
    });

    it('accepts the same request as a POST', async () => {
      const res = await postForm(
        `${t.authority}/${TENANT}/oauth2/v2.0/logout`,
        { post_logout_redirect_uri: 'https://evil.example/' },
        t.caFile,
      );
      assert.equal(res.status, 200);
      assert.equal(res.headers.location, undefined);
    });
  });

  describe('RFC 6749 §3.1.2, RFC 9700 §4.1: Kentra only redirects or posts to http(s) URIs (javascript:, data:, vbscript:, file: refused at /authorize)', () => {
    for (const uri of [
      'javascript:alert(document.domain)//',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
    ]) {
      for (const mode of ['form_post', 'query', 'fragment']) {
        it(`refuses the registered ${uri.split(':')[0]}: redirect URI with response_mode=${mode}: AADSTS50011 page, no Location, no form`, async () => {
          const res = await getAuthorize(t, {
            client_id: SCHEMES,
            redirect_uri: uri,
            scope: 'openid',
            response_mode: mode,
            code_challenge: pkcePair().challenge,
            code_challenge_method: 'S256',
          });
          assert.equal(res.status, 400, res.text.slice(0, 300));
          assert.equal(res.headers.location, undefined);
          assert.match(visibleText(res.text), /AADSTS50011/);
          assert.doesNotMatch(res.text, /<form/);
        });
      }
      it(`refuses the ${uri.split(':')[0]}: URI with an invalid response_type too (the error is a page, not a redirect)`, async () => {
        const res = await getAuthorize(t, { client_id: SCHEMES, redirect_uri: uri, scope: 'openid', response_type: 'token' });
        assert.equal(res.status, 400);
        assert.equal(res.headers.location, undefined);
      });
    }

    it("serves the form_post page with form-action limited to the redirect URI's origin", async () => {
      const res = await signIn(
        t,
        { client_id: WEB, redirect_uri: WEB_REDIRECT, scope: webScope, response_mode: 'form_post', state: 'fp' },
        ALICE,
      );
      assert.equal(res.status, 200, res.text.slice(0, 300));
      assert.match(res.text, /<form method="post" action="https:\/\/app\.example\/callback">/);
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /(^|;)\s*form-action https:\/\/app\.example(;|$)/, csp);
      assert.doesNotMatch(csp, /form-action[^;]*\*/, csp);
      assert.match(csp, /frame-ancestors 'none'/, csp);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    });
  });
});
