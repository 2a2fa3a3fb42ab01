import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArmError } from './arm.js';
import { clusterProperties, kubernetesVersionList, realClusterVersion } from './cluster-model.js';

// The Kubernetes version of clusters that run on a real kube-apiserver (`kentra up --kube-apiserver`):
// the binary's own. The end-to-end side (the API server's /version, `aks create` refused) is in
// test/e2e/real-clusters.test.ts.

const ctx = { name: 'c1', resourceGroup: 'rg', subscriptionId: '00000000-0000-4000-8000-000000000001', location: 'eastus' };
const pools = [{ name: 'nodepool1', count: 1 }];

describe('the version of clusters on a real kube-apiserver', () => {
  it("none asked for, the same, or its minor alone: the binary's version", () => {
    for (const asked of [undefined, null, '', '1.36.3', '1.36']) assert.equal(realClusterVersion(asked, '1.36.3'), '1.36.3', String(asked));
  });

  it('another version (older, newer, another patch) is a 400 K8sVersionNotSupported naming the one there is', () => {
    for (const asked of ['1.29.4', '1.37.0', '1.36.2', '1.3', 'latest']) {
      assert.throws(
        () => realClusterVersion(asked, '1.36.3'),
        (err: ArmError) => {
          assert.equal(err.status, 400);
          assert.equal(err.code, 'K8sVersionNotSupported');
          assert.match(
            err.message,
            new RegExp(
              `^Version ${asked.replace(/\./g, '\\.')} is not supported in this region: .*which is 1\\.36\\.3\\. Leave the Kubernetes version out or use 1\\.36\\.3\\.`,
            ),
          );
          return true;
        },
        asked,
      );
    }
  });

  it("a full PUT that repeats the stored version (az aks update after a GET) gets the binary's version, not a refusal", () => {
    const existing = clusterProperties({ kubernetesVersion: '1.32.7', agentPoolProfiles: pools }, { ...ctx, existing: null });
    assert.equal(existing.kubernetesVersion, '1.32.7');
    const updated = clusterProperties({ ...existing }, { ...ctx, existing, realVersion: '1.36.3' });
    assert.equal(updated.kubernetesVersion, '1.36.3');
    assert.throws(
      () => clusterProperties({ ...existing, kubernetesVersion: '1.33.1' }, { ...ctx, existing, realVersion: '1.36.3' }),
      /K8sVersionNotSupported|Version 1\.33\.1 is not supported/,
    );
  });

  it("aks get-versions lists only the binary's version", () => {
    assert.deepEqual(kubernetesVersionList('1.36.3'), {
      values: [
        {
          version: '1.36',
          capabilities: { supportPlan: ['KubernetesOfficial'] },
          isDefault: true,
          patchVersions: { '1.36.3': { upgrades: [] } },
        },
      ],
    });
  });
});
