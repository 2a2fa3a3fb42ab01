import { realApiserverBackend } from '../support/kube-apiserver.js';
import { clusterAccessRbacFlows } from './cluster-access-rbac.flows.js';

// The same flows against real kube-apiservers: `kentra up --kube-apiserver … --etcd …` runs one per cluster.
clusterAccessRbacFlows(realApiserverBackend());
