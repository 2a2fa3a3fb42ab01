import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import {
  issueServiceAccountToken,
  NO_ANSWER,
  peerCertificate,
  serviceAccountJwks,
  serviceAccountOidcDiscovery,
  TokenRequestInvalidError,
  withAuthenticated,
  type CredentialSeen,
  type RequestAttributes,
  type UserInfo,
} from '../access/index.js';
import { StoreError, type KubeObject } from '../store/index.js';
import { Clusters, type ClusterState, type SandboxDeps } from './cluster-state.js';
import { discovery } from './discovery.js';
import { decodeKubeProtobuf } from './protobuf.js';
import { applyPatch, decodeBody, fieldsMatch, kubeTime, labelsMatch, prepareCreate, prepareUpdate, validate } from './objects.js';
import { apiVersionOf, findResourceType, RESOURCE_TYPES, storeKeyOf, type KubeBody, type ResourceType } from './resources.js';
import { namespaceDefaults, SYSTEM_NAMESPACES } from './system.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  KubeError,
  methodNotAllowed,
  noSuchResource,
  notFound,
  notServed,
  requestedResource,
  requestInfo,
  unauthorized,
  unsupportedMedia,
  type RequestInfo,
} from './status.js';
import { decodeComponent } from '../shared/uri.js';

// Each emulated cluster's Kubernetes API on Kentra's listener, under `/clusters/<uid>`: the requests
// kubectl makes for the source documents' flows, through the same authenticators and authorizers as
// the webhooks, answered with the kube-apiserver's bodies (Status errors, Tables, lists).

export interface ClusterApiOptions extends SandboxDeps {
  originOf(req: FastifyRequest): string;
  /** The URL of a cluster's own (real) API server, when it has one: the built-in API then serves only its public issuer documents. */
  externalServer?(uid: string): string | null;
}

export interface ClusterApi {
  clusters: Clusters;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-cache, private' };
const send = (reply: FastifyReply, code: number, body: unknown) =>
  reply
    .code(code)
    .headers(JSON_HEADERS)
    .send(`${JSON.stringify(body)}\n`);
const sendError = (reply: FastifyReply, err: KubeError) => send(reply, err.status, err.body());
const isObject = (v: unknown): v is KubeBody => !!v && typeof v === 'object' && !Array.isArray(v);

function parseBody(req: FastifyRequest): unknown {
  const raw = req.body as Buffer | undefined;
  if (!raw || raw.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? 'application/json')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const text = raw.toString('utf8');
  if (type.endsWith('json')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`error decoding the request body: ${(err as Error).message}`);
    }
  }
  if (type === 'application/vnd.kubernetes.protobuf') return decodeKubeProtobuf(raw);
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
  throw unsupportedMedia(type);
}

/** `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` → a Table in that version. */
function tableVersion(accept: string | undefined): string | null {
  for (const part of String(accept ?? '').split(',')) {
    const params = part.split(';').map((p) => p.trim());
    if (params.includes('as=Table') && params.includes('g=meta.k8s.io')) return params.find((p) => p.startsWith('v='))?.slice(2) ?? 'v1';
  }
  return null;
}

function table(
  t: ResourceType,
  objects: KubeBody[],
  version: string,
  resourceVersion: string,
  includeObject: string,
  now: number,
): KubeBody {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: { resourceVersion },
    columnDefinitions: t.columns,
    rows: objects.map((o) => ({
      cells: t.cells(o, now),
      object:
        includeObject === 'None'
          ? undefined
          : includeObject === 'Object'
            ? o
            : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata },
    })),
  };
}

/** The stored body with its resourceVersion, as served. */
const served = (o: KubeObject): KubeBody => ({
  ...o.body,
  metadata: { ...(o.body as KubeBody).metadata, resourceVersion: String(o.resourceVersion) },
});

