import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clusterAccessConfig, type ClusterAccessConfig } from '../control-plane/index.js';
import { AKS_SERVER_APP_ID, type KeyRing } from '../identity/index.js';
import type { Clock } from '../shared/clock.js';
import type { Store } from '../store/index.js';
import { NO_ANSWER, type TokenAuthenticator } from './authn.js';
import { entraTokenAuthenticator } from './entra.js';
import { cachedGroupLookup, storeGroupLookup } from './groups.js';
import { cachedTokenAuthenticator } from './token-cache.js';
import { kubeStatus, reviewToken, type WebhookReply } from './token-review.js';

// The webhooks a real kube-apiserver calls for a Kentra cluster, on Kentra's listener:
//   POST /clusters/<uid>/webhooks/tokenreviews
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

/** The Entra authenticator for a cluster's settings: the AKS server app (managed) or the legacy server app. */
export function clusterEntraAuthenticator(cfg: ClusterAccessConfig, deps: { store: Store; keys: KeyRing; clock: Clock; origin: string }): TokenAuthenticator {
  const aad = cfg.aad;
  if (!aad) return async () => NO_ANSWER;
  const server = aad.managed ? AKS_SERVER_APP_ID : aad.serverAppID;
  if (!server) return async () => NO_ANSWER;
  return entraTokenAuthenticator({
    tenantId: aad.tenantID, audiences: [server, `https://${server}`], authorityOrigin: deps.origin,
    keys: deps.keys, clock: deps.clock, groups: cachedGroupLookup(storeGroupLookup(deps.store), deps.clock, 30_000),
  });
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
  const clusters = new Map<string, { authenticate: TokenAuthenticator; until: number }>();

  const authenticatorFor = async (uid: string, origin: string): Promise<TokenAuthenticator | null> => {
    const hit = clusters.get(uid);
    if (hit && hit.until > opts.clock.now()) return hit.authenticate;
    const cfg = await clusterAccessConfig(opts.store, uid);
    if (!cfg) return null;
    const authenticate = cachedTokenAuthenticator(clusterEntraAuthenticator(cfg, { ...opts, origin }), { clock: opts.clock });
    // Settings changes (admin groups, migration) reach the webhook within seconds.
    clusters.set(uid, { authenticate, until: opts.clock.now() + 10_000 });
    return authenticate;
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

  app.post('/clusters/:uid/webhooks/tokenreviews', async (req, reply) => {
    const { uid } = req.params as { uid: string };
    const problem = certificateProblem(req, uid);
    if (problem) return send(reply, problem === 'Missing client certificate' ? kubeStatus(400, 'BadRequest', problem) : kubeStatus(403, 'Forbidden', problem));
    const authenticate = await authenticatorFor(uid, opts.originOf(req));
    if (!authenticate) return send(reply, kubeStatus(404, 'NotFound', `cluster ${uid} not found`));
    return send(reply, await reviewToken(req.body, authenticate));
  });
}
