import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import {
  controlPlaneAccessPorts,
  registerAdminRoutes,
  registerCheckAccessRoutes,
  registerAccessLogRoutes,
  StoreAccessLog,
  DEFAULT_ACCESS_LOG_RETENTION_DAYS,
  registerArcRoutes,
  registerManagedClusterRoutes,
  registerSubscriptionRoutes,
  type ControlPlaneOptions,
} from './control-plane/index.js';
import {
  DEFAULT_RATE_LIMITS,
  DEFAULT_SIGN_IN_LOG_RETENTION_DAYS,
  DirectoryReadCache,
  Directory,
  SignInLog,
  KeyRing,
  TokenVerifier,
  registerGraphRoutes,
  graphRoutableUrl,
  registerManagedIdentityRoute,
  registerOAuthRoutes,
  type IdentityServices,
  type KeyRotationPolicy,
  type RateLimits,
} from './identity/index.js';
import { KEY_RELOAD_INTERVAL_MS } from './identity/tokens/keys.js';
import { loadOrCreateCertificateAuthority, type CertificateAndKey, type CertificateAuthority } from './pki/index.js';
import { applySeed, loadSeedFile, parseSeed, type SeedFile } from './seed/seed.js';
import { createServer } from './server/app.js';
import { AZURE_HOST_NAMES, ENTRA_AUTHORITY_ORIGIN, isAzureOrigin } from './shared/azure-hosts.js';
import { systemClock, type Clock } from './shared/clock.js';
import { newId, randomToken } from './shared/crypto.js';
import { sealerForDataDir } from './shared/key-sealing.js';
import { openStore, storeKind, type Store } from './store/index.js';
import { ClusterAccessService, registerAccessWebhooks, webhookOrganization, type AccessCacheOptions } from './access/index.js';
import { registerClusterApi, type ClusterApi } from './sandbox/index.js';
import { binariesFrom, RealClusters } from './apiserver/index.js';
import { registerAuthorize } from './web/authorize.js';
import { registerDeviceLogin } from './web/device-login.js';
import { registerLogout } from './web/logout.js';
import { registerPortal } from './web/portal.js';

export interface KentraOptions {
  /** Default `$KENTRA_DATA_DIR` or `~/.kentra`. */
  dataDir?: string;
  /** Default 8443; 0 picks a free port. */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  listen?: string;
  /** Extra host names for the serving certificate and the issuer. */
  hosts?: string[];
  /**
   * Serve Microsoft's own host names (login.microsoftonline.com, management.azure.com, graph.microsoft.com, …)
   * on port 443 of the listen address, with certificates from Kentra's CA, for clients left unchanged (issue 19).
   */
  azureHostnames?: boolean;
  /** Store URL; default the embedded SQLite file in the data directory. */
  store?: string;
  /** A seed file path, YAML text, or a parsed seed. */
  seed?: string | SeedFile;
  /** Seconds between device-code polls the server asks for (Entra: 5). */
  deviceCodeInterval?: number;
  /** How long cluster creates, updates and deletes stay in progress (default 1 s). */
  provisioningDelayMs?: number;
  rateLimits?: Partial<RateLimits>;
  keyRotation?: KeyRotationPolicy;
  logLevel?: string;
  logger?: Logger;
  /** A kube-apiserver binary: each managed cluster then gets a real API server (with `etcd`). Default `$KENTRA_KUBE_APISERVER`. */
  kubeApiserver?: string;
  /** The etcd binary for those API servers. Default `$KENTRA_ETCD`. */
  etcd?: string;
  clock?: Clock;
  /** The key that seals private keys at rest (32 bytes, base64 or hex). Default `$KENTRA_KEY_ENCRYPTION_KEY`, else derived from the data directory's CA key. */
  keyEncryptionKey?: string;
  /** Bytes of opened private material kept in memory (default 16 MiB; 0: none): `--sealed-cache-mb`. */
  sealedCacheBytes?: number;
  /** Days the sign-in log keeps a row (default 30). */
  signInLogRetentionDays?: number;
  /** Days the cluster access log keeps a decision (default 30). */
  accessLogRetentionDays?: number;
  /** false: no sign-in log (for the logs' cost benchmark only). */
  signInLog?: boolean;
  /** false: no cluster access log (for the logs' cost benchmark only). */
  accessLog?: boolean;
  /** Bounds of the access layer's per-instance caches (`--token-cache-size` …). */
  accessCaches?: AccessCacheOptions & { groups?: number };
  /** Tokens whose signature ARM and Graph checked, kept by hash (default 10,000; 0: none): `--verified-token-cache-size`. */
  verifiedTokenCacheSize?: number;
}

