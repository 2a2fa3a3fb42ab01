// The control plane's public surface (ARM-compatible resource provider).
export { ArmError, armCaller, armRoute, authorize, sendArmError, type ArmCaller, type ArmContext, type ArmRequest } from './arm.js';
export { registerSubscriptionRoutes, visibleSubscriptions } from './subscriptions.js';
export { registerManagedClusterRoutes, MC_TYPE, RG_TYPE, type ControlPlaneOptions } from './managed-clusters.js';
export { registerAdminRoutes } from './admin-routes.js';
export { aadProfileJson, isAttached, LEGACY_AAD_OPT_IN, type AadProfile } from './cluster-model.js';
export * from './roles.js';
export { registerArcRoutes } from './arc.js';
export { clusterSettingsOf, controlPlaneAccessPorts, ensureServiceAccountKey } from './access-ports.js';
export { clusterSecretsOf, ClusterRecordError, isClusterResource, withClusterSecrets, type ClusterSecrets } from './cluster-record.js';
export { checkClusterAccess, parseCheckAccessRequest, type CheckAccessResult } from './check-access.js';
export { registerCheckAccessRoutes } from './authorization-checkaccess.js';
export {
  StoreAccessLog,
  registerAccessLogRoutes,
  DEFAULT_ACCESS_LOG_RETENTION_DAYS,
  ACCESS_LOG_ACTION,
  type StoreAccessLogOptions,
} from './access-log.js';
