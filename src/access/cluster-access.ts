import { createPublicKey } from 'node:crypto';
import { AKS_SERVER_APP_ID, ARC_SERVER_APP_ID } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import { authenticatorChain, NO_ANSWER, type TokenAuthenticator, type UserInfo } from './authn.js';
import {
  alwaysAllowAuthorizer,
  authorizerChain,
  azureRbacStep,
  rbacAuthorizer,
  superUserAuthorizer,
  type AuthorizerChain,
  type ChainDecision,
} from './authz.js';
import { azureRbacAuthorizer, CLUSTER_TYPES, type AzureAuthorizer } from './azure-rbac.js';
import { entraTokenAuthenticator, type GroupLookup, type KeySource } from './entra.js';
import { popTokenAuthenticator } from './pop.js';
import {
  clientCertificateAuthenticator,
  LOCAL_ADMIN_USER,
  staticTokenAuthenticator,
  type ClientCertificateAuthenticator,
} from './local-accounts.js';
import type { AccessLogPort, ClusterSettings, ClusterSettingsSource, DataActionCheck, KubeObjectSource } from './ports.js';
import { authenticationRecord, authorizationRecord, webhookRecord, type CredentialSeen } from './access-log.js';
import type { WebhookReply } from './token-review.js';
import type { RbacObjects, RequestAttributes } from './rbac.js';
import { serviceAccountAuthenticator } from './service-accounts.js';
import { cachedTokenAuthenticator } from './token-cache.js';
import type { AuthnResult } from './authn.js';
import { isGuid } from '../shared/crypto.js';
import { Lru } from '../shared/lru.js';

// The one place a cluster's authenticators and authorizers are built: the built-in API, the
// webhooks (`kentra up` and `kentra webhook`), `check-access` and the apiserver runner all ask this
// service. Each cluster's chains are built once and kept, with their token and decision caches, until
// its settings change. A change made by any instance is seen within `settingsCheckMs` (default 250 ms,
// `kentra up --settings-check`): a request compares the record's revision (one indexed read,
// concurrent ones merged) unless this instance read it less than that long ago, and only a new
// revision re-reads the settings; only changed settings rebuild the chains. An ARM operation that
// changes them reports Succeeded after --provisioning-delay (default 1 s), so by then every instance
// answers with the new settings as long as the delay is not shorter than the check interval.
// Every cache here is bounded (the clusters kept, each one's token and decision caches): memory does
// not grow with the number of distinct tokens, users or clusters asked about.

export interface ClusterAccessPorts {
  settings: ClusterSettingsSource;
  keys: KeySource;
  groups: GroupLookup;
  dataActions: DataActionCheck;
  objects: KubeObjectSource;
  clock: Clock;
}

export interface ClusterAccessOptions extends ClusterAccessPorts {
  /** The service-account issuer of a cluster served by Kentra (`<authority>/clusters/<uid>`). */
  serviceAccountIssuer?(uid: string): string;
  /** How long RBAC objects are kept before they are read again (default 2 s; `rbacChanged` forgets them at once). */
  rbacTtlMs?: number;
  /**
   * Wraps each cluster's Entra token authenticator (before its cache): the hook for further token
   * checks such as proof-of-possession (src/access/pop.ts).
   */
  wrapEntra?(authenticate: TokenAuthenticator, settings: ClusterSettings): TokenAuthenticator;
  /** Where each decision of the webhooks and the built-in API is recorded (docs/access-log.md); none: not recorded. */
  accessLog?: AccessLogPort;
  /** Bounds of the per-instance caches. */
  caches?: AccessCacheOptions;
}

/** The per-instance caches' bounds (`kentra up --token-cache-size` …). */
export interface AccessCacheOptions {
  /** Clusters whose chains are kept (the least recently used is rebuilt when asked again). Default 1,000. */
  clusters?: number;
  /** Token results kept per cluster. Default 10,000. */
  tokens?: number;
  /** How long an authenticated result is kept (the API server's --authentication-token-webhook-cache-ttl). Default 2 minutes. */
  tokenTtlMs?: number;
  /** Azure RBAC decisions kept per cluster. Default 50,000. */
  decisions?: number;
  /** How long a cluster's revision read is reused before the next request reads it again; 0: every request reads it. Default 250 ms. */
  settingsCheckMs?: number;
}