/** What `endpoints.json` holds; scripts rely on these keys. */
export interface Endpoints {
  authority: string;
  tenantId: string;
  tenantDomain: string;
  subscriptionId: string;
  armEndpoint: string;
  graphEndpoint: string;
  deviceLoginUrl: string;
  adfsAuthority: string;
  caFile: string;
  /** With --azure-hostnames: the names served on port 443 and the address they must resolve to. */
  azureHostnames?: { address: string; names: string[] };
  dataDir: string;
  admin: { userPrincipalName: string; password: string; objectId: string };
  servicePrincipal: { appId: string; secret: string; objectId: string; displayName: string };
  env: Record<string, string>;
}

export interface RunningKentra {
  endpoints: Endpoints;
  store: Store;
  services: IdentityServices;
  port: number;
  close(): Promise<void>;
}

export function defaultDataDir(): string {
  return resolve(process.env.KENTRA_DATA_DIR || join(homedir(), '.kentra'));
}

const BOOTSTRAP_KEY = 'bootstrap';
const FORM_KEY = 'form-key';
export const BOOTSTRAP_DOMAIN = 'kentra.onmicrosoft.com';

interface BootstrapRecord {
  tenantId: string;
  subscriptionId: string;
  adminUpn: string;
  adminId: string;
  spAppId: string;
  spObjectId: string;
  spName: string;
}

/**
 * First start: the tenant, the admin, the bootstrap service principal and the subscription.
 *
 * Several instances starting at once on one empty store create them once: the bootstrap record is
 * claimed with `insertMetaIfAbsent` as the first write of the transaction that creates everything, so
 * a racing instance waits for the winner's commit, loses the claim, rolls back, and uses the winner's
 * record. The winner's first-party apps go in the same transaction, so the loser finds them made.
 * The bootstrap password and secret are only in the winner's endpoints.json: a loser sharing the data
 * directory waits briefly for that file and reuses them.
 */
async function bootstrap(
  store: Store,
  clock: Clock,
  dataDir: string,
): Promise<{ record: BootstrapRecord; secrets: { password: string; secret: string } | null }> {
  const saved = await store.getMeta(BOOTSTRAP_KEY);
  if (saved)
    return {
      record: JSON.parse(saved) as BootstrapRecord,
      secrets: readSavedSecrets(dataDir, (JSON.parse(saved) as BootstrapRecord).tenantId),
    };
  const record: BootstrapRecord = {
    tenantId: newId(),
    subscriptionId: newId(),
    adminUpn: `admin@${BOOTSTRAP_DOMAIN}`,
    adminId: newId(),
    spAppId: newId(),
    spObjectId: newId(),
    spName: 'kentra-bootstrap',
  };
  const password = `Kt-${randomToken(18)}`;
  const secret = `Kt${randomToken(3).slice(0, 1)}8Q~${randomToken(30).slice(0, 36)}`;
  const seed: SeedFile = {
    tenants: [
      {
        id: record.tenantId,
        displayName: 'Kentra',
        domain: BOOTSTRAP_DOMAIN,
        users: [
          {
            userPrincipalName: record.adminUpn,
            id: record.adminId,
            displayName: 'Kentra Administrator',
            password,
            directoryRoles: ['Global Administrator'],
          },
        ],
        applications: [
          {
            displayName: record.spName,
            appId: record.spAppId,
            secrets: [{ value: secret, displayName: 'bootstrap' }],
            servicePrincipal: { id: record.spObjectId },
            adminConsent: true,
            graphPermissions: {
              application: ['Directory.ReadWrite.All', 'Application.ReadWrite.All', 'Group.ReadWrite.All', 'User.ReadWrite.All'],
            },
          },
        ],
        subscriptions: [
          {
            id: record.subscriptionId,
            displayName: 'Kentra Subscription',
            roleAssignments: [
              { principal: record.adminUpn, role: 'Owner' },
              { principal: `app:${record.spAppId}`, role: 'Owner' },
            ],
          },
        ],
      },
    ],
  };
  const won = await store.transaction(async (tx) => {
    if (!(await tx.insertMetaIfAbsent(BOOTSTRAP_KEY, JSON.stringify(record)))) return false;
    await applySeed(tx, clock, seed);
    await new Directory(tx, clock).ensureFirstPartyApps(record.tenantId);
    return true;
  });
  if (won) return { record, secrets: { password, secret } };
  // Another instance bootstrapped first: its record, and its secrets once it has written them.
  const winner = JSON.parse((await store.getMeta(BOOTSTRAP_KEY))!) as BootstrapRecord;
  let secrets = readSavedSecrets(dataDir, winner.tenantId);
  for (let i = 0; !secrets && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    secrets = readSavedSecrets(dataDir, winner.tenantId);
  }
  return { record: winner, secrets };
}

