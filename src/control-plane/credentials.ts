import { X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';
import { AKS_CLIENT_APP_ID, AKS_SERVER_APP_ID, v1Issuer } from '../identity/index.js';
import { loadCertificateAuthority } from '../pki/index.js';
import { isAzureOrigin } from '../shared/azure-hosts.js';
import { ArmError } from './arm.js';
import { clusterSecretsOf, withClusterSecrets } from './cluster-record.js';
import type { ArmResource, Store } from '../store/index.js';
import type { AadProfile } from './cluster-model.js';

// The kubeconfigs of listClusterUserCredential / listClusterAdminCredential, shaped as AKS returns
// them (reference/kubelogin.md §2.3–2.5), plus what makes the exec one reach this Kentra.

const INSTALL_HINT =
  '\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\nTo learn more, please go to https://aka.ms/aks/kubelogin\n';

export interface ClusterEndpoint {
  name: string;
  resourceGroup: string;
  /** The API server URL kubectl uses. */
  server: string;
  /** The CA that signs the API server's certificate (base64 PEM in the kubeconfig). */
  serverCaPem: string;
  kubernetesVersion: string;
  aad: AadProfile | null;
}

function kubeconfig(c: ClusterEndpoint, userName: string, user: Record<string, unknown>, contextName = c.name): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [
      { cluster: { 'certificate-authority-data': Buffer.from(c.serverCaPem).toString('base64'), server: c.server }, name: c.name },
    ],
    contexts: [{ context: { cluster: c.name, user: userName }, name: contextName }],
    'current-context': contextName,
    kind: 'Config',
    preferences: {},
    users: [{ name: userName, user }],
  });
}

/** The Entra user credential: exec (kubelogin) or the legacy azure auth-provider. */
export function userKubeconfig(
  c: ClusterEndpoint,
  format: 'exec' | 'azure',
  authority: string,
  apps?: { serverId: string; clientId: string },
): string {
  const aad = c.aad!;
  const serverId = apps?.serverId ?? (aad.managed ? AKS_SERVER_APP_ID : aad.serverAppID!);
  const clientId = apps?.clientId ?? (aad.managed ? AKS_CLIENT_APP_ID : aad.clientAppID!);
  const userName = `clusterUser_${c.resourceGroup}_${c.name}`;
  if (format === 'azure') {
    return kubeconfig(c, userName, {
      'auth-provider': {
        config: {
          'apiserver-id': serverId,
          'client-id': clientId,
          'config-mode': aad.managed ? '1' : '',
          environment: 'AzurePublicCloud',
          'tenant-id': aad.tenantID,
        },
        name: 'azure',
      },
    });
  }
  return kubeconfig(c, userName, {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      // AKS's argument order, then what points kubelogin at this Kentra instead of login.microsoftonline.com;
      // reached at Microsoft's names (--azure-hostnames), exactly what AKS writes, for kubelogin unchanged.
      args: [
        'get-token',
        '--environment',
        'AzurePublicCloud',
        '--server-id',
        serverId,
        '--client-id',
        clientId,
        '--tenant-id',
        aad.tenantID,
        '--login',
        'devicecode',
        ...(isAzureOrigin(authority) ? [] : ['--authority-host', `${authority}/`, '--disable-instance-discovery']),
      ],
      command: 'kubelogin',
      env: null,
      installHint: INSTALL_HINT,
      provideClusterInfo: false,
    },
  });
}

export type CertificateCredentialKind = 'clusterAdmin' | 'clusterUser' | 'clusterMonitoringUser';
type CertificateAndKey = { certPem: string; keyPem: string };

/** Where a cluster keeps the client certificates it issued, so that each call returns the same one (as AKS does). */
export interface IssuedClientCertificates {
  get(kind: CertificateCredentialKind): CertificateAndKey | undefined;
  /** Keeps `cert` unless another request stored one first; returns the one kept. */
  put(kind: CertificateCredentialKind, cert: CertificateAndKey): Promise<CertificateAndKey>;
}

/** The client certificates of a cluster resource, in its secrets (next to the CA that issues them). */
export function storedClientCertificates(store: Pick<Store, 'updateResource'>, res: ArmResource): IssuedClientCertificates {
  const all = () => clusterSecretsOf(res).clientCertificates;
  return {
    get: (kind) => all()[kind],
    async put(kind, cert) {
      const updated = await store.updateResource(res.id, (x) => {
        const current = clusterSecretsOf(x).clientCertificates;
        const kept = current[kind];
        return kept && kept.certPem !== all()[kind]?.certPem
          ? x
          : withClusterSecrets(x, { clientCertificates: { ...current, [kind]: cert } });
      });
      return (updated ? clusterSecretsOf(updated).clientCertificates[kind] : undefined) ?? cert;
    },
  };
}

/** A stored certificate is reused while the current CA issued it and it has more than 30 days left. */
function stillGood(cert: CertificateAndKey | undefined, caPem: string, now = Date.now()): cert is CertificateAndKey {
  if (!cert) return false;
  try {
    const x = new X509Certificate(cert.certPem);
    return x.checkIssued(new X509Certificate(caPem)) && Date.parse(x.validTo) - now > 30 * 86_400_000;
  } catch {
    return false;
  }
}

/**
 * A client certificate credential signed by the cluster's own CA (local accounts, and non-Entra clusters'
 * users). With `issued`, the certificate is made once per cluster and kind and returned on every call, so
 * that `get-credentials --admin` run twice merges silently, as with AKS.
 */
