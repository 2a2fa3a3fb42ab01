import { X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DirectRoutes } from '../shared/direct-routes.js';
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
  originOf(req: { headers: { host?: string } }): string;
  /** The server's direct way (src/server/app.ts): the webhooks' plain requests skip fastify's router and hooks. */
  direct?: DirectRoutes;
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
export function webhookClientCheck(caPem: string, clock: Clock, caName: string): (socket: object, uid?: string) => WebhookReply | null {
  const ca = new X509Certificate(caPem);
  const checked = new WeakMap<object, { uid: string | undefined; problem: WebhookReply | null; until: number }>();
  return (socket, uid) => {
    const now = clock.now();
    const hit = checked.get(socket);
    if (hit && hit.uid === uid && hit.until > now) return hit.problem;
    const problem = webhookClientProblem(socket, ca, { uid, now, caName });
    checked.set(socket, { uid, problem, until: now + 60_000 });
    return problem;
  };
}

const WEBHOOK_PATH = /^\/clusters\/([0-9A-Za-z-]{1,64})\/webhooks\/(tokenreviews|subjectaccessreviews)$/;

export function registerAccessWebhooks(app: FastifyInstance, opts: AccessWebhookOptions): void {
  const certificateProblem = webhookClientCheck(opts.caPem, opts.clock, 'Kentra');
  const reviews = {
    tokenreviews: (c: Cluster, body: unknown) => reviewToken(body, c.authenticateEntra),
    subjectaccessreviews: (c: Cluster, body: unknown) => reviewAccess(body, c.azureRbac),
  };
  /** One webhook request, either way it came: the client's certificate, the cluster, the review, its log entry. */
  const answer = async (
    path: 'tokenreviews' | 'subjectaccessreviews',
    uid: string,
    socket: object,
    req: { headers: { host?: string } },
    body: unknown,
  ): Promise<WebhookReply> => {
    const problem = certificateProblem(socket, uid);
    if (problem) return problem;
    const cluster = await opts.access.cluster(uid, opts.originOf(req));
    if (!cluster) return kubeStatus(404, 'NotFound', `cluster ${uid} not found`);
    const answered = await reviews[path](cluster, body);
    opts.access.recordWebhook(cluster.settings, path, body, answered);
    return answered;
  };
  // A cached review's answer is sent as the JSON serialized once.
  const textOf = (r: WebhookReply) => serializedReply(r) ?? JSON.stringify(r.body);
  const send = (reply: FastifyReply, r: WebhookReply) =>
    reply.code(r.statusCode).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(textOf(r));
  for (const path of ['tokenreviews', 'subjectaccessreviews'] as const) {
    const route = `/clusters/:uid/webhooks/${path}`;
    app.post(route, async (req, reply) => {
      const { uid } = req.params as { uid: string };
      return send(reply, await answer(path, uid, req.raw.socket, req, req.body));
    });
    opts.direct?.post(
      route,
      (url) => {
        const m = WEBHOOK_PATH.exec(url);
        return m && m[2] === path ? [m[1]!] : null;
      },
      async (req) => {
        const r = await answer(path, req.params[0]!, req.socket, req, req.body);
        return { statusCode: r.statusCode, headers: { 'cache-control': 'no-store' }, body: textOf(r) };
      },
    );
  }
}

type Cluster = NonNullable<Awaited<ReturnType<ClusterAccessService['cluster']>>>;
