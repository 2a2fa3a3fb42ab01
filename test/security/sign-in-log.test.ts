import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Attacks on Graph `auditLogs/signIns` (reference/security.md §8.2, checklist item 12): who may read
// the sign-in log, what a token for another resource gets, hostile and malformed `$filter`, `$top` and
// `$skiptoken`, and tenant isolation. Every refusal is in Graph's `{"error":{"code","message"}}` shape.

const A = '52525252-0000-4000-8000-00000000000a';
const B = '52525252-0000-4000-8000-00000000000b';
const READER = { app: '52525252-0000-4000-8000-0000000000a1', secret: 'reader-a-secret-0123456789' };
const READER_B = { app: '52525252-0000-4000-8000-0000000000b1', secret: 'reader-b-secret-0123456789' };
const CLI = '52525252-0000-4000-8000-0000000000a2';
const NO_PERMISSION = { app: '52525252-0000-4000-8000-0000000000a3', secret: 'no-permission-secret-0123456789' };
const MEMBER = { username: 'member@loga.onmicrosoft.com', password: 'Member-Passw0rd!' };
const REPORTS = { username: 'reports@loga.onmicrosoft.com', password: 'Reports-Passw0rd!' };
const VICTIM_B = { id: '52525252-0000-4000-8000-0000000000bb', username: 'victim@logb.onmicrosoft.com', password: 'Victim-Passw0rd!' };
const GRAPH = 'https://graph.microsoft.com';

const seed = `
tenants:
  - id: ${A}
    domain: loga.onmicrosoft.com
    users:
      - { userPrincipalName: ${MEMBER.username}, password: '${MEMBER.password}' }
      - { userPrincipalName: ${REPORTS.username}, password: '${REPORTS.password}', directoryRoles: [Reports Reader] }
    applications:
      - { displayName: reader-a, appId: ${READER.app}, secrets: ['${READER.secret}'], graphPermissions: { application: [AuditLog.Read.All] }, adminConsent: true }
      - { displayName: no-permission, appId: ${NO_PERMISSION.app}, secrets: ['${NO_PERMISSION.secret}'], graphPermissions: { application: [User.Read.All] }, adminConsent: true }
      - displayName: log-cli-a
        appId: ${CLI}
        isFallbackPublicClient: true
        graphPermissions: { delegated: [User.Read, AuditLog.Read.All] }
        adminConsent: true
  - id: ${B}
    domain: logb.onmicrosoft.com
    users:
      - { userPrincipalName: ${VICTIM_B.username}, id: ${VICTIM_B.id}, password: '${VICTIM_B.password}' }
    applications:
      - { displayName: reader-b, appId: ${READER_B.app}, secrets: ['${READER_B.secret}'], graphPermissions: { application: [AuditLog.Read.All] }, adminConsent: true }
`;

