import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AzureAuthorizer, ClusterSettings, DataActionCheck, GroupLookup, TokenAuthenticator, WebhookReply } from '../access/index.js';
import type { Clock } from '../shared/clock.js';
import { isGuid } from '../shared/crypto.js';

// `kentra webhook`: the access webhooks alone, next to a kube-apiserver, as Guard runs beside one.
// No store: signing keys come from the tenant's published JWKS, a user's groups in overage from
// Microsoft Graph (`getMemberGroups` with an app-only token), both at `--authority`. The reviews
// are those of `kentra up`: the same cluster-access service builds the chains, here over ports that
// reach Kentra over HTTPS. With `--resource-id` (Guard's `--azure.resource-id`), access reviews are
// decided by Azure RBAC through ARM's checkaccess, as Guard does; without it they get no opinion, so
// the kube-apiserver's own RBAC decides. Only over mutual TLS with a client certificate from
// `--client-ca-file`.

const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';

/** The reason of every SubjectAccessReview answer without --resource-id: no opinion, the next authorizer (RBAC) decides. */
export const WEBHOOK_NO_OPINION = 'kentra webhook does not evaluate Azure RBAC; Kubernetes RBAC decides.';
const CLUSTER_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/(Microsoft\.ContainerService\/managedClusters|Microsoft\.Kubernetes\/connectedClusters)\/[^/]+$/i;

export interface WebhookOptions {
  tenantId: string;
  /** Kentra's (or Entra's) origin: v2 issuer, JWKS and token endpoint. */
  authority: string;
  /** Graph's origin; the authority by default. */
  graphEndpoint?: string;
  /** Accepted audiences (app IDs or identifier URIs); the AKS server app by default. */
  serverAppIds: string[];
  clientId?: string;
  clientSecret?: string;
  /** The cluster's ARM id: SubjectAccessReviews are decided by Azure RBAC (ARM's checkaccess at this scope). Needs clientId. */
  resourceId?: string;
  /** ARM's origin; the authority by default. */
  armEndpoint?: string;
  /** CA to trust for the authority, Graph and ARM. */
  caPem?: string;
  tlsCertPem: string;
  tlsKeyPem: string;
  /** Only client certificates issued by this CA are answered. */
  clientCaPem: string;
  port: number;
  listen: string;
  logger: Logger;
  clock?: Clock;
}

