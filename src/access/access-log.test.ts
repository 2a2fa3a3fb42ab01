import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authenticationRecord, webhookRecord } from './access-log.js';
import { GROUPS_FROM_DIRECTORY, type UserInfo } from './authn.js';
import type { ClusterSettings } from './ports.js';
import type { WebhookReply } from './token-review.js';

// The access log's entries as the webhooks and the built-in API build them (docs/access-log.md).

const settings = { uid: 'c0ffee00-0000-4000-8000-000000000001', aad: { adminGroupObjectIDs: ['admins'] } } as unknown as ClusterSettings;
const OID = '77777777-0000-4000-8000-000000000001';
const token = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ oid: OID })).toString('base64url')}.c2ln`;
const user = (groups: string[]): UserInfo => ({ username: 'ann@kentra.test', uid: '', groups, extra: { oid: [OID] } });
const tokenReview = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } };
const answered = (u: UserInfo): WebhookReply => ({ statusCode: 200, body: { status: { authenticated: true, user: u } } });

describe('access log entries', () => {
  it("tells groups from the token's claim from groups the directory gave (overage), as the Entra authenticator marked them", () => {
    const fromClaim = webhookRecord(settings, 'tokenreviews', 1, tokenReview, answered(user(['g1'])))!;
    assert.equal(fromClaim.groupsSource, 'tokenClaim');
    const overage = user(['g1', 'admins']);
    overage[GROUPS_FROM_DIRECTORY] = true;
    const fromDirectory = webhookRecord(settings, 'tokenreviews', 1, tokenReview, answered(overage))!;
    assert.equal(fromDirectory.groupsSource, 'graphOverage,adminGroup');
    // The mark never reaches the kube-apiserver, and a copy of the user (system:authenticated added) keeps it.
    assert.equal(JSON.stringify(overage), JSON.stringify({ ...user(['g1', 'admins']) }));
    const copied = authenticationRecord(
      settings,
      'builtInApi',
      1,
      { token },
      { kind: 'user', user: { ...overage, groups: [...overage.groups, 'system:authenticated'] } },
    );
    assert.equal(copied.groupsSource, 'graphOverage,adminGroup');
  });

  it('holds who, the decision and the reason, never the token', () => {
    const refused = webhookRecord(settings, 'tokenreviews', 7, tokenReview, {
      statusCode: 401,
      body: { status: { authenticated: false, error: `oidc: token is expired (${token})` } },
    })!;
    assert.deepEqual(
      { user: refused.user, decision: refused.decision, kind: refused.kind, source: refused.source, time: refused.time },
      { user: '', decision: 'denied', kind: 'authentication', source: 'webhook', time: 7 },
    );
    assert.equal(refused.reason, 'oidc: token is expired (***)');
    assert.ok(!JSON.stringify(refused).includes(token.split('.')[1]!));

    const sar = webhookRecord(
      settings,
      'subjectaccessreviews',
      8,
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: 'ann@kentra.test',
          groups: ['g1'],
          extra: { oid: [OID] },
          resourceAttributes: { verb: 'get', resource: 'pods', namespace: 'ns1' },
        },
      },
      { statusCode: 200, body: { status: { allowed: false, denied: true, reason: 'no role assignment' } } },
    )!;
    assert.deepEqual(
      [sar.kind, sar.verb, sar.resource, sar.namespace, sar.path, sar.decision, sar.groupsSource, sar.userObjectId],
      ['authorization', 'get', 'pods', 'ns1', null, 'denied', 'reviewRequest', OID],
    );
  });
});
