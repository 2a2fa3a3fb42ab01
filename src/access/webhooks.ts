import { X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../shared/clock.js';
import type { ClusterAccessService } from './cluster-access.js';
import { kubeStatus, reviewToken, serializedReply, type WebhookReply } from './token-review.js';
import { reviewAccess } from './access-review.js';

// The webhooks a real kube-apiserver calls for a Kentra cluster, on Kentra's listener:
//   POST /clusters/<uid>/webhooks/tokenreviews         (authentication: Entra tokens)
//   POST /clusters/<uid>/webhooks/subjectaccessreviews (authorization: Azure RBAC, when enabled)
// Only over mutual TLS: the client certificate must be issued by Kentra's CA for that cluster
// (subject O=`cluster:<uid>`), as Guard only answers clients with its own certificates. The chains
// are the cluster-access service's, shared with the built-in API and check-access.

export interface AccessWebhookOptions {
  access: ClusterAccessService;
  clock: Clock;
  /** The CA that issues webhook client certificates (Kentra's CA). */
  caPem: string;
  /** Kentra's origin as the client sees it, for the v2 issuer. */
  originOf(req: FastifyRequest): string;
}

/** The subject organization that binds a webhook client certificate to one cluster. */
export const webhookOrganization = (uid: string): string => `cluster:${uid}`;

/** The peer certificate of a request's TLS socket, if the client sent one that parses. */
export function peerCertificate(socket: unknown): X509Certificate | undefined {
  const s = socket as { getPeerCertificate?: () => { raw?: Buffer } };
  const peer = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
  if (!peer?.raw) return undefined;
  try {
    return new X509Certificate(peer.raw);
  } catch {
    return undefined;
  }
}

/**
 * Why a webhook client may not be answered, as the Status to send, or null: no certificate (400), one
 * not issued by `ca` or not valid now (403), or, on a cluster's path, one without O=cluster:<uid> (403).
 */
export function webhookClientProblem(
  socket: unknown,
  ca: X509Certificate,
  opts: { uid?: string; now: number; caName: string },
): WebhookReply | null {
  const s = socket as { getPeerCertificate?: () => { raw?: Buffer } };
  const peer = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
  if (!peer?.raw) return kubeStatus(400, 'BadRequest', 'Missing client certificate');
  const cert = peerCertificate(socket);
  if (!cert) return kubeStatus(403, 'Forbidden', 'the client certificate cannot be read');
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    return kubeStatus(403, 'Forbidden', `the client certificate was not issued by ${opts.caName}`);
  if (Date.parse(cert.validFrom) > opts.now || Date.parse(cert.validTo) < opts.now)
    return kubeStatus(403, 'Forbidden', 'the client certificate is not valid now');
  if (opts.uid !== undefined) {
    const orgs = cert.subject
      .split('\n')
      .filter((l) => l.startsWith('O='))
      .map((l) => l.slice(2));
    if (!orgs.includes(webhookOrganization(opts.uid)))
      return kubeStatus(403, 'Forbidden', `the client certificate is not for cluster ${opts.uid}`);
  }
  return null;
}

/** A kept-alive connection presents the same certificate on every request: it is checked once per socket and path uid. */
export function webhookClientCheck(
  caPem: string,
  clock: Clock,
  caName: string,
): (req: FastifyRequest, uid?: string) => WebhookReply | null {
  const ca = new X509Certificate(caPem);
  const checked = new WeakMap<object, { uid: string | undefined; problem: WebhookReply | null; until: number }>();
  return (req, uid) => {
    const now = clock.now();
    const hit = checked.get(req.raw.socket);
    if (hit && hit.uid === uid && hit.until > now) return hit.problem;
    const problem = webhookClientProblem(req.raw.socket, ca, { uid, now, caName });
    checked.set(req.raw.socket, { uid, problem, until: now + 60_000 });
    return problem;
  };
}

export function registerAccessWebhooks(app: FastifyInstance, opts: AccessWebhookOptions): void {
  const certificateProblem = webhookClientCheck(opts.caPem, opts.clock, 'Kentra');
  const send = (reply: FastifyReply, r: WebhookReply) => {
    reply.code(r.statusCode).header('cache-control', 'no-store');
    // A cached review's answer is sent as the JSON serialized once.
    const text = serializedReply(r);
    return text === undefined ? reply.send(r.body) : reply.type('application/json; charset=utf-8').send(text);
  };
  const webhook = (
    path: 'tokenreviews' | 'subjectaccessreviews',
    answer: (cluster: NonNullable<Awaited<ReturnType<ClusterAccessService['cluster']>>>, body: unknown) => Promise<WebhookReply>,
  ) => {
    app.post(`/clusters/:uid/webhooks/${path}`, async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const problem = certificateProblem(req, uid);
      if (problem) return send(reply, problem);
      const cluster = await opts.access.cluster(uid, opts.originOf(req));
      if (!cluster) return send(reply, kubeStatus(404, 'NotFound', `cluster ${uid} not found`));
      const answered = await answer(cluster, req.body);
      opts.access.recordWebhook(cluster.settings, path, req.body, answered);
      return send(reply, answered);
    });
  };
  webhook('tokenreviews', (c, body) => reviewToken(body, c.authenticateEntra));
  webhook('subjectaccessreviews', (c, body) => reviewAccess(body, c.azureRbac));
}
