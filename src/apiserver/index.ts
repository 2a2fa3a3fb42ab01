// Real API servers (the apiserver component's public surface): a kube-apiserver and etcd per
// managed cluster, configured with Kentra's webhooks.
export { apiserverVersion, binariesFrom, type Binaries } from './processes.js';
export { RealClusters, type RealClustersOptions } from './runner.js';
