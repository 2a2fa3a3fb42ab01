import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadCertificateAuthority, type CertificateAndKey } from '../../src/pki/index.js';
import type { HttpResponse } from './http.js';
import type { TestKentra } from './kentra.js';

type Arm = (method: string, path: string, body?: unknown) => Promise<HttpResponse>;

/**
 * A managed-Entra cluster `rg1/c1` whose admins are `adminGroup`, made through ARM, and a webhook
 * client certificate for it from Kentra's CA (what its kube-apiserver presents to Kentra's webhooks).
 */
export async function clusterWithWebhookClient(
  k: TestKentra,
  arm: Arm,
  adminGroup: string,
): Promise<{ uid: string; webhookClient: CertificateAndKey }> {
  assert.equal((await arm('PUT', '/resourcegroups/rg1', { location: 'eastus' })).status, 201);
  const mc = '/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1';
  const created = await arm('PUT', mc, {
    location: 'eastus',
    properties: {
      dnsPrefix: 'c1',
      agentPoolProfiles: [{ name: 'nodepool1', count: 1 }],
      aadProfile: { managed: true, adminGroupObjectIDs: [adminGroup] },
    },
  });
  assert.equal(created.status, 201, created.text);
  const kubeconfig = parse(
    Buffer.from((await arm('POST', `${mc}/listClusterUserCredential`)).json().kubeconfigs[0].value, 'base64').toString(),
  );
  const uid = /\/clusters\/([^/]+)$/.exec(kubeconfig.clusters[0].cluster.server)![1]!;
  const ca = await loadCertificateAuthority(
    readFileSync(join(k.dataDir, 'ca.pem'), 'utf8'),
    readFileSync(join(k.dataDir, 'ca-key.pem'), 'utf8'),
  );
  return { uid, webhookClient: await ca.issue({ commonName: 'kube-apiserver', organizations: [`cluster:${uid}`], usage: 'client' }) };
}
