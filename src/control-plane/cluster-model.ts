import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { isGuid, newId } from '../shared/crypto.js';
import { ArmError } from './arm.js';

// A managed cluster's ARM body: defaults for what az and the SDKs send, and the rules of the Entra
// profile from the source documents (F1–F3, F9, F10, F14). Each refusal is a 400 that says what to do.

export const DEFAULT_KUBERNETES_VERSION = '1.32.7';
const SUPPORTED_MINOR = { min: 20, max: 36 };

/**
 * The versions `aks get-versions` lists (ARM's KubernetesVersionListResult): each minor Kentra accepts,
 * with the patch it gives a bare `1.N`, and the next minor as its upgrade.
 */
export function kubernetesVersionList(realVersion?: string): { values: unknown[] } {
  if (realVersion) {
    // Real API servers: the one version the kube-apiserver binary has.
    const minor = realVersion.split('.').slice(0, 2).join('.');
    return {
      values: [
        {
          version: minor,
          capabilities: { supportPlan: ['KubernetesOfficial'] },
          isDefault: true,
          patchVersions: { [realVersion]: { upgrades: [] } },
        },
      ],
    };
  }
  const values = [];
  for (let minor = SUPPORTED_MINOR.max; minor >= SUPPORTED_MINOR.min; minor--) {
    const patch = `1.${minor}.7`;
    values.push({
      version: `1.${minor}`,
      capabilities: { supportPlan: ['KubernetesOfficial'] },
      isDefault: patch === DEFAULT_KUBERNETES_VERSION ? true : undefined,
      isPreview: undefined,
      patchVersions: { [patch]: { upgrades: minor < SUPPORTED_MINOR.max ? [`1.${minor + 1}.7`] : [] } },
    });
  }
  return { values };
}
/** New clusters cannot use the legacy integration after this date unless the subscription opted in. */
export const LEGACY_AAD_RETIRED = Date.UTC(2023, 5, 1);
export const LEGACY_AAD_OPT_IN = { namespace: 'Microsoft.ContainerService', name: 'AllowLegacyAADIntegration' };

export interface AadProfile {
  managed: boolean;
  enableAzureRBAC: boolean;
  adminGroupObjectIDs: string[] | null;
  tenantID: string;
  clientAppID: string | null;
  serverAppID: string | null;
}

const bad = (message: string, code = 'BadRequest') => new ArmError(400, code, message);

export function parseVersion(v: unknown): string {
  if (v === undefined || v === null || v === '') return DEFAULT_KUBERNETES_VERSION;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(String(v));
  if (!m || m[1] !== '1' || Number(m[2]) < SUPPORTED_MINOR.min || Number(m[2]) > SUPPORTED_MINOR.max) {
    throw bad(
      `Version ${String(v)} is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region.`,
      'K8sVersionNotSupported',
    );
  }
  return m[3] !== undefined ? String(v) : `${m[1]}.${m[2]}.7`;
}

/**
 * With real API servers (`kentra up --kube-apiserver`) every cluster Kentra runs has the binary's
 * version: none asked for (or the minor alone) gives it; any other is refused, naming the one it has.
 */
export function realClusterVersion(asked: unknown, real: string): string {
  if (asked === undefined || asked === null || asked === '') return real;
  const a = String(asked);
  if (a === real || a === real.split('.').slice(0, 2).join('.')) return real;
  throw bad(
    `Version ${a} is not supported in this region: Kentra runs every cluster's API server with the kube-apiserver it was started with (--kube-apiserver), which is ${real}. Leave the Kubernetes version out or use ${real}. Please use [az aks get-versions] command to get the supported version list in this region.`,
    'K8sVersionNotSupported',
  );
}

/** True for Kubernetes 1.24 and later: the user credential defaults to the exec (kubelogin) format. */
export function execByDefault(version: string): boolean {
  return Number(version.split('.')[1]) >= 24;
}

interface AadInput {
  managed?: boolean;
  enableAzureRBAC?: boolean;
  adminGroupObjectIDs?: string[] | null;
  tenantID?: string | null;
  clientAppID?: string | null;
  serverAppID?: string | null;
  serverAppSecret?: string | null;
}

export interface AadDecision {
  profile: AadProfile | null;
  /** The legacy server app secret to keep (hashed by the caller), when one was given. */
  serverAppSecret?: string;
  migratedFromLegacy?: boolean;
}

