import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goTool } from './tools.js';

// The real kube-apiserver and etcd the tests run behind `kentra up --kube-apiserver … --etcd …`:
// the current ones, built from their Go modules by scripts/build-go-tool.sh (kube-apiserver v1.36.3,
// etcd v3.6.16; `.ci/run` builds them first, so here they come from the cache). Another pair, e.g.
// the v1.20.2 that scripts/build-kube-apiserver.sh builds from Debian's source with Debian's etcd,
// is chosen with KENTRA_KUBE_APISERVER and KENTRA_ETCD (both).

/** scripts/build-kube-apiserver.sh: kube-apiserver v1.20.2 from Debian's source (not used by CI; see docs/real-api-servers.md). */
export const BUILD_SCRIPT = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'scripts/build-kube-apiserver.sh');

export interface RealApiserver {
  kubeApiserver: string;
  etcd: string;
  /** `1.36.3`, as `kube-apiserver --version` prints it. */
  version: string;
  /** The first lines of `kube-apiserver --version` and `etcd --version`, for the test's diagnostics. */
  versionText: string;
}

let found: { skip: false | string; binaries: RealApiserver | null } | undefined;

const versionText = (path: string) => spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 }).stdout?.trim() ?? '';

/** The binaries (built on first use when not cached), or the skip reason (outside CI only). */
export function realApiserver(): { skip: false | string; binaries: RealApiserver | null } {
  if (found) return found;
  let kubeApiserver = process.env.KENTRA_KUBE_APISERVER ?? '';
  let etcd = process.env.KENTRA_ETCD ?? '';
  if (Boolean(kubeApiserver) !== Boolean(etcd))
    throw new Error('set both KENTRA_KUBE_APISERVER and KENTRA_ETCD, or neither (then the current ones are built)');
  if (!kubeApiserver) {
    const e = goTool('etcd');
    if (e.skip !== false) return (found = { skip: e.skip, binaries: null });
    const k = goTool('kube-apiserver');
    if (k.skip !== false) return (found = { skip: k.skip, binaries: null });
    [kubeApiserver, etcd] = [k.path, e.path];
  }
  for (const path of [kubeApiserver, etcd]) if (!existsSync(path)) throw new Error(`${path} does not exist`);
  const kText = versionText(kubeApiserver);
  const version = /\bv(\d+\.\d+\.\d+)\b/.exec(kText)?.[1];
  if (!version) throw new Error(`${kubeApiserver} --version printed ${JSON.stringify(kText)}: no version`);
  const eText = versionText(etcd).split('\n').slice(0, 2).join(', ');
  return (found = { skip: false, binaries: { kubeApiserver, etcd, version, versionText: `${kText}; ${eText}` } });
}

/** The minor of a version (`1.36.3` → 36). */
export const minorOf = (version: string): number => Number(version.split('.')[1]);

/** Which API server the cluster-access flows run against. */
export interface Backend {
  name: string;
  /** True for real kube-apiservers (their own processes and logs). */
  real: boolean;
  /** `kubectl auth whoami` is answered (SelfSubjectReview: the built-in API; kube-apiserver 1.28 and later). */
  selfSubjectReview: boolean;
  skip: false | string;
  /** Extra `kentra up` arguments. */
  args(): string[];
  /** What to print with t.diagnostic: the versions under test. */
  versions(): string;
}

export const BUILT_IN_API: Backend = {
  name: 'the built-in cluster API',
  real: false,
  selfSubjectReview: true,
  skip: false,
  args: () => [],
  versions: () => 'the built-in cluster API',
};

export function realApiserverBackend(): Backend {
  const r = realApiserver();
  const b = r.binaries;
  return {
    name: `a real kube-apiserver${b ? ` v${b.version}` : ''} per cluster`,
    real: true,
    skip: r.skip,
    selfSubjectReview: b ? minorOf(b.version) >= 28 : false,
    args: () => ['--kube-apiserver', b!.kubeApiserver, '--etcd', b!.etcd],
    versions: () => b?.versionText ?? '',
  };
}
