// The built-in Kubernetes API each emulated cluster gets (the sandbox component's public surface).
export { registerClusterApi, type ClusterApi, type ClusterApiOptions } from './api.js';
export { humanDuration, RESOURCE_TYPES, type ResourceType } from './resources.js';
export { requestInfo, forbidden, type RequestInfo } from './status.js';
export { clusterShapeOf } from './cluster-state.js';
export { ADMIN_GROUP_BINDING, adminGroupBindingObject, systemObjects, type ClusterShape, type SystemObject } from './system.js';