describe('security: Graph auditLogs/signIns', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let readerA: string;
  let readerB: string;
  const tokenFor = async (tenant: string, fields: Record<string, string>): Promise<HttpResponse> =>
    postForm(`${k.endpoints.authority}/${tenant}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
  const appToken = async (tenant: string, r: { app: string; secret: string }, scope = `${GRAPH}/.default`) => {
    const res = await tokenFor(tenant, { grant_type: 'client_credentials', client_id: r.app, client_secret: r.secret, scope });
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const userToken = async (u: { username: string; password: string }, scope: string) => {
    const res = await tokenFor(A, { grant_type: 'password', client_id: CLI, username: u.username, password: u.password, scope });
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const get = (token: string, query: string) =>
    httpsFetch(`${k.endpoints.authority}/v1.0/auditLogs/signIns${query}`, {
      caFile: k.endpoints.caFile,
      headers: { authorization: `Bearer ${token}` },
    });
  const graphError = (res: HttpResponse, status: number, code: string | RegExp) => {
    assert.equal(res.status, status, res.text);
    const body = res.json();
    assert.ok(body.error && typeof body.error.message === 'string', `Graph error shape: ${res.text}`);
    if (typeof code === 'string') assert.equal(body.error.code, code);
    else assert.match(body.error.code, code);
    return body.error as { code: string; message: string };
  };

  before(async () => {
    k = await startTestKentra({ seed });
    readerA = await appToken(A, READER);
    readerB = await appToken(B, READER_B);
  });
  after(async () => k?.close());

  it('a plain member is refused 403, even holding the AuditLog.Read.All scope; a Reports Reader with it reads', async () => {
    graphError(await get(await userToken(MEMBER, `${GRAPH}/User.Read`), ''), 403, 'Authorization_RequestDenied');
    graphError(await get(await userToken(MEMBER, `${GRAPH}/AuditLog.Read.All`), ''), 403, 'Authorization_RequestDenied');
    graphError(await get(await userToken(REPORTS, `${GRAPH}/User.Read`), ''), 403, 'Authorization_RequestDenied');
    const ok = await get(await userToken(REPORTS, `${GRAPH}/AuditLog.Read.All`), '');
    assert.equal(ok.status, 200, ok.text);
    assert.ok(Array.isArray(ok.json().value));
  });

  it('an application holding other Graph permissions but not AuditLog.Read.All is refused 403', async () => {
    graphError(await get(await appToken(A, NO_PERMISSION), ''), 403, 'Authorization_RequestDenied');
  });

  it('a token for another resource (ARM) is refused 401, and so is none or a forged one', async () => {
    const arm = await appToken(A, READER, 'https://management.azure.com/.default');
    graphError(await get(arm, ''), 401, 'InvalidAuthenticationToken');
    graphError(
      await httpsFetch(`${k.endpoints.authority}/v1.0/auditLogs/signIns`, { caFile: k.endpoints.caFile }),
      401,
      'InvalidAuthenticationToken',
    );
    const [h, p] = readerA.split('.');
    graphError(await get(`${h}.${p}.${Buffer.from('forged').toString('base64url')}`, ''), 401, 'InvalidAuthenticationToken');
  });

  it("hostile or malformed $filter gets 400 in Graph's shape and changes nothing", async () => {
    const before = (await get(readerA, `?$filter=${encodeURIComponent("signInEventTypes/any(t: t eq 'servicePrincipal')")}`)).json().value
      .length;
    const filters = [
      "userId eq '1' or 1 eq 1",
      "appId eq 'x'' or ''1''=''1'",
      "userPrincipalName eq 'a' or userPrincipalName ne 'a'",
      "createdDateTime ge 2024-01-01'; DROP TABLE sign_ins;--",
      'createdDateTime ge 2024-13-45T99:00:00Z',
      'userId eq',
      "userId eq 'unterminated",
      "startsWith(appDisplayName,'x')",
      "tenantId eq '" + B + "'",
      'status/errorCode eq 1 or status/errorCode ne 1',
      '',
      `userId eq '${'a'.repeat(5000)}'`,
      "signInEventTypes/any(t: t eq 'everything')",
    ];
    for (const f of filters) {
      const err = graphError(await get(readerA, `?$filter=${encodeURIComponent(f)}`), 400, /^Request_(UnsupportedQuery|BadRequest)$/);
      assert.ok(!/sqlite|syntax error|postgres|stack/i.test(err.message), `no internals in: ${err.message}`);
    }
    const dup = await get(readerA, `?$filter=${encodeURIComponent("userId eq 'a'")}&$filter=x`);
    graphError(dup, 400, 'Request_BadRequest');
    const afterward = (await get(readerA, `?$filter=${encodeURIComponent("signInEventTypes/any(t: t eq 'servicePrincipal')")}`)).json()
      .value.length;
    assert.ok(afterward >= before, 'the log is intact');
  });

  it('$top out of range, $skiptoken forged and unknown query options get 400', async () => {
    for (const top of ['0', '1001', '-1', 'abc', '1e3', '99999999999']) {
      const err = graphError(await get(readerA, `?$top=${encodeURIComponent(top)}`), 400, 'Request_BadRequest');
      assert.match(err.message, /page size/i);
    }
    graphError(await get(readerA, '?$skiptoken=not-a-real-token'), 400, 'Request_BadRequest');
    graphError(await get(readerA, `?$skiptoken=${Buffer.from("1' OR '1'='1").toString('base64url')}`), 400, 'Request_BadRequest');
    graphError(await get(readerA, '?$orderby=createdDateTime'), 400, 'Request_BadRequest');
    assert.equal((await get(readerA, '?$top=1000')).status, 200);
  });

  it("another tenant's sign-ins are never visible, not by filter, not by id", async () => {
    const failed = await tokenFor(B, {
      grant_type: 'password',
      client_id: READER_B.app,
      client_secret: READER_B.secret,
      username: VICTIM_B.username,
      password: 'Not-Her-Passw0rd!',
      scope: `${GRAPH}/User.Read`,
    });
    assert.equal(failed.status, 400);
    let rowInB: Record<string, any> | undefined;
    for (let i = 0; i < 100 && !rowInB; i++) {
      rowInB = (await get(readerB, `?$filter=${encodeURIComponent(`userId eq '${VICTIM_B.id}'`)}`)).json().value[0];
      if (!rowInB) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(rowInB, "tenant B's reader sees its own failed sign-in");
    assert.equal(rowInB.status.errorCode, 50126);
    assert.deepEqual((await get(readerA, `?$filter=${encodeURIComponent(`userId eq '${VICTIM_B.id}'`)}`)).json().value, []);
    assert.deepEqual(
      (await get(readerA, `?$filter=${encodeURIComponent(`userPrincipalName eq '${VICTIM_B.username}'`)}`)).json().value,
      [],
    );
    const all = (
      await get(
        readerA,
        `?$filter=${encodeURIComponent("signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser' or t eq 'servicePrincipal')")}`,
      )
    ).json().value as Record<string, any>[];
    assert.ok(
      all.length > 0 && all.every((r) => r.userPrincipalName === null || String(r.userPrincipalName).endsWith('@loga.onmicrosoft.com')),
    );
    assert.ok(!all.some((r) => r.id === rowInB!.id));
    graphError(
      await httpsFetch(`${k.endpoints.authority}/v1.0/auditLogs/signIns/${rowInB.id}`, {
        caFile: k.endpoints.caFile,
        headers: { authorization: `Bearer ${readerA}` },
      }),
      404,
      'Request_ResourceNotFound',
    );
    const own = await httpsFetch(`${k.endpoints.authority}/v1.0/auditLogs/signIns/${rowInB.id}`, {
      caFile: k.endpoints.caFile,
      headers: { authorization: `Bearer ${readerB}` },
    });
    assert.equal(own.status, 200, own.text);
  });
});
