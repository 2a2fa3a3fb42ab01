import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AadError } from '../errors.js';
import { firstPartyResource, isReservedIdentifierUri } from '../directory/first-party.js';
import { Params } from './params.js';
import { parseScope } from './scopes.js';

describe('parseScope', () => {
  it("keeps the Azure CLI's double slash: the resource is the v1 URI with its trailing slash", () => {
    const s = parseScope('https://management.core.windows.net//.default offline_access openid profile');
    assert.equal(s.resourceId, 'https://management.core.windows.net/');
    assert.deepEqual(s.values, ['.default']);
    assert.deepEqual([...s.oidc].sort(), ['offline_access', 'openid', 'profile']);
  });

  it('takes a GUID resource (the AKS server app) and an api:// scope', () => {
    assert.equal(parseScope('6dae42f8-4368-4678-94ff-3960e28e3630/.default').resourceId, '6dae42f8-4368-4678-94ff-3960e28e3630');
    const api = parseScope('api://contoso-api/access_as_user openid');
    assert.equal(api.resourceId, 'api://contoso-api');
    assert.deepEqual(api.values, ['access_as_user']);
  });

  it('reads bare names as Microsoft Graph permissions', () => {
    const s = parseScope('User.Read openid');
    assert.equal(s.resourceId, '00000003-0000-0000-c000-000000000000');
    assert.deepEqual(s.values, ['User.Read']);
  });

  it('refuses scopes for two resources with AADSTS700022', () => {
    assert.throws(
      () => parseScope('https://management.azure.com/.default api://other/.default'),
      (e: unknown) => e instanceof AadError && e.aadsts === 700022 && e.error === 'invalid_scope',
    );
  });

  it('accepts only OIDC scopes (no resource yet)', () => {
    const s = parseScope('openid profile');
    assert.equal(s.resourceId, null);
    assert.deepEqual(s.values, []);
  });
});

describe('Params', () => {
  it('refuses a duplicated parameter, as Entra does', () => {
    assert.throws(
      () => Params.fromBody('grant_type=password&grant_type=client_credentials'),
      (e: unknown) => e instanceof AadError && e.aadsts === 9002313 && /grant_type/.test(e.message),
    );
  });

  it('names a missing parameter with AADSTS900144', () => {
    const p = Params.fromBody('client_id=abc&scope=');
    assert.equal(p.get('client_id'), 'abc');
    assert.throws(
      () => p.require('scope'),
      (e: unknown) => e instanceof AadError && e.aadsts === 900144 && /'scope'/.test(e.message),
    );
  });

  it('refuses a body that is not a form', () => {
    assert.throws(
      () => Params.fromBody({ grant_type: 'x' }),
      (e: unknown) => e instanceof AadError && e.error === 'invalid_request',
    );
  });
});

describe('first-party resources (reference/security.md §1.7, §1.8)', () => {
  it('names a first-party resource by appId or identifier URI in any case, with or without a trailing slash', () => {
    for (const id of [
      'https://graph.microsoft.com',
      'https://graph.microsoft.com/',
      'HTTPS://GRAPH.MICROSOFT.COM//',
      '00000003-0000-0000-C000-000000000000',
    ]) {
      assert.equal(firstPartyResource(id)?.appId, '00000003-0000-0000-c000-000000000000', id);
    }
    for (const id of ['https://management.azure.com', 'https://management.core.windows.net', 'https://management.azure.com/'])
      assert.equal(firstPartyResource(id)?.displayName, 'Windows Azure Service Management API', id);
    assert.equal(firstPartyResource('https://6dae42f8-4368-4678-94ff-3960e28e3630/')?.appId, '6dae42f8-4368-4678-94ff-3960e28e3630');
    for (const id of ['https://graph.microsoft.com.evil.example', 'api://graph', 'https://graph.microsoft.com/v1.0'])
      assert.equal(firstPartyResource(id), undefined, id);
  });

  it('reserves first-party URIs, appIds and hosts, and nothing else', () => {
    for (const uri of [
      'https://graph.microsoft.com/anything',
      'api://6dae42f8-4368-4678-94ff-3960e28e3630',
      'https://797f4846-ba00-4fd7-ba43-dac1f8f63013',
      'https://Management.Core.Windows.Net',
    ]) {
      assert.equal(isReservedIdentifierUri(uri), true, uri);
    }
    for (const uri of [
      'api://orders-api',
      'https://contoso.example/api',
      'https://graph.microsoft.com.evil.example',
      'urn:graph.microsoft.com',
    ])
      assert.equal(isReservedIdentifierUri(uri), false, uri);
  });
});
