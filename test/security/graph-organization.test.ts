import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { httpsFetch, postForm, type HttpResponse } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';

// Graph GET /v1.0/organization (added for the portal's overview): any member of the tenant reads its
// own tenant only; forged, misdirected and missing tokens get Graph's 401; it cannot be written.

const TENANT = '78787878-7878-4878-8878-787878787878';
const DOMAIN = 'org.onmicrosoft.com';
const SEED = `
tenants:
  - domain: ${DOMAIN}
    id: ${TENANT}
    users:
      - { userPrincipalName: member@${DOMAIN}, password: 'Member-Passw0rd!' }
  - domain: elsewhere.onmicrosoft.com
    users:
      - { userPrincipalName: someone@elsewhere.onmicrosoft.com, password: 'Someone-Passw0rd!' }
`;

describe('Graph organization (security suite)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let member: string;
  const token = async (scope: string) => {
    const res = await postForm(
      `${k.endpoints.authority}/${TENANT}/oauth2/v2.0/token`,
      {
        client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46',
        grant_type: 'password',
        username: `member@${DOMAIN}`,
        password: 'Member-Passw0rd!',
        scope,
      },
      k.endpoints.caFile,
    );
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const organization = (bearer: string | undefined, method = 'GET'): Promise<HttpResponse> =>
    httpsFetch(`${k.endpoints.authority}/v1.0/organization`, {
      method,
      caFile: k.endpoints.caFile,
      ...(method === 'GET' ? {} : { body: '{"displayName":"x"}' }),
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
      },
    });
  const unauthenticated = (res: HttpResponse) => {
    assert.equal(res.status, 401, res.text);
    assert.equal(res.json().error.code, 'InvalidAuthenticationToken');
  };

  before(async () => {
    k = await startTestKentra({ seed: SEED });
    member = await token('https://graph.microsoft.com/.default');
  });
  after(async () => k?.close());

  it('a member reads its own tenant and only its domains', async () => {
    const res = await organization(member);
    assert.equal(res.status, 200, res.text);
    const [org, ...rest] = res.json().value;
    assert.equal(rest.length, 0);
    assert.equal(org.id, TENANT);
    assert.deepEqual(
      org.verifiedDomains.map((d: { name: string }) => d.name),
      [DOMAIN],
    );
  });

  it('no token, a re-signed token and a token for ARM are refused with 401 InvalidAuthenticationToken', async () => {
    unauthenticated(await organization(undefined));
    const [h, p] = member.split('.');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), privateKey).toString('base64url')}`;
    unauthenticated(await organization(forged));
    unauthenticated(await organization(await token('https://management.azure.com/.default')));
  });

  it('cannot be written: a PATCH or POST is a 4xx in Graph shape and changes nothing', async () => {
    for (const method of ['PATCH', 'POST']) {
      const res = await organization(member, method);
      assert.ok(res.status >= 400 && res.status < 500, `${method}: ${res.status} ${res.text}`);
      assert.ok(res.json().error?.code, 'Graph error shape');
    }
    assert.deepEqual((await organization(member)).json().value[0].verifiedDomains.length, 1);
  });
});
