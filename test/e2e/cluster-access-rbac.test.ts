import { BUILT_IN_API } from '../support/kube-apiserver.js';
import { clusterAccessRbacFlows } from './cluster-access-rbac.flows.js';

// The flows against the built-in cluster API of `kentra up`.
clusterAccessRbacFlows(BUILT_IN_API);