export const DEFAULT_CLUSTER_CACHE_SIZE = 1_000;
export const DEFAULT_SETTINGS_CHECK_MS = 250;

/** One cluster's access, as built from its settings. */
export interface ClusterChains {
  settings: ClusterSettings;
  /** `<authority>/clusters/<uid>`: the service-account issuer and default token audience ('' when not served by Kentra). */
  issuer: string;
  /** Entra tokens only (the TokenReview webhook), cached. */
  authenticateEntra: TokenAuthenticator;
  /** The cluster API's bearer tokens: the local admin token, service-account tokens, Entra tokens. */
  authenticateToken: TokenAuthenticator;
  /** The local admin client certificates of the cluster's own CA. */
  authenticateCertificate: ClientCertificateAuthenticator;
  /** Guard's Azure RBAC authorizer (the SubjectAccessReview webhook). */
  azureRbac: AzureAuthorizer;
  /** The cluster API's authorizer chain: system:masters, RBAC (or AlwaysAllow), Azure RBAC when enabled. */
  authorize: AuthorizerChain;
}

interface Entry {
  revision: number;
  fingerprint: string;
  chains: ClusterChains;
  rbac: { objects: RbacObjects | null; until: number };
}

/** The server app a cluster's tokens are for: the AKS server app (managed), the Arc server app, or the legacy server app. */
export function serverAppIdsOf(s: ClusterSettings): string[] {
  if (s.serverAppIds) return s.serverAppIds;
  const aad = s.aad;
  if (!aad) return [];
  const server = s.kind === 'arc' ? ARC_SERVER_APP_ID : aad.managed ? AKS_SERVER_APP_ID : aad.serverAppID;
  return server ? [server] : [];
}

/** What the chains depend on; a change of anything else (tags, power state, node pools) keeps them and their caches. */
function fingerprintOf(s: ClusterSettings, origin: string): string {
  return JSON.stringify([
    s.resourceId,
    s.kind,
    s.enableRBAC,
    s.disableLocalAccounts,
    s.aad,
    s.serverAppIds,
    s.localCaPem,
    s.adminToken,
    s.serviceAccountKey?.kid,
    origin,
  ]);
}

export class ClusterAccessService {
  /** Per cluster and origin (the v2 issuer names the host the client used). */
  private readonly entries: Lru<string, Entry>;
  /** Each cluster's last revision read (or the read under way) and when it was started. */
  private readonly revisions: Lru<string, { read: Promise<number | null>; at: number; settled: boolean }>;
  private readonly rbacTtl: number;
  private readonly checkMs: number;

  constructor(private readonly o: ClusterAccessOptions) {
    this.rbacTtl = o.rbacTtlMs ?? 2_000;
    this.checkMs = o.caches?.settingsCheckMs ?? DEFAULT_SETTINGS_CHECK_MS;
    const clusters = o.caches?.clusters ?? DEFAULT_CLUSTER_CACHE_SIZE;
    this.entries = new Lru(clusters);
    this.revisions = new Lru(clusters);
  }

  /** How many clusters' chains are kept now (for tests and metrics). */
  get cachedClusters(): number {
    return this.entries.size;
  }

  /** The cluster's chains as its settings are now, or null when there is no such cluster. */
  async cluster(uid: string, origin: string): Promise<ClusterChains | null> {
    const key = `${uid}\n${origin}`;
    const revision = await this.revisionOf(uid);
    if (revision === null) {
      this.forget(uid);
      return null;
    }
    const hit = this.entries.get(key);
    // Revisions only grow: chains built from a newer read than the (reused) revision are current.
    if (hit && hit.revision >= revision) return hit.chains;
    const settings = await this.o.settings.settings(uid);
    if (!settings) {
      this.forget(uid);
      return null;
    }
    const fingerprint = fingerprintOf(settings, origin);
    if (hit && hit.fingerprint === fingerprint) {
      hit.revision = settings.revision;
      hit.chains.settings = settings;
      return hit.chains;
    }
    const entry = this.build(settings, origin, fingerprint);
    this.entries.set(key, entry);
    return entry.chains;
  }

