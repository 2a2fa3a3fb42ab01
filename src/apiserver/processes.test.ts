import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { binariesFrom, kubeApiserverArgs } from './processes.js';

// kube-apiserver's flags by version. The servers themselves run in test/e2e (real-clusters,
// cluster-access-real, cluster-access-rbac-real, helm); here, what each version is given.

const dir = mkdtempSync(join(tmpdir(), 'kentra-processes-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ports = { apiserver: 6443, etcd: 2379, etcdPeer: 2380 };
const issuer = 'https://localhost:8443/clusters/u1';
const flag = (args: string[], name: string) => args.filter((a) => a.startsWith(`${name}=`)).map((a) => a.slice(name.length + 1));

describe('kube-apiserver flags by version', () => {
  it('1.20: --insecure-port=0, the --authorization-mode flags, v1 webhooks', () => {
    const args = kubeApiserverArgs({ version: '1.20.2', dir, ports, issuer, mode: 'Node,RBAC,Webhook' });
    assert.deepEqual(flag(args, '--insecure-port'), ['0']);
    assert.deepEqual(flag(args, '--authorization-mode'), ['Node,RBAC,Webhook']);
    assert.deepEqual(flag(args, '--authorization-webhook-version'), ['v1']);
    assert.deepEqual(flag(args, '--authentication-token-webhook-version'), ['v1']);
    assert.deepEqual(flag(args, '--authorization-config'), []);
    assert.ok(!existsSync(join(dir, 'authorization-config.yaml')));
  });

  it('1.31: no --insecure-port (removed in 1.24), still the mode flags', () => {
    const args = kubeApiserverArgs({ version: '1.31.4', dir, ports, issuer, mode: 'Node,RBAC' });
    assert.deepEqual(flag(args, '--insecure-port'), []);
    assert.deepEqual(flag(args, '--authorization-mode'), ['Node,RBAC']);
    assert.deepEqual(flag(args, '--authorization-webhook-config-file'), [], 'no webhook without Azure RBAC');
  });

  it('1.36: an AuthorizationConfiguration file (v1) with Node, RBAC and the Azure RBAC webhook; no mode flags', () => {
    const args = kubeApiserverArgs({ version: '1.36.3', dir, ports, issuer, mode: 'Node,RBAC,Webhook' });
    assert.deepEqual(flag(args, '--insecure-port'), []);
    assert.deepEqual(flag(args, '--authorization-mode'), [], '--authorization-config and the mode flags exclude each other');
    assert.deepEqual(flag(args, '--authorization-webhook-config-file'), []);
    assert.deepEqual(flag(args, '--authorization-config'), [join(dir, 'authorization-config.yaml')]);
    assert.deepEqual(flag(args, '--authentication-token-webhook-version'), ['v1']);
    const config = parse(readFileSync(join(dir, 'authorization-config.yaml'), 'utf8'));
    assert.equal(config.apiVersion, 'apiserver.config.k8s.io/v1');
    assert.equal(config.kind, 'AuthorizationConfiguration');
    assert.deepEqual(
      config.authorizers.map((a: { type: string }) => a.type),
      ['Node', 'RBAC', 'Webhook'],
    );
    const webhook = config.authorizers[2].webhook;
    assert.equal(webhook.subjectAccessReviewVersion, 'v1');
    assert.equal(webhook.failurePolicy, 'NoOpinion');
    assert.deepEqual(webhook.connectionInfo, { type: 'KubeConfigFile', kubeConfigFile: join(dir, 'authz-webhook.kubeconfig') });

    kubeApiserverArgs({ version: '1.36.3', dir, ports, issuer, mode: 'AlwaysAllow' });
    const open = parse(readFileSync(join(dir, 'authorization-config.yaml'), 'utf8'));
    assert.deepEqual(open.authorizers, [{ type: 'AlwaysAllow', name: 'alwaysallow' }], 'a cluster without Kubernetes RBAC');
  });
});

describe('binariesFrom', () => {
  // FAKE binaries (shell scripts printing a version): what is tested is how the version is read.
  const fake = (name: string, out: string) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\necho '${out}'\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const etcd = fake('fake-etcd', 'etcd Version: 3.6.16');

  it("reads the kube-apiserver's version", () => {
    assert.deepEqual(binariesFrom({ kubeApiserver: fake('fake-kas', 'Kubernetes v1.36.3'), etcd }, {}), {
      kubeApiserver: join(dir, 'fake-kas'),
      etcd,
      kubernetesVersion: '1.36.3',
    });
  });

  it('refuses a binary that names no version (built without -X …gitVersion) or one older than 1.20', () => {
    assert.throws(
      () => binariesFrom({ kubeApiserver: fake('fake-master', 'Kubernetes v0.0.0-master+$Format:%H$'), etcd }, {}),
      /--version` printed "Kubernetes v0\.0\.0-master\+\$Format:%H\$"; Kentra needs a kube-apiserver 1\.20 or later/,
    );
    assert.throws(
      () => binariesFrom({ kubeApiserver: fake('fake-old', 'Kubernetes v1.19.16'), etcd }, {}),
      /Kentra needs a kube-apiserver 1\.20 or later/,
    );
  });
});