/**
 * The Entra profile a PUT asks for, checked against the cluster it replaces (null on create):
 * managed integration can be enabled but never disabled or downgraded, needs Kubernetes RBAC, and
 * legacy integration is only for new clusters whose subscription opted in.
 */
export function decideAadProfile(
  input: AadInput | null | undefined,
  current: AadProfile | null,
  ctx: {
    enableRBAC: boolean;
    callerTenant: string;
    legacyAllowed: boolean;
    now: number;
    creating: boolean;
  },
): AadDecision {
  const wantsLegacy = !!(input && (input.serverAppID || input.clientAppID || input.serverAppSecret) && !input.managed);
  if (!input) {
    if (current)
      throw bad(
        "Microsoft Entra integration can't be disabled after being added. Keep aadProfile in the request; admin groups can still be changed.",
        'AADDisableNotAllowed',
      );
    return { profile: null };
  }
  if (!ctx.enableRBAC) {
    throw bad(
      'Clusters without Kubernetes RBAC support are unable to add the Microsoft Entra integration. Create a new cluster with Kubernetes RBAC enabled (--enable-rbac).',
      'AADWithoutRBACNotAllowed',
    );
  }
  const groups = input.adminGroupObjectIDs ?? null;
  for (const g of groups ?? []) {
    if (!isGuid(g))
      throw bad(
        `The admin group object ID '${g}' is not a valid GUID. Pass Microsoft Entra group object IDs to --aad-admin-group-object-ids.`,
        'InvalidAADAdminGroupObjectID',
      );
  }
  const tenantID = input.tenantID || current?.tenantID || ctx.callerTenant;
  if (!isGuid(tenantID)) throw bad(`The tenant ID '${tenantID}' is not a valid GUID.`, 'InvalidAADTenantID');
  if (input.managed) {
    if (input.serverAppID || input.clientAppID || input.serverAppSecret) {
      throw bad(
        'The managed Microsoft Entra integration takes no server or client application: remove --aad-server-app-id, --aad-server-app-secret and --aad-client-app-id.',
        'AADManagedWithLegacyApps',
      );
    }
    if (input.enableAzureRBAC && !ctx.enableRBAC)
      throw bad('--enable-azure-rbac cannot be used together with --disable-rbac', 'AzureRBACWithoutRBAC');
    return {
      profile: {
        managed: true,
        enableAzureRBAC: !!input.enableAzureRBAC,
        adminGroupObjectIDs: groups,
        tenantID,
        clientAppID: null,
        serverAppID: null,
      },
      migratedFromLegacy: !!current && !current.managed,
    };
  }
  if (wantsLegacy || input.managed === false) {
    if (current?.managed) {
      throw bad(
        'A cluster with managed Microsoft Entra integration cannot go back to the legacy integration (server and client applications).',
        'AADManagedToLegacyNotAllowed',
      );
    }
    if (current && !current.managed) {
      // An unchanged legacy profile (an update of something else): keep it.
      if (
        (input.serverAppID ?? current.serverAppID) === current.serverAppID &&
        (input.clientAppID ?? current.clientAppID) === current.clientAppID
      ) {
        return { profile: { ...current, tenantID }, serverAppSecret: input.serverAppSecret ?? undefined };
      }
      throw bad(
        "The legacy integration's applications cannot be changed. Migrate to the managed integration with --enable-aad.",
        'AADLegacyUpdateNotAllowed',
      );
    }
    if (!ctx.creating) {
      throw bad(
        'The legacy Microsoft Entra integration can only be set when the cluster is created. Use the managed integration instead: az aks update --enable-aad --aad-admin-group-object-ids <group>.',
        'AADLegacyUpdateNotAllowed',
      );
    }
    if (ctx.now >= LEGACY_AAD_RETIRED && !ctx.legacyAllowed) {
      throw bad(
        `The legacy Microsoft Entra integration was retired on 2023-06-01 and new clusters cannot use it. Use the managed integration (--enable-aad --aad-admin-group-object-ids <group>), or, to test a migration, register the feature first: az feature register --namespace ${LEGACY_AAD_OPT_IN.namespace} --name ${LEGACY_AAD_OPT_IN.name}.`,
        'AADLegacyRetired',
      );
    }
    if (!input.serverAppID || !input.clientAppID || !input.serverAppSecret) {
      throw bad(
        'The legacy integration needs --aad-server-app-id, --aad-server-app-secret and --aad-client-app-id.',
        'AADLegacyIncomplete',
      );
    }
    for (const [k, v] of [
      ['serverAppID', input.serverAppID],
      ['clientAppID', input.clientAppID],
    ]) {
      if (!isGuid(v)) throw bad(`The ${k} '${v}' is not a valid application (client) ID.`, 'InvalidAADApplicationID');
    }
    if (input.enableAzureRBAC)
      throw bad('Azure RBAC for Kubernetes authorization needs the managed Microsoft Entra integration.', 'AzureRBACWithoutManagedAAD');
    return {
      profile: {
        managed: false,
        enableAzureRBAC: false,
        adminGroupObjectIDs: null,
        tenantID,
        clientAppID: input.clientAppID.toLowerCase(),
        serverAppID: input.serverAppID.toLowerCase(),
      },
      serverAppSecret: input.serverAppSecret,
    };
  }
  throw bad(
    "aadProfile needs 'managed': true (the managed integration) or the legacy server and client applications.",
    'InvalidAADProfile',
  );
}

