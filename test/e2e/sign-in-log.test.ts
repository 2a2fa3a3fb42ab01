import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runClient } from '../support/clients.js';
import { hiddenField, httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// The sign-in log as Entra has it (reference/security.md §8): every token-endpoint outcome and every
// password check on a sign-in page is recorded, and read through Graph `auditLogs/signIns` with a token
// that the real msal-node got for an application granted AuditLog.Read.All (admin consent in the seed).

const TENANT = '51515151-0000-4000-8000-000000000001';
const DOMAIN = 'signinlog.onmicrosoft.com';
const READER_APP = '51515151-0000-4000-8000-0000000000a1';
const READER_SECRET = 'log-reader-secret-0123456789';
const CLI_APP = '51515151-0000-4000-8000-0000000000b1';
const CAROL = { id: '51515151-0000-4000-8000-0000000000c1', username: `carol@${DOMAIN}`, password: 'Carol-Passw0rd!' };
const WRONG_PASSWORD = 'Wrong-Passw0rd-7f3a9c';
const PAGE_WRONG_PASSWORD = 'Page-Wrong-Passw0rd-41d2';
const GRAPH = 'https://graph.microsoft.com';

const seed = `
tenants:
  - id: ${TENANT}
    domain: ${DOMAIN}
    users:
      - { userPrincipalName: ${CAROL.username}, id: ${CAROL.id}, password: '${CAROL.password}', displayName: Carol }
    applications:
      - displayName: log-reader
        appId: ${READER_APP}
        secrets: ['${READER_SECRET}']
        graphPermissions: { application: [AuditLog.Read.All] }
        adminConsent: true
      - displayName: log-cli
        appId: ${CLI_APP}
        isFallbackPublicClient: true
        publicClient: { redirectUris: ['http://localhost'] }
        graphPermissions: { delegated: [User.Read] }
        adminConsent: true
`;

describe('sign-in log through Graph (msal-node)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let token: string;
  const graph = (path: string) =>
    httpsFetch(`${k.endpoints.authority}/v1.0${path}`, { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${token}` } });
  const signIns = (filter: string, extra = '') => graph(`/auditLogs/signIns?$filter=${encodeURIComponent(filter)}${extra}`);
  /** The log is written after the response, in batches: read until the entry is there (bounded). */
  const eventually = async (filter: string, count = 1) => {
    for (let i = 0; i < 100; i++) {
      const res = await signIns(filter);
      assert.equal(res.status, 200, res.text);
      const rows = res.json().value as Record<string, any>[];
      if (rows.length >= count) return rows;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no sign-in matched ${filter} within 10 s`);
  };

  before(async () => {
    k = await startTestKentra({ seed });
    const r = await runClient(
      {
        lib: 'msal',
        flow: 'client-secret',
        authority: k.endpoints.authority,
        tenantId: TENANT,
        clientId: READER_APP,
        secret: READER_SECRET,
        scopes: [`${GRAPH}/.default`],
      },
      { caFile: k.endpoints.caFile },
    );
    assert.ok(r.ok, r.error);
    token = r.result.accessToken;
  });
  after(async () => k?.close());

  it('a wrong password through msal-node (ROPC) appears with errorCode 50126, the user, the app and the resource', async () => {
    const failed = await runClient(
      {
        lib: 'msal',
        flow: 'username-password',
        authority: k.endpoints.authority,
        tenantId: TENANT,
        clientId: CLI_APP,
        scopes: ['User.Read'],
        username: CAROL.username,
        password: WRONG_PASSWORD,
      },
      { caFile: k.endpoints.caFile },
    );
    assert.equal(failed.ok, false, 'msal-node refused the wrong password');
    assert.match(String(failed.error), /AADSTS50126/);
    const ok = await runClient(
      {
        lib: 'msal',
        flow: 'username-password',
        authority: k.endpoints.authority,
        tenantId: TENANT,
        clientId: CLI_APP,
        scopes: ['User.Read'],
        username: CAROL.username,
        password: CAROL.password,
      },
      { caFile: k.endpoints.caFile },
    );
    assert.ok(ok.ok, ok.error);

    const [row] = await eventually(`userId eq '${CAROL.id}' and status/errorCode eq 50126`);
    assert.equal(row!.status.errorCode, 50126);
    assert.match(row!.status.failureReason, /invalid username or password/i);
    assert.ok(row!.status.additionalDetails);
    assert.equal(row!.userPrincipalName, CAROL.username);
    assert.equal(row!.userDisplayName, 'Carol');
    assert.equal(row!.appId, CLI_APP);
    assert.equal(row!.appDisplayName, 'log-cli');
    assert.equal(row!.resourceDisplayName, 'Microsoft Graph');
    assert.equal(row!.resourceId, '00000003-0000-0000-c000-000000000000');
    assert.equal(row!.isInteractive, true);
    assert.equal(row!.ipAddress, '127.0.0.1');
    assert.equal(row!.conditionalAccessStatus, 'notApplied');
    assert.match(row!.createdDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const [success] = await eventually(
      `userPrincipalName eq '${CAROL.username.toUpperCase()}' and status/errorCode eq 0 and appId eq '${CLI_APP}'`,
    );
    assert.deepEqual(success!.status, { errorCode: 0, failureReason: null, additionalDetails: null });
    assert.equal(success!.userId, CAROL.id);

    const one = await graph(`/auditLogs/signIns/${row!.id}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json().status.errorCode, 50126);
  });

  it('a wrong password on the sign-in page appears as an interactive Browser sign-in with 50126', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url =
      `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/authorize?` +
      new URLSearchParams({
        client_id: CLI_APP,
        response_type: 'code',
        redirect_uri: 'http://localhost',
        scope: 'User.Read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's1',
      });
    const page = await httpsFetch(url, { caFile: k.endpoints.caFile });
    assert.equal(page.status, 200);
    const state = hiddenField(page.text, 'state')!;
    const posted = await postForm(
      url.split('?')[0]!,
      { state, username: CAROL.username, password: PAGE_WRONG_PASSWORD },
      k.endpoints.caFile,
    );
    assert.equal(posted.status, 400);
    const [row] = await eventually(`userId eq '${CAROL.id}' and status/errorCode eq 50126 and appId eq '${CLI_APP}'`, 2);
    const browser = (await eventually(`userId eq '${CAROL.id}' and status/errorCode eq 50126`, 2)).find(
      (r) => r.clientAppUsed === 'Browser',
    );
    assert.ok(row && browser, 'the page sign-in is in the log');
    assert.equal(browser!.isInteractive, true);
    assert.equal(browser!.appId, CLI_APP);
  });

  it('pages with $top and @odata.nextLink, newest first, and filters on createdDateTime', async () => {
    const first = await signIns(`userId eq '${CAROL.id}'`, '&$top=1');
    assert.equal(first.status, 200, first.text);
    const body = first.json();
    assert.equal(body.value.length, 1);
    assert.match(body['@odata.nextLink'], /\$skiptoken=/);
    const next = await httpsFetch(body['@odata.nextLink'], { caFile: k.endpoints.caFile, headers: { authorization: `Bearer ${token}` } });
    assert.equal(next.status, 200, next.text);
    const second = next.json().value[0];
    assert.notEqual(second.id, body.value[0].id);
    assert.ok(second.createdDateTime <= body.value[0].createdDateTime, 'newest first');

    const future = await signIns(`createdDateTime ge 2999-01-01T00:00:00Z`);
    assert.deepEqual(future.json().value, []);
    const window = await signIns(
      `createdDateTime ge 2020-01-01T00:00:00Z and createdDateTime le 2999-01-01T00:00:00Z and userId eq '${CAROL.id}'`,
    );
    assert.ok(window.json().value.length >= 3);
  });

  it('records the application sign-ins (client credentials) as servicePrincipal sign-ins, apart from user sign-ins', async () => {
    const rows = await eventually(`signInEventTypes/any(t: t eq 'servicePrincipal') and appId eq '${READER_APP}'`);
    assert.equal(rows[0]!.servicePrincipalName, 'log-reader');
    assert.ok(rows[0]!.servicePrincipalId);
    assert.equal(rows[0]!.userId, '');
    assert.equal(rows[0]!.isInteractive, false);
    assert.equal(rows[0]!.resourceDisplayName, 'Microsoft Graph');
    const users = (await signIns(`appId eq '${READER_APP}'`)).json().value;
    assert.deepEqual(users, [], 'the default view holds interactive user sign-ins only, as Graph v1.0');
  });

  it('holds no password, secret or token: neither in the stored rows nor in the Graph answers', async () => {
    const answers = (
      await graph(
        `/auditLogs/signIns?$filter=${encodeURIComponent("signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser' or t eq 'servicePrincipal')")}`,
      )
    ).text;
    const db = new Database(join(k.dataDir, 'kentra.db'), { readonly: true, fileMustExist: true });
    let rows: string;
    try {
      rows = JSON.stringify(db.prepare('SELECT * FROM sign_ins').all());
    } finally {
      db.close();
    }
    assert.ok(rows.includes(CAROL.id), 'the rows are there');
    for (const secret of [CAROL.password, WRONG_PASSWORD, PAGE_WRONG_PASSWORD, READER_SECRET, token, token.split('.')[2]!]) {
      assert.ok(!rows.includes(secret), 'a stored row holds a credential');
      assert.ok(!answers.includes(secret), 'a Graph answer holds a credential');
    }
  });
});
