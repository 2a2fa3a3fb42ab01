// JSON read from the wire or from the store: an object whose fields are checked where they are read.

/** A JSON object of unknown shape (narrow each field before use). */
export type JsonObject = Record<string, unknown>;

/** Whether a value is a JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields Kentra reads of a cluster's ARM properties (a managed cluster's, or an Arc instance's). */
export interface ClusterPropertiesJson {
  kubernetesVersion?: string;
  enableRBAC?: boolean;
  disableLocalAccounts?: boolean;
  attachedClusterProfile?: { serverUrl?: unknown };
  agentPoolProfiles?: { name?: unknown; count?: unknown; vmSize?: unknown; mode?: string; orchestratorVersion?: string }[];
  [key: string]: unknown;
}

/** The stored ARM body of a cluster resource: its properties, or for Arc the provisioned instance and the identity. */
export interface ClusterBodyJson {
  properties?: ClusterPropertiesJson;
  instance?: { extendedLocation?: unknown; properties?: ClusterPropertiesJson };
  identity?: unknown;
  [key: string]: unknown;
}