/** What az shows for aadProfile: the ARM names, with the secret never returned. */
export function aadProfileJson(p: AadProfile | null): Record<string, unknown> | null {
  if (!p) return null;
  return {
    managed: p.managed,
    enableAzureRBAC: p.enableAzureRBAC,
    adminGroupObjectIDs: p.adminGroupObjectIDs,
    clientAppID: p.clientAppID,
    serverAppID: p.serverAppID,
    serverAppSecret: null,
    tenantID: p.tenantID,
  };
}

/** Fills what a create or full update leaves out, as AKS does, and checks what it must not leave out. */
export function clusterProperties(
  input: Record<string, any>,
  ctx: {
    name: string;
    resourceGroup: string;
    subscriptionId: string;
    location: string;
    existing: Record<string, any> | null;
    realVersion?: string;
  },
): Record<string, any> {
  const p = { ...(input ?? {}) };
  const existing = ctx.existing ?? {};
  // With real API servers, a request that repeats the stored version (a full PUT after a GET) asks for nothing new.
  const version = ctx.realVersion
    ? realClusterVersion(p.kubernetesVersion === existing.kubernetesVersion ? undefined : p.kubernetesVersion, ctx.realVersion)
    : parseVersion(p.kubernetesVersion || existing.kubernetesVersion);
  const dnsPrefix =
    p.dnsPrefix ||
    existing.dnsPrefix ||
    `${ctx.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 10)}-${ctx.resourceGroup.replace(/[^A-Za-z0-9]/g, '').slice(0, 16)}-${ctx.subscriptionId.slice(0, 6)}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,52}[A-Za-z0-9]?$/.test(dnsPrefix))
    throw bad(
      `The DNS prefix '${dnsPrefix}' is invalid: use letters, numbers and hyphens, starting and ending with a letter or number.`,
      'InvalidDnsPrefix',
    );
  const hash = existing.fqdn
    ? String(existing.fqdn).split('.')[0]!.split('-').pop()!
    : createHash('sha256')
        .update(`${ctx.subscriptionId}/${ctx.resourceGroup}/${ctx.name}/${randomBytes(4).toString('hex')}`)
        .digest('hex')
        .slice(0, 8);
  const pools = Array.isArray(p.agentPoolProfiles) && p.agentPoolProfiles.length ? p.agentPoolProfiles : existing.agentPoolProfiles;
  if (!Array.isArray(pools) || !pools.length)
    throw bad('The cluster needs at least one agent pool in properties.agentPoolProfiles.', 'InvalidParameter');
  const agentPoolProfiles = pools.map((pool: Record<string, any>, i: number) => {
    const count = pool.count ?? 3;
    if (!Number.isInteger(count) || count < 0 || count > 1000)
      throw bad(`Agent pool count must be a whole number from 0 to 1000, not ${count}.`, 'InvalidParameter');
    return {
      ...pool,
      name: pool.name || (i === 0 ? 'nodepool1' : `pool${i}`),
      count,
      vmSize: pool.vmSize || 'Standard_DS2_v2',
      osDiskSizeGB: pool.osDiskSizeGB || 128,
      osDiskType: pool.osDiskType ?? 'Managed',
      kubeletDiskType: 'OS',
      maxPods: pool.maxPods ?? 110,
      type: pool.type ?? 'VirtualMachineScaleSets',
      mode: pool.mode ?? (i === 0 ? 'System' : 'User'),
      osType: pool.osType ?? 'Linux',
      osSKU: pool.osSKU ?? 'Ubuntu',
      orchestratorVersion: pool.orchestratorVersion || version,
      currentOrchestratorVersion: pool.orchestratorVersion || version,
      enableAutoScaling: pool.enableAutoScaling ?? false,
      enableNodePublicIP: pool.enableNodePublicIP ?? false,
      enableFIPS: pool.enableFIPS ?? false,
      provisioningState: 'Succeeded',
      powerState: { code: 'Running' },
      nodeImageVersion: 'AKSUbuntu-2204gen2containerd-202511.01.0',
      upgradeSettings: pool.upgradeSettings ?? { maxSurge: '10%' },
    };
  });
  const networkProfile = {
    networkPlugin: 'kubenet',
    loadBalancerSku: 'standard',
    outboundType: 'loadBalancer',
    podCidr: '10.244.0.0/16',
    serviceCidr: '10.0.0.0/16',
    dnsServiceIP: '10.0.0.10',
    ipFamilies: ['IPv4'],
    podCidrs: ['10.244.0.0/16'],
    serviceCidrs: ['10.0.0.0/16'],
    ...(existing.networkProfile ?? {}),
    ...(p.networkProfile ?? {}),
  };
  const kubelet = existing.identityProfile?.kubeletidentity ?? {
    resourceId: `/subscriptions/${ctx.subscriptionId}/resourcegroups/MC_${ctx.resourceGroup}_${ctx.name}_${ctx.location}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${ctx.name}-agentpool`,
    clientId: newId(),
    objectId: newId(),
  };
  return {
    kubernetesVersion: version,
    currentKubernetesVersion: version,
    dnsPrefix,
    fqdn: `${dnsPrefix.toLowerCase()}-${hash}.hcp.${ctx.location}.azmk8s.io`,
    azurePortalFQDN: `${dnsPrefix.toLowerCase()}-${hash}.portal.hcp.${ctx.location}.azmk8s.io`,
    agentPoolProfiles,
    linuxProfile: p.linuxProfile ?? existing.linuxProfile ?? null,
    windowsProfile: p.windowsProfile ?? existing.windowsProfile ?? null,
    servicePrincipalProfile: { clientId: 'msi' },
    addonProfiles: p.addonProfiles ?? existing.addonProfiles ?? {},
    nodeResourceGroup: existing.nodeResourceGroup ?? p.nodeResourceGroup ?? `MC_${ctx.resourceGroup}_${ctx.name}_${ctx.location}`,
    enableRBAC: p.enableRBAC ?? existing.enableRBAC ?? true,
    supportPlan: 'KubernetesOfficial',
    networkProfile,
    maxAgentPools: 100,
    disableLocalAccounts: p.disableLocalAccounts ?? existing.disableLocalAccounts ?? false,
    identityProfile: { kubeletidentity: kubelet },
    autoUpgradeProfile: { nodeOSUpgradeChannel: 'NodeImage' },
    oidcIssuerProfile: p.oidcIssuerProfile ?? existing.oidcIssuerProfile ?? { enabled: false },
    storageProfile: p.storageProfile ?? existing.storageProfile ?? {},
    securityProfile: p.securityProfile ?? existing.securityProfile ?? {},
  };
}

// ---- attached clusters (Kentra's own, no Azure counterpart) --------------------------------------------
// A cluster Kentra does not run (the Arc story of source document 004, for any Kubernetes): a
// managedCluster whose `properties.attachedClusterProfile` holds the API server URL and the CA of its
// serving certificate. Kentra keeps its Entra profile (always managed), answers its webhooks, and gives
// users the exec kubeconfig pointing at that server; it has no nodes, no local accounts and no power state.

export interface AttachedClusterProfile {
  /** The cluster's own API server URL (https). */
  serverUrl: string;
  /** Base64 of the PEM CA certificate(s) that sign the API server's certificate, as in a kubeconfig. */
  certificateAuthorityData: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** The PEM certificates of a CA bundle, each checked to parse as X.509; throws a 400 otherwise. */
export function caCertificates(pem: string, what = 'certificateAuthorityData'): string[] {
  const found = [...pem.matchAll(PEM_CERT)].map((m) => m[0]);
  const rest = pem.replace(PEM_CERT, '').trim();
  if (!found.length || rest)
    throw bad(
      `The ${what} must be PEM certificates only (-----BEGIN CERTIFICATE----- blocks): ${found.length ? 'found other text besides the certificates' : 'no certificate found'}.`,
      'InvalidAttachedClusterCA',
    );
  for (const cert of found) {
    try {
      new X509Certificate(cert);
    } catch {
      throw bad(`The ${what} holds a CERTIFICATE block that is not an X.509 certificate.`, 'InvalidAttachedClusterCA');
    }
  }
  return found;
}

/** Checks an attachedClusterProfile of a request and returns it normalized (URL without a trailing slash). */
export function parseAttachedProfile(input: unknown): AttachedClusterProfile {
  const p = (input ?? {}) as Record<string, unknown>;
  if (typeof input !== 'object' || Array.isArray(input) || input === null)
    throw bad('attachedClusterProfile must be an object with serverUrl and certificateAuthorityData.', 'InvalidAttachedClusterProfile');
  const raw = typeof p.serverUrl === 'string' ? p.serverUrl.trim() : '';
  if (!raw)
    throw bad("attachedClusterProfile.serverUrl is required: the https URL of the cluster's API server.", 'InvalidAttachedClusterServer');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad(
      `The server URL '${raw}' is not a URL. Pass the https URL of the cluster's API server, e.g. https://10.0.0.4:6443.`,
      'InvalidAttachedClusterServer',
    );
  }
  if (url.protocol !== 'https:')
    throw bad(`The server URL '${raw}' must use https: Kentra only attaches API servers that serve TLS.`, 'InvalidAttachedClusterServer');
  if (url.username || url.password || url.search || url.hash)
    throw bad(`The server URL '${raw}' must not hold credentials, a query or a fragment.`, 'InvalidAttachedClusterServer');
  const data = typeof p.certificateAuthorityData === 'string' ? p.certificateAuthorityData.trim() : '';
  if (!data)
    throw bad(
      "attachedClusterProfile.certificateAuthorityData is required: base64 of the PEM CA of the API server's certificate.",
      'InvalidAttachedClusterCA',
    );
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data))
    throw bad('attachedClusterProfile.certificateAuthorityData must be base64 (of PEM certificates).', 'InvalidAttachedClusterCA');
  const pem = Buffer.from(data, 'base64').toString('utf8');
  const certs = caCertificates(pem);
  return { serverUrl: url.href.replace(/\/+$/, ''), certificateAuthorityData: Buffer.from(`${certs.join('\n')}\n`).toString('base64') };
}

