import { realApiserverBackend } from '../support/kube-apiserver.js';
import { clusterAccessFlows } from './cluster-access.flows.js';

// The same flows against real kube-apiservers: `kentra up --kube-apiserver … --etcd …` runs one per cluster.
clusterAccessFlows(realApiserverBackend());
