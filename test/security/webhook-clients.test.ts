import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAndKey } from '../../src/pki/index.js';
import { clusterWithWebhookClient } from '../support/arm-cluster.js';
import { httpsFetch, postForm } from '../support/http.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { postJson, type WebhookReply } from '../support/webhook-client.js';

// The access webhooks' client certificates, attacked on both of the server's ways (src/server/app.ts):
// the kube-apiserver's plain POST takes the direct way, the same request with a trailing slash goes
// through fastify. A certificate that is missing, from another CA, or bound to another cluster is refused
// the same on both, for TokenReview and SubjectAccessReview, and never reaches a review.

const ADMINS = '00000000-0000-4000-8000-00000000ad01';

describe('the access webhooks refuse clients that are not the cluster’s, on both of the server’s ways', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let uid: string;
  let own: CertificateAndKey;
  let otherCluster: CertificateAndKey;
  let otherCa: CertificateAndKey;
  let caPem: string;

  before(async () => {
    k = await startTestKentra({ extraArgs: ['--provisioning-delay', '0'] });
    caPem = readFileSync(k.endpoints.caFile, 'utf8');
    const owner = (
      await postForm(
        `${k.endpoints.authority}/${k.endpoints.tenantId}/oauth2/v2.0/token`,
        {
          client_id: k.endpoints.servicePrincipal.appId,
          client_secret: k.endpoints.servicePrincipal.secret,
          grant_type: 'client_credentials',
          scope: 'https://management.azure.com/.default',
        },
        k.endpoints.caFile,
      )
    ).json().access_token as string;
    ({ uid, webhookClient: own } = await clusterWithWebhookClient(
      k,
      (method, path, body) =>
        httpsFetch(`${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}${path}?api-version=2022-11-01`, {
          method,
          caFile: k.endpoints.caFile,
          body: body === undefined ? undefined : JSON.stringify(body),
          headers: { authorization: `Bearer ${owner}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        }),
      ADMINS,
    ));
    const kentraCa = await loadCertificateAuthority(caPem, readFileSync(join(k.dataDir, 'ca-key.pem'), 'utf8'));
    otherCluster = await kentraCa.issue({ commonName: 'kube-apiserver', organizations: ['cluster:another-cluster'], usage: 'client' });
    // A CA of the attacker's own, issuing a certificate that names this cluster.
    const foreign = await createCertificateAuthority('not Kentra', 1);
    otherCa = await foreign.issue({ commonName: 'kube-apiserver', organizations: [`cluster:${uid}`], usage: 'client' });
  });
  after(() => k?.close());

  const bodies = {
    tokenreviews: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: 'a.b.c' } },
    subjectaccessreviews: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'mallory@example.com', groups: [ADMINS], resourceAttributes: { verb: 'get', resource: 'secrets' } },
    },
  };
  /** The same request both ways: the direct way's answer, after checking fastify's is the same. */
  const both = async (review: keyof typeof bodies, cert: CertificateAndKey | undefined, pathUid = uid): Promise<WebhookReply> => {
    const url = `${k.endpoints.authority}/clusters/${pathUid}/webhooks/${review}`;
    const direct = await postJson(url, bodies[review], caPem, cert);
    const viaFastify = await postJson(`${url}/`, bodies[review], caPem, cert);
    assert.deepEqual(direct, viaFastify, `${review}: the direct way and fastify's answer alike`);
    return direct;
  };

  for (const review of ['tokenreviews', 'subjectaccessreviews'] as const) {
    it(`${review}: the cluster's own certificate reaches the review (the control for the refusals below)`, async () => {
      const r = await both(review, own);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.kind, review === 'tokenreviews' ? 'TokenReview' : 'SubjectAccessReview');
      assert.notEqual(r.json.status?.authenticated, true, 'a made-up token is not a user');
      assert.notEqual(r.json.status?.allowed, true, 'a made-up user in the admin group is not allowed');
    });

    it(`${review}: no client certificate is 400, in the Kubernetes Status shape`, async () => {
      const r = await both(review, undefined);
      assert.deepEqual([r.status, r.json.kind, r.json.reason, r.json.message], [400, 'Status', 'BadRequest', 'Missing client certificate']);
    });

    it(`${review}: a certificate from another CA naming this cluster is 403`, async () => {
      const r = await both(review, otherCa);
      assert.deepEqual([r.status, r.json.reason, r.json.message], [403, 'Forbidden', 'the client certificate was not issued by Kentra']);
    });

    it(`${review}: Kentra's certificate for another cluster is 403, on this cluster's path and on its own`, async () => {
      const r = await both(review, otherCluster);
      assert.deepEqual([r.status, r.json.reason, r.json.message], [403, 'Forbidden', `the client certificate is not for cluster ${uid}`]);
      // This cluster's certificate does not open another cluster's path either (not even one that does not exist).
      const elsewhere = await both(review, own, 'another-cluster');
      assert.deepEqual(
        [elsewhere.status, elsewhere.json.reason, elsewhere.json.message],
        [403, 'Forbidden', 'the client certificate is not for cluster another-cluster'],
      );
    });
  }
});