export function registerClusterApi(app: FastifyInstance, opts: ClusterApiOptions): ClusterApi {
  const clusters = new Clusters(opts);
  const { store, clock } = opts;

  /** The request's user; each outcome is recorded in the access log (`seen` says what the credential was, never recorded itself). */
  const authenticate = async (state: ClusterState, req: FastifyRequest, seen: CredentialSeen): Promise<UserInfo> => {
    const cert = state.authenticateCertificate(peerCertificate(req.raw.socket));
    if (cert.kind === 'user') {
      seen.certificate = true;
      opts.access.recordAuthentication(state.cfg, seen, cert);
      return withAuthenticated(cert.user);
    }
    const header = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) {
      seen.token = m[1]!;
      const result = await state.authenticateToken({ token: m[1]! });
      opts.access.recordAuthentication(state.cfg, seen, result);
      if (result.kind === 'user') return withAuthenticated(result.user);
      if (result.kind === 'error') req.log.info({ cluster: state.cfg.uid, reason: result.message }, 'token refused');
    } else if (cert.kind === 'error') {
      seen.certificate = true;
      opts.access.recordAuthentication(state.cfg, seen, cert);
      req.log.info({ cluster: state.cfg.uid, reason: cert.message }, 'client certificate refused');
    } else {
      opts.access.recordAuthentication(state.cfg, seen, NO_ANSWER);
    }
    throw unauthorized();
  };

  /** The chain's decision for the request, recorded in the access log. */
  const authorize = async (state: ClusterState, a: RequestAttributes, seen: CredentialSeen) => {
    const d = await state.authorize(a);
    opts.access.recordAuthorization(state.cfg, a, d, seen);
    return d;
  };

  /** `kubectl --as/--as-group`: the caller must be allowed to impersonate each part, then acts as that user. */
  const impersonate = async (state: ClusterState, req: FastifyRequest, user: UserInfo, seen: CredentialSeen): Promise<UserInfo> => {
    const header = (name: string) => {
      const v = req.headers[name];
      return v === undefined ? [] : (Array.isArray(v) ? v : String(v).split(',')).map((x) => x.trim()).filter(Boolean);
    };
    const asUser = header('impersonate-user')[0];
    const asGroups = header('impersonate-group');
    const asUid = header('impersonate-uid')[0];
    const extras = Object.keys(req.headers).filter((h) => h.startsWith('impersonate-extra-'));
    if (!asUser) {
      if (asGroups.length || asUid || extras.length)
        throw badRequest('requested impersonation of groups, uid or extra without impersonating a user');
      return user;
    }
    const check = async (resource: string, name: string, group = '', namespace = '', subresource = '') => {
      const info: RequestInfo = {
        resourceRequest: true,
        verb: 'impersonate',
        path: '',
        apiGroup: group,
        apiVersion: '',
        namespace,
        resource,
        subresource,
        name,
      };
      const d = await authorize(state, attributesOf(user, info), seen);
      if (d.decision !== 'allow') throw forbidden(info, user.username, d.reason);
    };
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(asUser);
    if (sa) await check('serviceaccounts', sa[2]!, '', sa[1]!);
    else await check('users', asUser);
    for (const g of asGroups) await check('groups', g);
    if (asUid) await check('uids', asUid, 'authentication.k8s.io');
    const extra: Record<string, string[]> = {};
    for (const h of extras) {
      const key = decodeComponent(h.slice('impersonate-extra-'.length));
      extra[key] = header(h);
      for (const v of extra[key]!) await check('userextras', v, 'authentication.k8s.io', '', key);
    }
    const groups = sa ? [...asGroups, 'system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : asGroups;
    return withAuthenticated({ username: asUser, uid: asUid ?? '', groups, extra });
  };

  const handle = async (req: FastifyRequest, reply: FastifyReply) => {
    const { uid } = req.params as { uid: string };
    const url = new URL(req.url, 'https://cluster');
    const path = url.pathname.replace(/^\/clusters\/[^/]+/i, '').replace(/\/+$/, '') || '/';
    const origin = opts.originOf(req);
    const state = await clusters.get(uid, origin);
    if (!state) throw new KubeError(404, 'NotFound', `cluster ${uid} not found`, {});
    // The service-account issuer's discovery is public, as AKS's OIDC issuer is.
    if (req.method === 'GET' && path === '/.well-known/openid-configuration')
      return send(reply, 200, serviceAccountOidcDiscovery(state.issuer, `${state.issuer}/openid/v1/jwks`));
    if (req.method === 'GET' && path === '/openid/v1/jwks')
      return send(reply, 200, serviceAccountJwks([{ publicKeyPem: state.saKey.publicKeyPem, kid: state.saKey.kid }]));
    const external = state.cfg.attachedServer ?? opts.externalServer?.(uid);
    if (external)
      throw new KubeError(404, 'NotFound', `cluster ${uid} has its own API server: run get-credentials again for its address`, {});

    const seen: CredentialSeen = {};
    const authenticated = await authenticate(state, req, seen);
    const user = await impersonate(state, req, authenticated, seen);
    const info = requestInfo(req.method, path, url.searchParams);
    const decision = await authorize(state, attributesOf(user, info), user === authenticated ? seen : { impersonated: true });
    if (decision.decision !== 'allow') {
      if (decision.error)
        throw new KubeError(500, 'InternalError', `Internal error occurred: ${decision.error}`, {
          causes: [{ reason: '', message: decision.error, field: '' }],
        });
      throw forbidden(info, user.username, decision.reason);
    }
    if (!info.resourceRequest) {
      const doc = discovery(path, state, req.headers.host ?? '');
      if (!doc)
        return reply
          .code(404)
          .header('content-type', 'text/plain; charset=utf-8')
          .header('cache-control', 'no-cache, private')
          .send('404 page not found\n');
      if (Buffer.isBuffer(doc))
        return reply.code(200).header('content-type', 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf').send(doc);
      return typeof doc === 'string'
        ? reply.code(200).header('content-type', 'text/plain; charset=utf-8').send(doc)
        : send(reply, 200, doc);
    }
    return resourceRequest(req, reply, state, user, info, url.searchParams);
  };

  const resourceRequest = async (
    req: FastifyRequest,
    reply: FastifyReply,
    state: ClusterState,
    user: UserInfo,
    info: RequestInfo,
    query: URLSearchParams,
  ) => {
    const t = findResourceType(info.apiGroup, info.apiVersion, info.resource);
    if (!t) throw notServed(requestedResource(info));
    const uid = state.cfg.uid;
    const key = storeKeyOf(t);
    const now = clock.now();
    const dryRun = query.getAll('dryRun').includes('All');
    const ns = t.namespaced ? info.namespace : '';
    if (t.namespaced && !ns && !['list', 'watch'].includes(info.verb)) throw noSuchResource();
    if (!t.verbs.includes(info.verb) && !info.subresource) throw methodNotAllowed();
    const written = () => {
      if (t.group === 'rbac.authorization.k8s.io') clusters.rbacChanged(uid);
    };

    if (t.virtual) {
      if (info.verb !== 'create') throw methodNotAllowed();
      return send(reply, 201, await review(t, state, user, decodeBody(t, parseBody(req), ns), info));
    }
    if (info.subresource) {
      if (t.resource === 'serviceaccounts' && info.subresource === 'token' && info.verb === 'create')
        return send(reply, 201, await tokenRequest(state, ns, info.name, parseBody(req), now));
      throw notServed(requestedResource(info));
    }
    const requireNamespace = async () => {
      if (t.namespaced && !(await store.getKubeObject(uid, '/namespaces', '', ns)))
        throw notFound(findResourceType('', 'v1', 'namespaces')!, ns);
    };

    switch (info.verb) {
      case 'get': {
        const o = await store.getKubeObject(uid, key, ns, info.name);
        if (!o) throw notFound(t, info.name);
        const tv = tableVersion(req.headers.accept);
        return send(
          reply,
          200,
          tv ? table(t, [served(o)], tv, String(o.resourceVersion), query.get('includeObject') ?? 'Metadata', now) : served(o),
        );
      }
      case 'list': {
        let objects = (await store.listKubeObjects(uid, key, t.namespaced && ns ? ns : undefined)).map(served);
        const labels = query.get('labelSelector');
        const fields = query.get('fieldSelector');
        if (labels) objects = objects.filter((o) => labelsMatch(labels, o));
        if (fields) objects = objects.filter((o) => fieldsMatch(fields, o));
        const rv = String(await store.kubeResourceVersion(uid));
        const tv = tableVersion(req.headers.accept);
        if (tv) return send(reply, 200, table(t, objects, tv, rv, query.get('includeObject') ?? 'Metadata', now));
        return send(reply, 200, { kind: `${t.kind}List`, apiVersion: apiVersionOf(t), metadata: { resourceVersion: rv }, items: objects });
      }
      case 'watch':
        throw new KubeError(405, 'MethodNotAllowed', 'watch is not supported by the emulated cluster API', {});
      case 'create': {
        const body = prepareCreate(t, decodeBody(t, parseBody(req), ns), ns, now);
        validate(t, body);
        await requireNamespace();
        if (dryRun) {
          if (await store.getKubeObject(uid, key, ns, body.metadata.name)) throw alreadyExists(t, body.metadata.name);
          return send(reply, 201, body);
        }
        const created = await store
          .transaction(async (tx) => {
            const o = await tx.createKubeObject({ clusterUid: uid, resource: key, namespace: ns, name: body.metadata.name, body });
            if (t.resource === 'namespaces') {
              for (const d of namespaceDefaults(body.metadata.name, { uid, serverCaPem: opts.serverCaPem }, now)) {
                await tx.createKubeObject({
                  clusterUid: uid,
                  resource: d.resource,
                  namespace: d.namespace,
                  name: d.body.metadata.name,
                  body: d.body,
                });
              }
            }
            return o;
          })
          .catch((err) => {
            if (err instanceof StoreError && err.code === 'conflict') throw alreadyExists(t, body.metadata.name);
            throw err;
          });
        written();
        return send(reply, 201, served(created));
      }
      case 'update':
      case 'patch': {
        const input = parseBody(req);
        const change = (current: KubeBody): KubeBody => {
          let next: KubeBody;
          if (info.verb === 'update') {
            next = decodeBody(t, input, ns);
            const rv = next.metadata?.resourceVersion;
            if (rv !== undefined && rv !== '' && String(rv) !== String(current.metadata.resourceVersion)) throw conflict(t, info.name);
            if (next.metadata?.name && next.metadata.name !== info.name)
              throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${info.name})`);
          } else {
            next = applyPatch(String(req.headers['content-type'] ?? ''), current, input, t, info.name);
            const rv = next.metadata?.resourceVersion;
            if (rv !== undefined && String(rv) !== String(current.metadata.resourceVersion)) throw conflict(t, info.name);
          }
          const out = prepareUpdate(t, next, current);
          validate(t, out, current);
          return out;
        };
        if (dryRun) {
          const o = await store.getKubeObject(uid, key, ns, info.name);
          if (!o) throw notFound(t, info.name);
          return send(reply, 200, change(served(o)));
        }
        const updated = await store.transaction(async (tx) => {
          const current = await tx.getKubeObject(uid, key, ns, info.name);
          if (!current) return null;
          const next = change(served(current));
          // The updater sees the row under its lock: if it moved since the read, the caller's view is stale.
          return tx.updateKubeObject(uid, key, ns, info.name, (body) => {
            if (JSON.stringify(body) !== JSON.stringify(current.body)) throw conflict(t, info.name);
            return next;
          });
        });
        if (!updated) throw notFound(t, info.name);
        written();
        return send(reply, 200, served(updated));
      }
      case 'delete': {
        if (t.resource === 'namespaces' && SYSTEM_NAMESPACES.includes(info.name)) {
          throw new KubeError(403, 'Forbidden', `namespaces "${info.name}" is forbidden: this namespace may not be deleted`, {
            name: info.name,
            kind: 'namespaces',
          });
        }
        const existing = await store.getKubeObject(uid, key, ns, info.name);
        if (!existing) throw notFound(t, info.name);
        if (!dryRun) {
          await store.transaction(async (tx) => {
            await tx.deleteKubeObject(uid, key, ns, info.name);
            if (t.resource === 'namespaces') await deleteNamespaceContents(tx, uid, info.name);
          });
          written();
        }
        if (t.resource === 'pods' || t.resource === 'namespaces') {
          const body = served(existing);
          return send(reply, 200, {
            ...body,
            metadata: { ...body.metadata, deletionTimestamp: kubeTime(now) },
            ...(t.resource === 'namespaces' ? { status: { phase: 'Terminating' } } : {}),
          });
        }
        return send(reply, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: {
            name: info.name,
            ...(t.group ? { group: t.group } : {}),
            kind: t.resource,
            uid: (existing.body as KubeBody).metadata?.uid,
          },
        });
      }
      case 'deletecollection': {
        let objects = (await store.listKubeObjects(uid, key, t.namespaced ? ns : undefined)).map(served);
        const labels = query.get('labelSelector');
        if (labels) objects = objects.filter((o) => labelsMatch(labels, o));
        if (!dryRun) {
          await store.transaction(async (tx) => {
            for (const o of objects) await tx.deleteKubeObject(uid, key, ns, o.metadata.name);
          });
          written();
        }
        return send(reply, 200, {
          kind: `${t.kind}List`,
          apiVersion: apiVersionOf(t),
          metadata: { resourceVersion: String(await store.kubeResourceVersion(uid)) },
          items: objects,
        });
      }
      default:
        throw methodNotAllowed();
    }
  };

  const deleteNamespaceContents = async (tx: typeof store, uid: string, namespace: string) => {
    for (const t of RESOURCE_TYPES) {
      if (!t.namespaced || t.virtual) continue;
      for (const o of await tx.listKubeObjects(uid, storeKeyOf(t), namespace))
        await tx.deleteKubeObject(uid, storeKeyOf(t), namespace, o.name);
    }
  };

  const tokenRequest = async (state: ClusterState, ns: string, name: string, input: unknown, now: number) => {
    const sa = await store.getKubeObject(state.cfg.uid, '/serviceaccounts', ns, name);
    if (!sa) throw notFound(findResourceType('', 'v1', 'serviceaccounts')!, name);
    const spec = isObject(input) && isObject(input.spec) ? input.spec : {};
    const audiences = Array.isArray(spec.audiences) && spec.audiences.length ? spec.audiences.map(String) : [state.issuer];
    const expirationSeconds = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : 3600;
    try {
      const issued = issueServiceAccountToken({
        issuer: state.issuer,
        key: { privateKey: state.saKey.privateKey, kid: state.saKey.kid },
        namespace: ns,
        name,
        uid: String((sa.body as KubeBody).metadata?.uid ?? ''),
        audiences,
        expirationSeconds,
        now,
      });
      return {
        kind: 'TokenRequest',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { name, namespace: ns, creationTimestamp: null },
        spec: { audiences, expirationSeconds, boundObjectRef: null },
        status: { token: issued.token, expirationTimestamp: issued.expirationTimestamp },
      };
    } catch (err) {
      if (err instanceof TokenRequestInvalidError) {
        throw new KubeError(422, 'Invalid', `TokenRequest.authentication.k8s.io "${name}" is invalid: ${err.message}`, {
          name,
          group: 'authentication.k8s.io',
          kind: 'TokenRequest',
          causes: [{ reason: 'FieldValueInvalid', message: err.message, field: err.field }],
        });
      }
      throw err;
    }
  };

  const review = async (t: ResourceType, state: ClusterState, user: UserInfo, body: KubeBody, info: RequestInfo): Promise<KubeBody> => {
    const apiVersion = `${t.group}/${info.apiVersion}`;
    const out = (status: KubeBody, spec: KubeBody = body.spec ?? {}) => ({
      kind: t.kind,
      apiVersion,
      metadata: { creationTimestamp: null },
      spec,
      status,
    });
    const spec: KubeBody = isObject(body.spec) ? body.spec : {};
    switch (t.resource) {
      case 'selfsubjectreviews':
        return { kind: t.kind, apiVersion, metadata: { creationTimestamp: kubeTime(clock.now()) }, status: { userInfo: userJson(user) } };
      case 'tokenreviews': {
        if (typeof spec.token !== 'string' || !spec.token) throw badRequest('spec.token is required');
        const r = await state.authenticateToken({ token: spec.token });
        return out(
          r.kind === 'user'
            ? { authenticated: true, user: userJson(withAuthenticated(r.user)) }
            : { user: {}, ...(r.kind === 'error' ? { error: r.message } : {}) },
          { token: spec.token },
        );
      }
      case 'selfsubjectaccessreviews':
      case 'subjectaccessreviews':
      case 'localsubjectaccessreviews': {
        const subject =
          t.resource === 'selfsubjectaccessreviews'
            ? user
            : {
                username: String(spec.user ?? ''),
                uid: String(spec.uid ?? ''),
                groups: Array.isArray(spec.groups) ? spec.groups.map(String) : [],
                extra: isObject(spec.extra) ? spec.extra : {},
              };
        const ra = isObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
        const na = isObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
        if (!ra === !na)
          throw new KubeError(
            422,
            'Invalid',
            `${t.kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified`,
            { group: 'authorization.k8s.io', kind: t.kind },
          );
        if (t.resource === 'localsubjectaccessreviews' && ra && ra.namespace !== info.namespace)
          throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${info.namespace}`);
        const d = await state.authorize({
          user: subject,
          verb: String((ra ?? na)!.verb ?? ''),
          resourceRequest: !!ra,
          ...(ra
            ? {
                namespace: String(ra.namespace ?? ''),
                apiGroup: String(ra.group ?? ''),
                resource: String(ra.resource ?? ''),
                subresource: String(ra.subresource ?? ''),
                name: String(ra.name ?? ''),
              }
            : { path: String(na!.path ?? '') }),
        });
        return out({
          allowed: d.decision === 'allow',
          ...(d.decision === 'deny' ? { denied: true } : {}),
          ...(d.reason ? { reason: d.reason } : {}),
          ...(d.error ? { evaluationError: d.error } : {}),
        });
      }
      case 'selfsubjectrulesreviews':
        return out({
          resourceRules: [],
          nonResourceRules: [],
          incomplete: true,
          evaluationError: 'rules reviews are not supported by the emulated cluster API; use kubectl auth can-i <verb> <resource>',
        });
      default:
        throw noSuchResource();
    }
  };

  app.register(async (scope) => {
    // Bodies are parsed here by their media type (JSON, YAML, the patch types).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 3 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    const route = async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        return await handle(req, reply);
      } catch (err) {
        if (err instanceof KubeError) return sendError(reply, err);
        req.log.error({ err: { message: (err as Error).message, stack: (err as Error).stack } }, 'cluster API request failed');
        return sendError(reply, new KubeError(500, 'InternalError', 'Internal error occurred: the request was logged with its id', {}));
      }
    };
    scope.all('/clusters/:uid', route);
    scope.all('/clusters/:uid/*', route);
  });

  return { clusters };
}

const userJson = (u: UserInfo) => ({
  username: u.username,
  ...(u.uid ? { uid: u.uid } : {}),
  groups: u.groups,
  ...(Object.keys(u.extra).length ? { extra: u.extra } : {}),
});

function attributesOf(user: UserInfo, info: RequestInfo): RequestAttributes {
  return info.resourceRequest
    ? {
        user,
        verb: info.verb,
        resourceRequest: true,
        namespace: info.namespace,
        apiGroup: info.apiGroup,
        resource: info.resource,
        subresource: info.subresource,
        name: info.name,
      }
    : { user, verb: info.verb, resourceRequest: false, path: info.path };
}