/** The PEM CA of an attached cluster. */
export const attachedCaPem = (p: AttachedClusterProfile): string => Buffer.from(p.certificateAuthorityData, 'base64').toString('utf8');

/** The properties Kentra keeps for an attached cluster: what it knows (version, server), nothing it would invent. */
export function attachedClusterProperties(input: Record<string, any>, existing: Record<string, any> | null): Record<string, any> {
  const profile = parseAttachedProfile(input.attachedClusterProfile);
  const version = parseVersion(input.kubernetesVersion || existing?.kubernetesVersion);
  if (input.enableRBAC === false)
    throw bad(
      'An attached cluster must use Kubernetes RBAC: the Entra admin groups are bound with a ClusterRoleBinding.',
      'AADWithoutRBACNotAllowed',
    );
  if (input.disableLocalAccounts === false)
    throw bad('Kentra holds no local account of an attached cluster, so local accounts cannot be enabled.', 'OperationNotAllowed');
  return {
    kubernetesVersion: version,
    currentKubernetesVersion: version,
    fqdn: new URL(profile.serverUrl).hostname,
    agentPoolProfiles: [],
    enableRBAC: true,
    disableLocalAccounts: true,
    supportPlan: 'KubernetesOfficial',
    attachedClusterProfile: profile,
    addonProfiles: {},
    identityProfile: null,
    oidcIssuerProfile: { enabled: false },
    securityProfile: {},
  };
}

/** True for an attached cluster's properties. */
export const isAttached = (props: Record<string, any> | null | undefined): boolean => !!props?.attachedClusterProfile;