export async function certificateKubeconfig(
  c: ClusterEndpoint,
  kind: CertificateCredentialKind,
  ca: CertificateAndKey,
  token: string,
  issued?: IssuedClientCertificates,
): Promise<string> {
  let cert = issued?.get(kind);
  if (!stillGood(cert, ca.certPem)) {
    const authority = await loadCertificateAuthority(ca.certPem, ca.keyPem);
    const identity =
      kind === 'clusterMonitoringUser'
        ? { commonName: 'monitoringclient', organizations: ['system:monitoring'] }
        : { commonName: 'masterclient', organizations: ['system:masters'] };
    const fresh = await authority.issue({ ...identity, usage: 'client', days: 730 });
    cert = issued ? await issued.put(kind, { certPem: fresh.certPem, keyPem: fresh.keyPem }) : fresh;
  }
  return kubeconfig(c, `${kind}_${c.resourceGroup}_${c.name}`, {
    'client-certificate-data': Buffer.from(cert.certPem).toString('base64'),
    'client-key-data': Buffer.from(cert.keyPem).toString('base64'),
    token,
  });
}

/**
 * The kubeconfig a kube-apiserver uses to call the cluster's TokenReview webhook on Kentra
 * (`--authentication-token-webhook-config-file`): the webhook URL, Kentra's CA, and a client
 * certificate from Kentra's CA bound to this cluster (subject O=`cluster:<uid>`).
 */
export function webhookKubeconfig(c: ClusterEndpoint, clientCert: { certPem: string; keyPem: string }): string {
  return kubeconfig(
    { ...c, name: 'kentra-webhook' },
    'kube-apiserver',
    {
      'client-certificate-data': Buffer.from(clientCert.certPem).toString('base64'),
      'client-key-data': Buffer.from(clientCert.keyPem).toString('base64'),
    },
    'webhook',
  );
}

export function localAccountsDisabled(): ArmError {
  return new ArmError(400, 'BadRequest', 'Getting static credential is not allowed because this cluster is set to disable local accounts.');
}

export function credentialResults(name: string, yaml: string): { kubeconfigs: { name: string; value: string }[] } {
  return { kubeconfigs: [{ name, value: Buffer.from(yaml).toString('base64') }] };
}

/** The apiVersion of AuthenticationConfiguration a kube-apiserver of this version reads: v1 from 1.34 (GA), v1beta1 from 1.30. */
export function authenticationConfigApiVersion(kubernetesVersion: string): { apiVersion: string; supported: boolean } {
  const minor = Number(kubernetesVersion.split('.')[1]);
  return { apiVersion: minor >= 34 ? 'apiserver.config.k8s.io/v1' : 'apiserver.config.k8s.io/v1beta1', supported: minor >= 30 };
}

/**
 * The structured authentication configuration (`--authentication-config`, kube-apiserver 1.30+) that
 * accepts the same Entra tokens as the cluster's TokenReview webhook, without calling Kentra per token:
 * one JWT authenticator per issuer Kentra uses for the tenant (v1 `https://sts.windows.net/<tid>/`, whose
 * discovery is served by Kentra, and v2 `<origin>/<tid>/v2.0`), the server app's audiences (app ID,
 * `https://` identifier URI, and their `spn:` forms), `tid` pinned to the tenant, username `upn` or else
 * `oid` (as the webhook), groups from the `groups` claim. What it cannot do is in the README
 * (group overage, the `oid` extra Azure RBAC needs, Guard's messages).
 */
export function authenticationConfiguration(c: { aad: AadProfile; kubernetesVersion: string }, origin: string, caPem: string): string {
  const server = c.aad.managed ? AKS_SERVER_APP_ID : c.aad.serverAppID!;
  const tid = c.aad.tenantID;
  const audiences = [server, `https://${server}`];
  const base = origin.replace(/\/+$/, '');
  const authenticator = (url: string, discoveryURL?: string) => ({
    issuer: {
      url,
      ...(discoveryURL ? { discoveryURL } : {}),
      certificateAuthority: caPem,
      audiences: [...audiences, ...audiences.map((a) => `spn:${a}`)],
      audienceMatchPolicy: 'MatchAny',
    },
    claimValidationRules: [{ claim: 'tid', requiredValue: tid }],
    claimMappings: {
      username: { expression: "has(claims.upn) && claims.upn != '' ? claims.upn : claims.oid" },
      groups: { claim: 'groups', prefix: '' },
    },
    userValidationRules: [
      {
        expression: "!user.username.startsWith('system:')",
        message: 'usernames starting with system: are reserved for Kubernetes components',
      },
    ],
  });
  return stringify({
    apiVersion: authenticationConfigApiVersion(c.kubernetesVersion).apiVersion,
    kind: 'AuthenticationConfiguration',
    jwt: [authenticator(v1Issuer(tid), `${base}/${tid}/.well-known/openid-configuration`), authenticator(`${base}/${tid}/v2.0`)],
  });
}

/** The refusal of a local (certificate) credential for a cluster Kentra does not run. */
export function attachedNoLocalCredential(name: string): ArmError {
  return new ArmError(
    400,
    'OperationNotAllowed',
    `The cluster '${name}' is attached: Kentra does not run it and holds no admin or local credential for it. Use the cluster's own admin kubeconfig, or the Entra user credential (kentra aks get-credentials without --admin).`,
  );
}