function readSavedSecrets(dataDir: string, tenantId: string): { password: string; secret: string } | null {
  try {
    const saved = JSON.parse(readFileSync(join(dataDir, 'endpoints.json'), 'utf8')) as Endpoints;
    // Only the secrets of this deployment, and only real ones (an instance that never saw them writes a placeholder).
    if (saved.tenantId !== tenantId || saved.admin.password.startsWith('(') || saved.servicePrincipal.secret.startsWith('(')) return null;
    return { password: saved.admin.password, secret: saved.servicePrincipal.secret };
  } catch {
    return null;
  }
}

/** The key that signs form state: one per deployment, so a form served by one instance posts to another. */
async function formKey(store: Store): Promise<Buffer> {
  const existing = await store.getMeta(FORM_KEY);
  if (existing) return Buffer.from(existing, 'base64');
  // Claimed, not overwritten: of instances starting at once, one key wins and all read that one.
  await store.insertMetaIfAbsent(FORM_KEY, randomBytes(32).toString('base64'));
  return Buffer.from((await store.getMeta(FORM_KEY))!, 'base64');
}

/** The serving certificate, reissued when the host list changes or it nears expiry. */
async function servingCertificate(
  dataDir: string,
  hosts: string[],
): Promise<CertificateAndKey & { caPem: string; ca: CertificateAuthority }> {
  const ca = await loadOrCreateCertificateAuthority(dataDir, 'Kentra Local CA');
  const certFile = join(dataDir, 'server.pem');
  const keyFile = join(dataDir, 'server-key.pem');
  const hostsFile = join(dataDir, 'server-hosts.json');
  const wanted = JSON.stringify([...new Set(hosts)].sort());
  if (existsSync(certFile) && existsSync(keyFile) && existsSync(hostsFile) && readFileSync(hostsFile, 'utf8') === wanted) {
    const { X509Certificate } = await import('node:crypto');
    const certPem = readFileSync(certFile, 'utf8');
    const x509 = new X509Certificate(certPem);
    if (Date.parse(x509.validTo) - Date.now() > 30 * 24 * 3600 * 1000 && x509.checkIssued(new X509Certificate(ca.certPem))) {
      return { certPem, keyPem: readFileSync(keyFile, 'utf8'), certDer: x509.raw, caPem: ca.certPem, ca };
    }
  }
  const dnsNames = hosts.filter((h) => !/^[\d.]+$|:/.test(h));
  const ipAddresses = hosts.filter((h) => /^[\d.]+$|:/.test(h));
  const cert = await ca.issue({ commonName: 'localhost', dnsNames, ipAddresses, usage: 'server' });
  writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
  writeFileSync(certFile, cert.certPem);
  writeFileSync(hostsFile, wanted);
  return { ...cert, caPem: ca.certPem, ca };
}

function randomLifetime(): number {
  // Entra hands out access tokens living a random 60 to 90 minutes.
  return 3600 + Math.floor(Math.random() * 1800);
}