  /** The user a bearer token stands for on the cluster (null: no such cluster). */
  async authenticate(uid: string, origin: string, token: string): Promise<AuthnResult | null> {
    const c = await this.cluster(uid, origin);
    return c ? c.authenticateToken({ token }) : null;
  }

  /** The cluster API's decision for a user and request, step by step (null: no such cluster). */
  async authorize(uid: string, origin: string, a: RequestAttributes): Promise<ChainDecision | null> {
    const c = await this.cluster(uid, origin);
    return c ? c.authorize({ ...a, user: withAuthenticated(a.user) }) : null;
  }

  // The access log: one call per decision, which only queues a closure; the entry is built when its
  // batch is written (src/access/access-log.ts), so a decision pays for a clock read and a push.

  /** Records an authentication decision of the built-in API. */
  recordAuthentication(settings: ClusterSettings, seen: CredentialSeen, result: AuthnResult): void {
    const log = this.o.accessLog;
    if (!log) return;
    const time = this.o.clock.now();
    log.record(() => authenticationRecord(settings, 'builtInApi', time, seen, result));
  }

  /** Records an authorization decision of the built-in API (its chain's answer). */
  recordAuthorization(settings: ClusterSettings, a: RequestAttributes, d: ChainDecision, seen: CredentialSeen): void {
    const log = this.o.accessLog;
    if (!log) return;
    const time = this.o.clock.now();
    log.record(() => authorizationRecord(settings, 'builtInApi', time, a, d, seen));
  }

  /** Records a webhook's answer (TokenReview: authentication; SubjectAccessReview: authorization). */
  recordWebhook(settings: ClusterSettings, review: 'tokenreviews' | 'subjectaccessreviews', body: unknown, reply: WebhookReply): void {
    const log = this.o.accessLog;
    if (!log) return;
    // Built now (about 1 µs) rather than when the batch is written: holding on to the request's body
    // until then made it outlive the young generation, and the garbage collector cost more than this.
    const entry = webhookRecord(settings, review, this.o.clock.now(), body, reply);
    if (entry) log.record(() => entry);
  }

  /** Forget cached RBAC objects after a write to them (other instances read them again within the TTL). */
  rbacChanged(uid: string): void {
    for (const [key, e] of this.entries) if (key.startsWith(`${uid}\n`)) e.rbac.until = 0;
  }

