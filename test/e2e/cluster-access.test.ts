import { BUILT_IN_API } from '../support/kube-apiserver.js';
import { clusterAccessFlows } from './cluster-access.flows.js';

// The flows against the built-in cluster API of `kentra up`.
clusterAccessFlows(BUILT_IN_API);