/** Starts the whole stack in this process: the programmatic form of `kentra up`. */
export async function startKentra(opts: KentraOptions = {}): Promise<RunningKentra> {
  // What cannot work is refused before anything is written (the data directory, its CA, the store): a
  // store URL of no kind Kentra opens, and a seed that cannot be read or parsed.
  storeKind(opts.store);
  const seedToApply = !opts.seed
    ? null
    : typeof opts.seed === 'string' && !opts.seed.includes('\n')
      ? loadSeedFile(opts.seed)
      : { seed: typeof opts.seed === 'string' ? parseSeed(opts.seed) : opts.seed, baseDir: process.cwd() };
  const dataDir = resolve(opts.dataDir ?? defaultDataDir());
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? pino({ level: opts.logLevel ?? process.env.KENTRA_LOG_LEVEL ?? 'info' });
  const hosts = [...new Set(['localhost', '127.0.0.1', '::1', ...(opts.hosts ?? [])])];
  const tls = await servingCertificate(dataDir, opts.azureHostnames ? [...hosts, ...AZURE_HOST_NAMES] : hosts);
  const caFile = join(dataDir, 'ca.pem');

  const store = await openStore({
    url: opts.store,
    dataDir,
    sealer: sealerForDataDir(dataDir, opts.keyEncryptionKey, opts.sealedCacheBytes),
  });
  try {
    const { record, secrets } = await bootstrap(store, clock, dataDir);
    if (seedToApply) await applySeed(store, clock, seedToApply.seed, seedToApply.baseDir);
    const directoryAtStart = new Directory(store, clock);
    for (const t of await store.listTenants()) await directoryAtStart.ensureFirstPartyApps(t.id);
    const keys = new KeyRing(store, clock, opts.keyRotation);
    await keys.refresh();

    let port = opts.port ?? 8443;
    const localAuthority = () => `https://localhost${port === 443 ? '' : `:${port}`}`;
    const allowedHosts = hosts.map((h) => (h.includes(':') ? `[${h}]` : h));
    const isOwnOrigin = (url: string): boolean => {
      try {
        const u = new URL(url);
        return u.protocol === 'https:' && allowedHosts.includes(u.hostname.toLowerCase()) && Number(u.port || 443) === port;
      } catch {
        return false;
      }
    };
    // v2 tokens name this server as issuer: the verifier accepts no other host (RFC 8725 §3.8). Serving
    // Microsoft's names, this server is also login.microsoftonline.com, and only then.
    const isIssuerOrigin = (origin: string) => isOwnOrigin(origin) || (!!opts.azureHostnames && origin === ENTRA_AUTHORITY_ORIGIN);
    const verifier = new TokenVerifier(keys, clock, { isOwnOrigin: isIssuerOrigin, cacheSize: opts.verifiedTokenCacheSize });
    const services: IdentityServices = {
      store,
      directory: new Directory(store, clock),
      keys,
      clock,
      formKey: await formKey(store),
      rateLimits: { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits },
      accessTokenLifetime: randomLifetime,
      isOwnOrigin,
      deviceCodeLifetime: 900,
      devicePollInterval: opts.deviceCodeInterval ?? 5,
      outboundCaPem: tls.caPem,
      signInLog:
        opts.signInLog === false
          ? undefined
          : new SignInLog(store, clock, {
              retentionDays: opts.signInLogRetentionDays ?? DEFAULT_SIGN_IN_LOG_RETENTION_DAYS,
              onError: (message) => logger.error(message),
            }),
    };
    const accessLog =
      opts.accessLog === false
        ? undefined
        : new StoreAccessLog(store, clock, {
            retentionDays: opts.accessLogRetentionDays ?? DEFAULT_ACCESS_LOG_RETENTION_DAYS,
            onError: (message) => logger.error(message),
          });
    services.directoryCache = new DirectoryReadCache(services);
    const { app, edge, direct } = createServer({
      tls: { key: tls.keyPem, cert: `${tls.certPem}${tls.caPem}` },
      logger,
      hosts: allowedHosts,
      port: () => port,
      azureHostnames: opts.azureHostnames ? { port: 443 } : undefined,
      ready: async () => (await store.getMeta(BOOTSTRAP_KEY)) !== null,
      rewriteUrl: graphRoutableUrl,
    });
    registerOAuthRoutes(app, services, verifier, edge);
    registerDeviceLogin(app, services);
    registerAuthorize(app, services, edge);
    registerLogout(app, services, verifier, edge);
    registerPortal(app);
    registerSubscriptionRoutes(app, store, verifier, edge);
    registerGraphRoutes(app, services, verifier, edge);
    registerManagedIdentityRoute(app, services, edge);
    const directory = services.directory;
    const canonicalAuthority = () => `https://localhost${port === 443 ? '' : `:${port}`}`;
    // The one cluster-access service: the built-in API, the webhooks, check-access and the runner share its chains and caches.
    const access = new ClusterAccessService({
      // A kid this instance has not loaded yet (rotated in by another instance) is looked up in the store once.
      ...controlPlaneAccessPorts(
        store,
        { publicKey: (kid) => keys.publicKey(kid) ?? keys.publicKeyOrReload(kid) },
        clock,
        opts.accessCaches?.groups,
      ),
      serviceAccountIssuer: (uid) => `${canonicalAuthority()}/clusters/${uid}`,
      accessLog,
      caches: opts.accessCaches,
    });
    const binaries = binariesFrom({ kubeApiserver: opts.kubeApiserver, etcd: opts.etcd });
    let real: RealClusters | undefined;
    const directoryCache = services.directoryCache;
    const controlPlane: ControlPlaneOptions = {
      store,
      verifier,
      edge,
      cachedReads: async (resourceId) => {
        if (resourceId === undefined) return { store: (await directoryCache.forRequest()).store };
        const { resource, directoryRevision } = await store.getResourceAndDirectoryRevision(resourceId);
        return { store: directoryCache.at(directoryRevision).store, resource };
      },
      clock,
      provisioningDelayMs: opts.provisioningDelayMs ?? 1000,
      serverCaPem: tls.caPem,
      // Reached by ARM at management.azure.com, a cluster's API server is still Kentra's own listener.
      clusterServer: (origin, uid) => real?.serverOf(uid) ?? `${isAzureOrigin(origin) ? localAuthority() : origin}/clusters/${uid}`,
      clusterReady: binaries ? async (uid) => (real ? real.ensure(uid) : 'Kentra is still starting') : undefined,
      kubernetesVersion: binaries?.kubernetesVersion,
      webhookClientCertificate: (uid) =>
        tls.ca.issue({ commonName: 'kube-apiserver', organizations: [webhookOrganization(uid)], usage: 'client', days: 365 }),
      isGroup: async (tenantId, id) => {
        const type = await directory.objectType(tenantId, id);
        return type === null ? null : type === 'group';
      },
      // check-access answers with the built-in API's view: its objects (the admin-group binding) brought in step first.
      clusterAccess: {
        authenticate: async (uid, origin, token) =>
          (await clusterApi?.clusters.get(uid, origin)) ? access.authenticate(uid, origin, token) : null,
        authorize: async (uid, origin, a) => ((await clusterApi?.clusters.get(uid, origin)) ? access.authorize(uid, origin, a) : null),
      },
    };
    registerManagedClusterRoutes(app, controlPlane);
    registerArcRoutes(app, controlPlane);
    registerCheckAccessRoutes(app, controlPlane);
    registerAccessLogRoutes(app, controlPlane);
    registerAccessWebhooks(app, { access, clock, caPem: tls.caPem, originOf: (req) => edge.originOf(req), direct });
    const clusterApi: ClusterApi = registerClusterApi(app, {
      store,
      clock,
      access,
      serverCaPem: tls.caPem,
      originOf: (req) => edge.originOf(req),
      externalServer: (uid) => real?.serverOf(uid) ?? null,
    });
    registerAdminRoutes(app, {
      store,
      verifier,
      edge,
      now: () => clock.now(),
      principalType: async (tenantId, id) => {
        const type = await directory.objectType(tenantId, id);
        return type === 'user' ? 'User' : type === 'group' ? 'Group' : type === 'servicePrincipal' ? 'ServicePrincipal' : null;
      },
    });

    await services.signInLog?.prune();
    await accessLog?.prune();
    const listen = opts.listen ?? '127.0.0.1';
    await app.listen({ port, host: listen });
    const address = app.server.address();
    if (address && typeof address === 'object') port = address.port;
    // Microsoft's names on 443: a second listener handing its connections to the same HTTPS server
    // (same certificate, routes and host routing), unless the main listener is on 443 already.
    let hostnameListener: TcpServer | undefined;
    if (opts.azureHostnames && port !== 443) {
      const server = createTcpServer((socket) => app.server.emit('connection', socket));
      hostnameListener = server;
      try {
        await new Promise<void>((resolvePromise, reject) => {
          server.once('error', reject);
          server.listen(443, listen, () => {
            server.off('error', reject);
            resolvePromise();
          });
        });
      } catch (err) {
        await app.close();
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EACCES')
          throw new Error(
            `--azure-hostnames needs port 443 on ${listen}, which this user may not open: run kentra as root, or allow it with \`sudo setcap cap_net_bind_service=+ep $(command -v node)\` (Linux)`,
            { cause: err },
          );
        if (e.code === 'EADDRINUSE')
          throw new Error(`--azure-hostnames needs port 443 on ${listen}, which something else already listens on`, { cause: err });
        throw err;
      }
    }

    // Every few seconds the key list is re-read (a rotation by another instance or `kentra keys rotate`
    // is seen within that); every minute the policy's rotation runs (under the store's key lock, so
    // instances never add two keys) and expired rows are purged (idempotent deletes, safe on every instance).
    let ticks = 0;
    const timer = setInterval(() => {
      const minute = ++ticks % Math.round(60_000 / KEY_RELOAD_INTERVAL_MS) === 0;
      (minute ? keys.refresh() : keys.reload()).catch((err) =>
        logger.error({ err: { message: (err as Error).message } }, minute ? 'key rotation failed' : 'key reload failed'),
      );
      if (minute)
        store.purgeExpired(clock.now()).catch((err) => logger.error({ err: { message: (err as Error).message } }, 'purge failed'));
      if (minute)
        services.signInLog?.prune().catch((err) => logger.error({ err: { message: (err as Error).message } }, 'sign-in log prune failed'));
      if (minute) accessLog?.prune().catch((err) => logger.error({ err: { message: (err as Error).message } }, 'access log prune failed'));
    }, KEY_RELOAD_INTERVAL_MS);
    timer.unref();

    const authority = localAuthority();
    if (binaries) {
      real = new RealClusters({
        binaries,
        dir: join(dataDir, 'clusters'),
        store,
        access,
        ca: tls.ca,
        authority: () => authority,
        webhookOrganization,
        logger,
      });
      await real.start();
    }
    const endpoints: Endpoints = {
      authority,
      tenantId: record.tenantId,
      tenantDomain: BOOTSTRAP_DOMAIN,
      subscriptionId: record.subscriptionId,
      armEndpoint: `${authority}/`,
      graphEndpoint: `${authority}/`,
      deviceLoginUrl: `${authority}/devicelogin`,
      adfsAuthority: `${authority}/adfs`,
      caFile,
      dataDir,
      ...(opts.azureHostnames
        ? { azureHostnames: { address: /^(0\.0\.0\.0|::)$/.test(listen) ? '127.0.0.1' : listen, names: [...AZURE_HOST_NAMES] } }
        : {}),
      admin: {
        userPrincipalName: record.adminUpn,
        password: secrets?.password ?? '(set at first start; see the first endpoints.json)',
        objectId: record.adminId,
      },
      servicePrincipal: {
        appId: record.spAppId,
        secret: secrets?.secret ?? '(set at first start; see the first endpoints.json)',
        objectId: record.spObjectId,
        displayName: record.spName,
      },
      env: { NODE_EXTRA_CA_CERTS: caFile, REQUESTS_CA_BUNDLE: caFile, AZURE_AUTHORITY_HOST: `${authority}/` },
    };
    const file = join(dataDir, 'endpoints.json');
    writeFileSync(file, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);

    return {
      endpoints,
      store,
      services,
      port,
      async close() {
        clearInterval(timer);
        await new Promise<void>((r) => (hostnameListener ? hostnameListener.close(() => r()) : r()));
        await real?.close();
        await app.close();
        await services.signInLog?.close();
        await accessLog?.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
