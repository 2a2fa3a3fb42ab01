import type { ArmResource } from '../store/index.js';
import type { AadProfile } from './cluster-model.js';

// The one reader and writer of a managed (or Arc) cluster's secrets bag (`ArmResource.secrets`,
// sealed at rest by the store): every property named and typed here, checked when read, so no other
// module casts `res.secrets.<x>`. The uid is also kept in the clear beside the bag (`cluster_uid`,
// indexed: Store.getClusterByUid).

export interface ClusterSecrets {
  /** The id in the cluster's API URL (`/clusters/<uid>`); never changes. */
  uid: string;
  aad: AadProfile | null;
  /** The local admin's static token (`get-credentials --admin`). */
  adminToken: string;
  /** The cluster's own CA for local admin certificates, made on first use. */
  caCertPem: string | null;
  caKeyPem: string | null;
  /** The service-account signing key, made on first use. */
  saKeyPem: string | null;
  saPublicKeyPem: string | null;
  saKid: string | null;
  /** The power state asked for (`aks start/stop`); the body shows it once the operation is done. */
  powerState: 'Running' | 'Stopped' | null;
  /** The long-running operation a read settles first. */
  pendingOperation: string | null;
  /** An attached cluster: Kentra runs no API server for it. */
  attached: boolean;
  /** The legacy server app's secret, hashed. */
  serverAppSecretHash: string | null;
  /** The local client certificates issued so far, by credential kind (each call returns the same one, as AKS does). */
  clientCertificates: Partial<Record<string, { certPem: string; keyPem: string }>>;
}

export class ClusterRecordError extends Error {
  readonly code = 'ClusterRecordInvalid';
}

const text = (bag: Record<string, unknown>, key: string, id: string): string | null => {
  const v = bag[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ClusterRecordError(`cluster ${id}: secrets.${key} is not a string`);
  return v;
};

function aadOf(v: unknown, id: string): AadProfile | null {
  if (v === undefined || v === null) return null;
  const a = v as Record<string, unknown>;
  const groups = a.adminGroupObjectIDs;
  if (
    typeof a !== 'object' ||
    typeof a.managed !== 'boolean' ||
    typeof a.tenantID !== 'string' ||
    (groups !== null && groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string')))
  ) {
    throw new ClusterRecordError(`cluster ${id}: secrets.aad is not an Entra profile`);
  }
  return {
    managed: a.managed,
    enableAzureRBAC: a.enableAzureRBAC === true,
    adminGroupObjectIDs: (groups as string[] | null | undefined) ?? null,
    tenantID: a.tenantID,
    clientAppID: typeof a.clientAppID === 'string' ? a.clientAppID : null,
    serverAppID: typeof a.serverAppID === 'string' ? a.serverAppID : null,
  };
}

/** True for the resource types whose secrets are a cluster record. */
export const isClusterResource = (res: ArmResource): boolean => typeof res.secrets.uid === 'string';

/** The typed secrets of a cluster resource; throws ClusterRecordError when the bag is not one. */
export function clusterSecretsOf(res: ArmResource): ClusterSecrets {
  const s = res.secrets;
  const uid = text(s, 'uid', res.id);
  if (!uid) throw new ClusterRecordError(`resource ${res.id} is not a cluster: it has no uid`);
  const power = text(s, 'powerState', res.id);
  if (power !== null && power !== 'Running' && power !== 'Stopped')
    throw new ClusterRecordError(`cluster ${res.id}: secrets.powerState is ${power}`);
  return {
    uid,
    aad: aadOf(s.aad, res.id),
    adminToken: text(s, 'adminToken', res.id) ?? '',
    caCertPem: text(s, 'caCertPem', res.id),
    caKeyPem: text(s, 'caKeyPem', res.id),
    saKeyPem: text(s, 'saKeyPem', res.id),
    saPublicKeyPem: text(s, 'saPublicKeyPem', res.id),
    saKid: text(s, 'saKid', res.id),
    powerState: power,
    pendingOperation: text(s, 'pendingOperation', res.id),
    attached: s.attached === true,
    serverAppSecretHash: text(s, 'serverAppSecretHash', res.id),
    clientCertificates: certificatesOf(s.clientCertificates, res.id),
  };
}

function certificatesOf(v: unknown, id: string): ClusterSecrets['clientCertificates'] {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Object.values(v).some((c) => typeof c?.certPem !== 'string' || typeof c?.keyPem !== 'string')) {
    throw new ClusterRecordError(`cluster ${id}: secrets.clientCertificates is not a map of certificates`);
  }
  return v as ClusterSecrets['clientCertificates'];
}

/** The long-running operation pending on any ARM resource (a cluster or a resource group), or null. */
export function pendingOperationOf(res: ArmResource): string | null {
  return typeof res.secrets.pendingOperation === 'string' ? res.secrets.pendingOperation : null;
}

/** Any ARM resource with its pending operation set (or cleared). */
export function withPendingOperation(res: ArmResource, operationId: string | null): ArmResource {
  return { ...res, secrets: { ...res.secrets, pendingOperation: operationId } };
}

/** The resource with some of its cluster secrets replaced (the rest of the bag, e.g. client certificates, kept). */
export function withClusterSecrets(res: ArmResource, patch: Partial<ClusterSecrets>): ArmResource {
  return { ...res, secrets: { ...res.secrets, ...patch } };
}
