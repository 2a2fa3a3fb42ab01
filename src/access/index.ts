// The access component's public surface: authentication and authorization for a cluster's
// Kubernetes API, usable in-process and behind the kube-apiserver's webhooks.
export {
  authenticatorChain,
  GROUPS_FROM_DIRECTORY,
  NO_ANSWER,
  type AuthnResult,
  type TokenAuthenticator,
  type TokenFailureCode,
  type TokenRequest,
  type UserInfo,
} from './authn.js';
export { entraTokenAuthenticator, SPN_OVERAGE_MESSAGE, type EntraAuthenticatorOptions, type GroupLookup, type KeySource } from './entra.js';
export { cachedGroupLookup, DEFAULT_GROUP_CACHE_SIZE } from './groups.js';
export { popTokenAuthenticator, rsaThumbprint, type PopOptions } from './pop.js';
export { graphGroupLookup, type GraphGroupLookup, type GraphGroupLookupOptions } from './graph-groups.js';
export {
  cachedTokenAuthenticator,
  DEFAULT_TOKEN_CACHE_SIZE,
  tokenCacheStats,
  type CachedTokenAuthenticator,
  type TokenCacheOptions,
  type TokenCacheStats,
} from './token-cache.js';
export { reviewToken, badReview, kubeStatus, TOKEN_REVIEW_VERSIONS, type WebhookReply } from './token-review.js';
export {
  peerCertificate,
  registerAccessWebhooks,
  webhookClientCheck,
  webhookClientProblem,
  webhookOrganization,
  type AccessWebhookOptions,
} from './webhooks.js';
export {
  ClusterAccessService,
  serverAppIdsOf,
  withAuthenticated,
  DEFAULT_CLUSTER_CACHE_SIZE,
  DEFAULT_SETTINGS_CHECK_MS,
  type AccessCacheOptions,
  type ClusterAccessOptions,
  type ClusterAccessPorts,
  type ClusterChains,
} from './cluster-access.js';
export { Lru } from '../shared/lru.js';
export type {
  AccessDecisionRecord,
  AccessLogPort,
  ClusterAadSettings,
  ClusterSettings,
  ClusterSettingsSource,
  DataActionAnswer,
  DataActionCheck,
  DataActionQuestion,
  KubeObjectSource,
} from './ports.js';
export { scrubbed as scrubAccessLogText, type AccessSource, type CredentialSeen } from './access-log.js';
export { armDataActionCheck, CHECK_ACCESS_API_VERSION, type ArmDataActionCheckOptions } from './arm-check-access.js';
export {
  adminGroupBinding,
  aggregateClusterRoles,
  defaultRbacObjects,
  rbacAuthorize,
  ruleAllows,
  selectorMatches,
  type Decision,
  type LabelSelector,
  type PolicyRule,
  type RbacBinding,
  type RbacObjects,
  type RbacRole,
  type RequestAttributes,
  type Subject,
} from './rbac.js';
export {
  AZURE_DENIED,
  AZURE_NO_OPINION,
  AZURE_NO_OPINION_NON_AAD,
  DEFAULT_DECISION_CACHE_SIZE,
  azureRbacAuthorizer,
  CLUSTER_TYPES,
  dataActionOf,
  type AccessRequest,
  type AzureAuthorizer,
  type AzureDecision,
  type AzureRbacOptions,
} from './azure-rbac.js';
export { ACCESS_REVIEW_VERSIONS, reviewAccess } from './access-review.js';
export { remoteKeySource, type RemoteKeySource, type RemoteKeySourceOptions } from './remote-keys.js';
export {
  issueServiceAccountToken,
  serviceAccountAuthenticator,
  serviceAccountJwks,
  serviceAccountKeyId,
  serviceAccountOidcDiscovery,
  serviceAccountSigningKey,
  serviceAccountUsername,
  TokenRequestInvalidError,
  type BoundObjectRef,
  type IssueServiceAccountTokenOptions,
  type ServiceAccountAuthenticatorOptions,
  type ServiceAccountJwk,
  type ServiceAccountOidcDiscovery,
  type ServiceAccountSigningKey,
  type ServiceAccountToken,
} from './service-accounts.js';
export {
  clientCertificateAuthenticator,
  LOCAL_ACCOUNTS_DISABLED,
  LOCAL_ADMIN_USER,
  staticTokenAuthenticator,
  type ClientCertificateAuthenticator,
  type ClientCertificateAuthenticatorOptions,
  type StaticTokenAuthenticatorOptions,
} from './local-accounts.js';
export {
  alwaysAllowAuthorizer,
  authorizerChain,
  azureRbacStep,
  rbacAuthorizer,
  superUserAuthorizer,
  type AuthorizerChain,
  type AuthzDecision,
  type ChainDecision,
  type NamedAuthorizer,
} from './authz.js';