export interface RunningWebhook {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

/** Builds and starts the webhook server (used by the command; callable in-process too). */
export async function startWebhook(o: WebhookOptions): Promise<RunningWebhook> {
  const { default: Fastify, LogController } = await import('fastify');
  const access = await import('../access/index.js');
  const clock = o.clock ?? { now: () => Date.now() };
  const authority = o.authority.replace(/\/+$/, '');

  const keys = access.remoteKeySource({ jwksUri: `${authority}/${o.tenantId}/discovery/v2.0/keys`, caPem: o.caPem, clock });
  const groups: GroupLookup =
    o.clientId && o.clientSecret
      ? access.cachedGroupLookup(
          access.graphGroupLookup({
            authority,
            tenantId: o.tenantId,
            clientId: o.clientId,
            clientSecret: o.clientSecret,
            graphEndpoint: o.graphEndpoint ?? authority,
            caPem: o.caPem,
            clock,
          }),
          clock,
          30_000,
        )
      : {
          memberGroups: async () => {
            throw new Error('kentra webhook was started without --client-id and a client secret, so it cannot ask Microsoft Graph');
          },
        };
  const resourceId = o.resourceId;
  if (resourceId && !CLUSTER_ID.test(resourceId))
    throw new Error(`--resource-id: ${resourceId} is not the ARM id of a managed or connected cluster`);
  if (resourceId && !(o.clientId && o.clientSecret))
    throw new Error("--resource-id needs --client-id and a client secret: ARM's checkaccess is called with an app-only token");
  const dataActions: DataActionCheck = resourceId
    ? access.armDataActionCheck({
        authority,
        armEndpoint: o.armEndpoint ?? authority,
        tenantId: o.tenantId,
        clientId: o.clientId!,
        clientSecret: o.clientSecret!,
        caPem: o.caPem,
        clock,
      })
    : {
        checkDataAction: async () => {
          throw new Error('kentra webhook was started without --resource-id');
        },
      };
  // The one cluster this webhook answers for, as its flags describe it.
  const settings: ClusterSettings = {
    uid: 'webhook',
    resourceId: resourceId ?? '',
    kind: /connectedClusters/i.test(resourceId ?? '') ? 'arc' : 'managedCluster',
    kubernetesVersion: '',
    enableRBAC: true,
    disableLocalAccounts: true,
    localCaPem: null,
    adminToken: '',
    serviceAccountKey: null,
    revision: 0,
    serverAppIds: o.serverAppIds,
    aad: {
      managed: true,
      enableAzureRBAC: !!resourceId,
      adminGroupObjectIDs: null,
      tenantID: o.tenantId,
      clientAppID: null,
      serverAppID: null,
    },
  };
  const service = new access.ClusterAccessService({
    settings: { settings: async () => settings, revision: async () => 0 },
    keys,
    groups,
    dataActions,
    clock,
    objects: {
      rbacObjects: async () => {
        throw new Error('kentra webhook does not read Kubernetes RBAC: the kube-apiserver does');
      },
      serviceAccountUid: async () => null,
    },
  });
  const chains = (await service.cluster(settings.uid, authority))!;
  const authenticate: TokenAuthenticator = chains.authenticateEntra;
  const authorize: AzureAuthorizer = resourceId ? chains.azureRbac : async () => ({ allowed: false, reason: WEBHOOK_NO_OPINION });

  const app = Fastify({
    https: { key: o.tlsKeyPem, cert: o.tlsCertPem, ca: o.clientCaPem, requestCert: true, rejectUnauthorized: false },
    loggerInstance: o.logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;

  // Bodies are parsed in the handlers, so that a malformed one gets a Kubernetes Status.
  const asText = (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) =>
    done(null, { text: String(body) });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, asText);
  app.addContentTypeParser('*', { parseAs: 'string' }, asText);

  const send = (reply: FastifyReply, r: WebhookReply) => reply.code(r.statusCode).header('cache-control', 'no-store').send(r.body);
  app.setNotFoundHandler((req, reply) =>
    send(
      reply,
      access.kubeStatus(404, 'NotFound', `the server could not find the requested resource (${req.method} ${req.url.split('?')[0]})`),
    ),
  );
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const reason =
      code === 500 ? 'InternalError' : code === 413 ? 'RequestEntityTooLarge' : code === 415 ? 'UnsupportedMediaType' : 'BadRequest';
    return send(reply, access.kubeStatus(code, reason, code === 500 ? 'internal error' : err.message));
  });

  /** Why this request's client certificate is not good enough, or null (the check of `kentra up`'s webhooks). */
  const certificateProblem = access.webhookClientCheck(o.clientCaPem, clock, 'the client CA');

  const bodyOf = (req: FastifyRequest): { body: unknown } | null => {
    const raw = (req.body as { text?: string } | undefined)?.text;
    if (raw === undefined || raw.trim() === '') return { body: undefined };
    try {
      return { body: JSON.parse(raw) };
    } catch {
      return null;
    }
  };

  const route = (path: string, kind: 'tokenreviews' | 'subjectaccessreviews') => {
    app.post(path, async (req, reply) => {
      const started = clock.now();
      const uid = (req.params as { uid?: string }).uid;
      const refused = certificateProblem(req.raw.socket, uid);
      if (refused) {
        req.log.warn({ path: req.url, status: refused.statusCode, reason: refused.body.message }, 'refused a webhook client');
        return send(reply, refused);
      }
      const parsed = bodyOf(req);
      const answer = !parsed
        ? access.badReview('the request body is not valid JSON')
        : kind === 'tokenreviews'
          ? await access.reviewToken(parsed.body, authenticate)
          : await access.reviewAccess(parsed.body, authorize);
      const status = answer.body.status as { authenticated?: boolean; error?: string; allowed?: boolean } | string | undefined;
      // Never the token: the outcome, the username and the error message only.
      req.log.info(
        {
          path: req.url,
          status: answer.statusCode,
          ms: clock.now() - started,
          ...(typeof status === 'object'
            ? { authenticated: status.authenticated, allowed: status.allowed, error: status.error }
            : { error: answer.body.message }),
        },
        kind === 'tokenreviews' ? 'token review' : 'access review',
      );
      return send(reply, answer);
    });
  };
  // Guard's paths, and `kentra up`'s (whose kubeconfigs then work unchanged but for the host).
  route('/tokenreviews', 'tokenreviews');
  route('/subjectaccessreviews', 'subjectaccessreviews');
  route('/clusters/:uid/webhooks/tokenreviews', 'tokenreviews');
  route('/clusters/:uid/webhooks/subjectaccessreviews', 'subjectaccessreviews');
  app.get('/healthz', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => reply.type('text/plain').send('ok'));

