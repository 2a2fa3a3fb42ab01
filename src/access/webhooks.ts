import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clusterAccessConfig, type ClusterAccessConfig } from '../control-plane/index.js';
import { AKS_SERVER_APP_ID, ARC_SERVER_APP_ID, type KeyRing } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import type { Store } from '../store/index.js';
import { NO_ANSWER, type TokenAuthenticator } from './authn.js';
import { entraTokenAuthenticator } from './entra.js';
import { popTokenAuthenticator } from './pop.js';
import { cachedGroupLookup, storeGroupLookup } from './groups.js';
import { cachedTokenAuthenticator } from './token-cache.js';
import { kubeStatus, reviewToken, type WebhookReply } from './token-review.js';
import { reviewAccess } from './access-review.js';
import { azureRbacAuthorizer, CLUSTER_TYPES, type AzureAuthorizer } from './azure-rbac.js';

// The webhooks a real kube-apiserver calls for a Kentra cluster, on Kentra's listener:
//   POST /clusters/<uid>/webhooks/tokenreviews         (authentication: Entra tokens)
//   POST /clusters/<uid>/webhooks/subjectaccessreviews (authorization: Azure RBAC, when enabled)
// Only over mutual TLS: the client certificate must be issued by Kentra's CA for that cluster
// (subject O=`cluster:<uid>`), as Guard only answers clients with its own certificates.

export interface AccessWebhookOptions {
  store: Store;
  keys: KeyRing;
  clock: Clock;
  /** The CA that issues webhook client certificates (Kentra's CA). */
  caPem: string;
  /** Kentra's origin as the client sees it, for the v2 issuer. */
  originOf(req: FastifyRequest): string;
}

/** The subject organization that binds a webhook client certificate to one cluster. */
export const webhookOrganization = (uid: string): string => `cluster:${uid}`;

/** The Entra authenticator for a cluster's settings: the AKS server app (managed), the Arc server app (AKS Arc), or the legacy server app. */
export function clusterEntraAuthenticator(cfg: ClusterAccessConfig, deps: { store: Store; keys: KeyRing; clock: Clock; origin: string }): TokenAuthenticator {
  const aad = cfg.aad;
  if (!aad) return async () => NO_ANSWER;
  // AKS Arc clusters take tokens for the Arc server app, the one their kubeconfig's --server-id names.
  const server = cfg.kind === 'arc' ? ARC_SERVER_APP_ID : aad.managed ? AKS_SERVER_APP_ID : aad.serverAppID;
  if (!server) return async () => NO_ANSWER;
  const entra = entraTokenAuthenticator({
    tenantId: aad.tenantID, audiences: [server, `https://${server}`], authorityOrigin: deps.origin,
    // A kid this instance has not loaded yet (rotated in by another instance) is looked up in the store once.
    keys: { publicKey: (kid) => deps.keys.publicKey(kid) ?? deps.keys.publicKeyOrReload(kid) }, clock: deps.clock, groups: cachedGroupLookup(storeGroupLookup(deps.store), deps.clock, 30_000),
  });
  // PoP (Guard's --azure.enable-pop): AKS Arc clusters take PoP tokens whose `u` is their ARM ID (kubelogin
  // --pop-claims u=<ARM ID>); on every cluster a key-bound (cnf) access token is refused as a bare bearer.
  return popTokenAuthenticator(entra, { hostname: cfg.kind === 'arc' ? cfg.resourceId : undefined, clock: deps.clock });
}

function clientCertificateProblem(req: FastifyRequest, ca: X509Certificate, uid: string, now: number): string | null {
  const socket = req.raw.socket as TLSSocket;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  if (!peer || !peer.raw) return 'Missing client certificate';
  let cert: X509Certificate;
  try { cert = new X509Certificate(peer.raw); } catch { return 'the client certificate cannot be read'; }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'the client certificate was not issued by Kentra';
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now) return 'the client certificate is not valid now';
  const orgs = cert.subject.split('\n').filter((l) => l.startsWith('O=')).map((l) => l.slice(2));
  if (!orgs.includes(webhookOrganization(uid))) return `the client certificate is not for cluster ${uid}`;
  return null;
}

export function registerAccessWebhooks(app: FastifyInstance, opts: AccessWebhookOptions): void {
  const ca = new X509Certificate(opts.caPem);
  // Per cluster: its authenticator and authorizer, rebuilt only when the settings they depend on
  // change (re-read every 10 s, so admin-group and migration changes arrive within seconds while
  // the token and access caches survive).
  interface ClusterState { fingerprint: string; authenticate: TokenAuthenticator; authorize: AzureAuthorizer; checkedUntil: number }
  const clusters = new Map<string, ClusterState>();
  const stateOf = async (uid: string, origin: string): Promise<ClusterState | null> => {
    const now = opts.clock.now();
    const hit = clusters.get(uid);
    if (hit && hit.checkedUntil > now) return hit;
    const cfg = await clusterAccessConfig(opts.store, uid);
    if (!cfg) { clusters.delete(uid); return null; }
    const fingerprint = JSON.stringify([cfg.aad, cfg.resourceId, cfg.kind, origin]);
    if (hit && hit.fingerprint === fingerprint) { hit.checkedUntil = now + 10_000; return hit; }
    const aad = cfg.aad;
    const state: ClusterState = {
      fingerprint, checkedUntil: now + 10_000,
      authenticate: cachedTokenAuthenticator(clusterEntraAuthenticator(cfg, { ...opts, origin }), { clock: opts.clock }),
      authorize: aad?.enableAzureRBAC
        ? azureRbacAuthorizer({ store: opts.store, clock: opts.clock, tenantId: aad.tenantID, clusterResourceId: cfg.resourceId, clusterType: CLUSTER_TYPES[cfg.kind] })
        : async () => ({ allowed: false, reason: 'Azure RBAC is not enabled for this cluster.' }),
    };
    clusters.set(uid, state);
    return state;
  };

  // A kept-alive connection presents the same certificate on every request: check it once per socket.
  const checked = new WeakMap<object, { uid: string; problem: string | null; until: number }>();
  const certificateProblem = (req: FastifyRequest, uid: string): string | null => {
    const now = opts.clock.now();
    const hit = checked.get(req.raw.socket);
    if (hit && hit.uid === uid && hit.until > now) return hit.problem;
    const problem = clientCertificateProblem(req, ca, uid, now);
    checked.set(req.raw.socket, { uid, problem, until: now + 60_000 });
    return problem;
  };

  const send = (reply: FastifyReply, r: WebhookReply) => reply.code(r.statusCode).header('cache-control', 'no-store').send(r.body);

  const webhook = (path: string, answer: (state: ClusterState, body: unknown) => Promise<WebhookReply>) => {
    app.post(`/clusters/:uid/webhooks/${path}`, async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const problem = certificateProblem(req, uid);
      if (problem) return send(reply, problem === 'Missing client certificate' ? kubeStatus(400, 'BadRequest', problem) : kubeStatus(403, 'Forbidden', problem));
      const state = await stateOf(uid, opts.originOf(req));
      if (!state) return send(reply, kubeStatus(404, 'NotFound', `cluster ${uid} not found`));
      return send(reply, await answer(state, req.body));
    });
  };
  webhook('tokenreviews', (state, body) => reviewToken(body, state.authenticate));
  webhook('subjectaccessreviews', (state, body) => reviewAccess(body, state.authorize));
}
