import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandPath, packageSkip } from './packages.js';

// The real kube-apiserver (built from Debian's kubernetes source package by
// scripts/build-kube-apiserver.sh, cached) and Debian's etcd, for the tests that run the access flows
// against real API servers. `.ci/run` installs the packages and builds it before the tests.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD_SCRIPT = join(root, 'scripts/build-kube-apiserver.sh');

export interface RealApiserver { kubeApiserver: string; etcd: string }

let found: { skip: false | string; binaries: RealApiserver | null } | undefined;

/** The binaries, building kube-apiserver when it is not cached yet (about 5 minutes); or the skip reason. */
export function realApiserver(): { skip: false | string; binaries: RealApiserver | null } {
  if (found) return found;
  const etcd = process.env.KENTRA_ETCD || commandPath('etcd');
  const etcdSkip = packageSkip(etcd !== '' && existsSync(etcd), 'etcd-server', 'etcd');
  if (etcdSkip) return (found = { skip: etcdSkip, binaries: null });
  let kubeApiserver = process.env.KENTRA_KUBE_APISERVER ?? '';
  if (!kubeApiserver) {
    const goPresent = existsSync('/usr/lib/go-1.19/bin/go') || commandPath('go') !== '';
    const goSkip = packageSkip(goPresent, 'golang-1.19', 'Go (to build kube-apiserver from Debian\'s source package)');
    if (goSkip) return (found = { skip: goSkip, binaries: null });
    const rsyncSkip = packageSkip(commandPath('rsync') !== '', 'rsync', 'rsync (Kubernetes\' build scripts use it)');
    if (rsyncSkip) return (found = { skip: rsyncSkip, binaries: null });
    const built = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 });
    if (built.status !== 0) throw new Error(`scripts/build-kube-apiserver.sh failed (exit ${built.status})`);
    kubeApiserver = built.stdout.trim().split('\n').pop()!;
  }
  return (found = { skip: false, binaries: { kubeApiserver, etcd } });
}

/** Which API server the cluster-access flows run against. */
export interface Backend {
  name: string;
  /** True for real kube-apiservers (v1.20: no `kubectl auth whoami`, their own logs). */
  real: boolean;
  skip: false | string;
  /** Extra `kentra up` arguments. */
  args(): string[];
}

export const BUILT_IN_API: Backend = { name: 'the built-in cluster API', real: false, skip: false, args: () => [] };

export function realApiserverBackend(): Backend {
  const r = realApiserver();
  return {
    name: 'a real kube-apiserver v1.20.2 per cluster', real: true, skip: r.skip,
    args: () => ['--kube-apiserver', r.binaries!.kubeApiserver, '--etcd', r.binaries!.etcd],
  };
}