  await app.listen({ port: o.port, host: o.listen });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return { app, port, close: () => app.close() };
}

const portNumber = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
};
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

function readFile(flag: string, file: string | undefined): string {
  if (!file) throw new Error(`${flag} is required`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}
function certificate(flag: string, file: string | undefined): string {
  const pem = readFile(flag, file);
  try {
    new X509Certificate(pem);
  } catch {
    throw new Error(`${flag}: ${file} is not a PEM certificate`);
  }
  return pem;
}

export function registerWebhookCommand(program: Command): void {
  program
    .command('webhook')
    .description(
      'Run only the TokenReview and SubjectAccessReview webhooks next to a kube-apiserver, as Guard does: no store, the directory reached over HTTPS.',
    )
    .option('--tenant-id <id>', 'the tenant whose tokens are accepted (required)')
    .option('--authority <url>', "Kentra's origin, e.g. https://kentra.example:8443: v2 issuer, JWKS, token endpoint (required)")
    .option('--graph-endpoint <url>', 'Microsoft Graph origin for group overage look-ups [default: the authority]')
    .option(
      '--server-app-id <id>',
      `accepted token audience, app ID or identifier URI; repeatable (the spn: form of each is accepted too) [default: the AKS server app ${AKS_SERVER_APP}]`,
      collect,
    )
    .option(
      '--client-id <appId>',
      'the app that reads group memberships over Graph (application permission GroupMember.Read.All or Directory.Read.All)',
    )
    .option('--client-secret <secret>', "that app's secret [env KENTRA_WEBHOOK_CLIENT_SECRET, which keeps it out of the process list]")
    .option(
      '--resource-id <armId>',
      "the cluster's ARM id: decide SubjectAccessReviews by Azure RBAC through ARM's checkaccess, as Guard's --azure.resource-id (the --client-id app needs Reader on the cluster)",
    )
    .option('--arm-endpoint <url>', "ARM's origin for checkaccess [default: the authority]")
    .option('--ca-file <file>', "CA certificate (PEM) to trust for the authority and Graph, e.g. Kentra's <data-dir>/ca.pem")
    .option('--tls-cert-file <file>', 'serving certificate (PEM) the kube-apiserver checks (required)')
    .option('--tls-key-file <file>', 'its private key (PEM) (required)')
    .option('--client-ca-file <file>', 'only clients with a certificate from this CA are answered (mutual TLS; required)')
    .option('--port <port>', 'HTTPS port (0 picks a free one, printed on stdout)', portNumber, 9443)
    .option('--listen <address>', 'address to listen on', '127.0.0.1')
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug', 'info')
    .addHelpText(
      'after',
      `
Serves POST /tokenreviews and /subjectaccessreviews (Guard's paths) and the paths of kentra up,
/clusters/<uid>/webhooks/tokenreviews|subjectaccessreviews (there the client certificate must
also have O=cluster:<uid>), plus GET /healthz and /readyz. Token reviews are answered as kentra up
answers them (v1 and v1beta1; Entra v1 and v2 tokens of --tenant-id for --server-app-id; groups
in overage from Graph). With --resource-id, SubjectAccessReviews are decided by Azure RBAC as
Guard decides them (role assignments at the cluster or <cluster>/namespaces/<ns>, through ARM's
checkaccess; allowed, or denied with Guard's reason); without it they get no opinion (allowed:
false, not denied), so with --authorization-mode=Node,RBAC,Webhook Kubernetes RBAC decides. Logs are JSON lines on stderr; SIGINT or SIGTERM stop it.

Example:
  KENTRA_WEBHOOK_CLIENT_SECRET=... kentra webhook --tenant-id <tid> \\
    --authority https://kentra.example:8443 --ca-file kentra-ca.pem --client-id <appId> \\
    --tls-cert-file webhook.pem --tls-key-file webhook-key.pem --client-ca-file apiserver-ca.pem`,
    )
    .action(async (opts) => {
      if (!opts.tenantId || !isGuid(opts.tenantId)) throw new Error('--tenant-id is required: the tenant ID (a GUID)');
      if (!opts.authority) throw new Error("--authority is required: Kentra's origin, e.g. https://localhost:8443");
      let authorityUrl: URL;
      try {
        authorityUrl = new URL(opts.authority);
      } catch {
        throw new Error(`--authority: ${opts.authority} is not a URL`);
      }
      if (authorityUrl.protocol !== 'https:') throw new Error('--authority must be an https:// URL');
      if (!opts.tlsCertFile || !opts.tlsKeyFile) {
        throw new Error(
          '--tls-cert-file and --tls-key-file are required: a kube-apiserver only calls webhooks over HTTPS (issue a serving certificate for this host and give the kube-apiserver its CA)',
        );
      }
      if (!opts.clientCaFile)
        throw new Error('--client-ca-file is required: only a kube-apiserver with a client certificate from that CA may call the webhooks');
      const secret: string | undefined = opts.clientSecret ?? process.env.KENTRA_WEBHOOK_CLIENT_SECRET;
      if (Boolean(opts.clientId) !== Boolean(secret))
        throw new Error('--client-id and a client secret (--client-secret or env KENTRA_WEBHOOK_CLIENT_SECRET) go together');
      const tlsKeyPem = readFile('--tls-key-file', opts.tlsKeyFile);
      try {
        createPrivateKey(tlsKeyPem);
      } catch {
        throw new Error(`--tls-key-file: ${opts.tlsKeyFile} is not a PEM private key`);
      }
      const serverAppIds = ((opts.serverAppId as string[] | undefined) ?? [AKS_SERVER_APP]).map((id) => id.replace(/^spn:/i, ''));

      const { default: pino } = await import('pino');
      const logger = pino({ level: opts.logLevel }, pino.destination(2));
      if (!opts.clientId) logger.warn('no --client-id: users in group overage will be refused (their groups cannot be read from Graph)');
      let running: RunningWebhook;
      try {
        running = await startWebhook({
          tenantId: opts.tenantId,
          authority: authorityUrl.origin,
          graphEndpoint: opts.graphEndpoint,
          serverAppIds,
          clientId: opts.clientId,
          clientSecret: secret,
          resourceId: opts.resourceId,
          armEndpoint: opts.armEndpoint,
          caPem: opts.caFile ? certificate('--ca-file', opts.caFile) : undefined,
          tlsCertPem: certificate('--tls-cert-file', opts.tlsCertFile),
          tlsKeyPem,
          clientCaPem: certificate('--client-ca-file', opts.clientCaFile),
          port: opts.port,
          listen: opts.listen,
          logger,
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new Error(`port ${opts.port} is already in use: pass --port (0 picks a free one)`, { cause: err });
        throw err;
      }
      const host = opts.listen.includes(':') ? `[${opts.listen}]` : opts.listen;
      process.stdout.write(
        `kentra webhook is listening on https://${host}:${running.port}\n  POST /tokenreviews  POST /subjectaccessreviews  GET /healthz  GET /readyz\n`,
      );
      logger.info(
        {
          port: running.port,
          tenantId: opts.tenantId,
          authority: authorityUrl.origin,
          audiences: serverAppIds,
          graph: Boolean(opts.clientId),
        },
        'kentra webhook started',
      );
      (await import('./command.js')).stopOnSignals(logger, () => running.close());
    });
}