  private forget(uid: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${uid}\n`)) this.entries.delete(key);
  }

  /**
   * Concurrent requests for one cluster share one revision read, and a read is reused for
   * `settingsCheckMs` after it started (a failed read is never reused).
   */
  private revisionOf(uid: string): Promise<number | null> {
    const now = this.o.clock.now();
    const last = this.revisions.get(uid);
    if (last && (!last.settled || now - last.at < this.checkMs)) return last.read;
    const memo = { read: this.o.settings.revision(uid), at: now, settled: false };
    memo.read.then(
      () => {
        memo.settled = true;
        if (this.checkMs <= 0 && this.revisions.peek(uid) === memo) this.revisions.delete(uid);
      },
      () => {
        if (this.revisions.peek(uid) === memo) this.revisions.delete(uid);
      },
    );
    this.revisions.set(uid, memo);
    return memo.read;
  }

  private build(settings: ClusterSettings, origin: string, fingerprint: string): Entry {
    const { clock } = this.o;
    const uid = settings.uid;
    const entry: Entry = {
      revision: settings.revision,
      fingerprint,
      chains: undefined as unknown as ClusterChains,
      rbac: { objects: null, until: 0 },
    };
    const aad = settings.aad;
    const servers = serverAppIdsOf(settings);
    let entra: TokenAuthenticator = async () => NO_ANSWER;
    if (aad && servers.length) {
      entra = entraTokenAuthenticator({
        tenantId: aad.tenantID,
        audiences: servers.flatMap((id) => (isGuid(id) ? [id, `https://${id}`] : [id])),
        authorityOrigin: origin,
        keys: this.o.keys,
        groups: this.o.groups,
        clock,
      });
      // PoP (Guard's --azure.enable-pop): AKS Arc clusters take PoP tokens whose `u` is their ARM ID (kubelogin
      // --pop-claims u=<ARM ID>); on every cluster a key-bound (cnf) access token is refused as a bare bearer.
      entra = popTokenAuthenticator(entra, { hostname: settings.kind === 'arc' ? settings.resourceId : undefined, clock });
      if (this.o.wrapEntra) entra = this.o.wrapEntra(entra, settings);
    }
    const caches = this.o.caches ?? {};
    const authenticateEntra = cachedTokenAuthenticator(entra, {
      clock,
      ...(caches.tokens ? { maxEntries: caches.tokens } : {}),
      ...(caches.tokenTtlMs ? { successTtlMs: caches.tokenTtlMs } : {}),
    });
    const issuer = this.o.serviceAccountIssuer?.(uid) ?? '';
    const saKey = settings.serviceAccountKey;
    const saPublic = saKey ? createPublicKey(saKey.publicKeyPem) : null;
    const authenticateToken = authenticatorChain(
      ...(settings.adminToken
        ? [staticTokenAuthenticator({ token: settings.adminToken, user: LOCAL_ADMIN_USER, disabled: settings.disableLocalAccounts })]
        : []),
      ...(saKey && issuer
        ? [
            serviceAccountAuthenticator({
              issuer,
              publicKey: (kid) => (kid === saKey.kid ? saPublic! : undefined),
              apiAudiences: [issuer],
              clock,
              serviceAccount: async (ns, name) => {
                const saUid = await this.o.objects.serviceAccountUid(uid, ns, name);
                return saUid === null ? null : { uid: saUid };
              },
            }),
          ]
        : []),
      authenticateEntra,
    );
    const azureRbac: AzureAuthorizer = aad?.enableAzureRBAC
      ? azureRbacAuthorizer({
          dataActions: this.o.dataActions,
          clock,
          tenantId: aad.tenantID,
          clusterResourceId: settings.resourceId,
          clusterType: CLUSTER_TYPES[settings.kind],
          ...(caches.decisions ? { cacheSize: caches.decisions } : {}),
        })
      : async () => ({ allowed: false, reason: 'Azure RBAC is not enabled for this cluster.' });
    const objects = async (): Promise<RbacObjects> => {
      if (entry.rbac.objects && entry.rbac.until > clock.now()) return entry.rbac.objects;
      const fresh = await this.o.objects.rbacObjects(uid);
      entry.rbac = { objects: fresh, until: clock.now() + this.rbacTtl };
      return fresh;
    };
    entry.chains = {
      settings,
      issuer,
      authenticateEntra,
      authenticateToken,
      azureRbac,
      authenticateCertificate: clientCertificateAuthenticator({
        caPem: settings.localCaPem,
        localAccountsDisabled: settings.disableLocalAccounts,
        clock,
      }),
      authorize: authorizerChain([
        superUserAuthorizer,
        settings.enableRBAC ? rbacAuthorizer(objects) : alwaysAllowAuthorizer,
        ...(aad?.enableAzureRBAC ? [azureRbacStep(azureRbac)] : []),
      ]),
    };
    return entry;
  }
}

/** The kube-apiserver adds system:authenticated to every authenticated user. */
export function withAuthenticated(user: UserInfo): UserInfo {
  return user.groups.includes('system:authenticated') ? user : { ...user, groups: [...user.groups, 'system:authenticated'] };
}
