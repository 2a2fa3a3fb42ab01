import { forbiddenMessage, kubeStatusBody, type KubeStatusDetails } from '../shared/kube-status.js';
import type { ResourceType } from './resources.js';

// Kubernetes Status bodies, with the field order and wording of the kube-apiserver's (apimachinery's
// `errors.New*` and `responsewriters`), so kubectl prints what it prints against AKS.

export type StatusDetails = KubeStatusDetails;

/** A Kubernetes refusal: `status` (HTTP, the Status's `code`), `reason` (its stable string, also `code` here). */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  get code(): string {
    return this.reason;
  }

  body(): Record<string, unknown> {
    return kubeStatusBody(this.status, this.reason, this.message, this.details);
  }
}

/** `clusterrolebindings.rbac.authorization.k8s.io` or `pods`. */
export const qualified = (t: { group: string; resource: string }) => (t.group ? `${t.resource}.${t.group}` : t.resource);
const detailsOf = (t: { group: string; resource: string }, name?: string): StatusDetails => ({
  ...(name ? { name } : {}),
  ...(t.group ? { group: t.group } : {}),
  kind: t.resource,
});

export const unauthorized = () => new KubeError(401, 'Unauthorized', 'Unauthorized');
export const notFound = (t: ResourceType, name: string) =>
  new KubeError(404, 'NotFound', `${qualified(t)} "${name}" not found`, detailsOf(t, name));
export const noSuchResource = () => new KubeError(404, 'NotFound', 'the server could not find the requested resource', {});
/**
 * A resource (or subresource) the built-in cluster API does not emulate: a 404 NotFound Status, as the
 * kube-apiserver answers for what it does not serve, whose message says why and what to run instead,
 * so that kubectl prints `Error from server (NotFound): the built-in cluster API of Kentra does not serve pods/log: …`.
 */
export const notServed = (what: string) =>
  new KubeError(
    404,
    'NotFound',
    `the built-in cluster API of Kentra does not serve ${what}: run a real kube-apiserver with kentra up --kube-apiserver <path> --etcd <path> (docs/real-api-servers.md)`,
    {},
  );
/** `deployments.apps`, `pods/log`: what a request asked for, as the message above names it. */
export const requestedResource = (info: { apiGroup: string; resource: string; subresource: string }) =>
  `${qualified({ group: info.apiGroup, resource: info.resource })}${info.subresource ? `/${info.subresource}` : ''}`;
export const alreadyExists = (t: ResourceType, name: string) =>
  new KubeError(409, 'AlreadyExists', `${qualified(t)} "${name}" already exists`, detailsOf(t, name));
export const conflict = (t: ResourceType, name: string) =>
  new KubeError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(t, name),
  );
export const badRequest = (message: string) => new KubeError(400, 'BadRequest', message);
export const methodNotAllowed = () =>
  new KubeError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
export const unsupportedMedia = (type: string) =>
  new KubeError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got ${type})`,
  );

/** 422 Invalid, one cause per field problem: `ConfigMap "X" is invalid: metadata.name: Invalid value: …`. */
export function invalid(
  t: ResourceType,
  name: string,
  causes: {
    field: string;
    type: 'Invalid value' | 'Required value' | 'Unsupported value' | 'Forbidden';
    value?: unknown;
    detail: string;
  }[],
): KubeError {
  const reasons = {
    'Invalid value': 'FieldValueInvalid',
    'Required value': 'FieldValueRequired',
    'Unsupported value': 'FieldValueNotSupported',
    Forbidden: 'FieldValueForbidden',
  } as const;
  const text = (c: (typeof causes)[number]) =>
    c.type === 'Invalid value' || c.type === 'Unsupported value'
      ? `${c.type}: ${JSON.stringify(c.value)}: ${c.detail}`
      : `${c.type}${c.detail ? `: ${c.detail}` : ''}`;
  const all = causes.map((c) => `${c.field}: ${text(c)}`);
  const message = `${t.kind}${t.group ? `.${t.group}` : ''} "${name}" is invalid: ${all.length === 1 ? all[0] : `[${all.join(', ')}]`}`;
  return new KubeError(422, 'Invalid', message, {
    name,
    ...(t.group ? { group: t.group } : {}),
    kind: t.kind,
    causes: causes.map((c) => ({ reason: reasons[c.type], message: text(c), field: c.field })),
  });
}

/** What the authorizer was asked, as the kube-apiserver's request info sees it. */
export interface RequestInfo {
  resourceRequest: boolean;
  verb: string;
  path: string;
  apiPrefix?: 'api' | 'apis';
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

/** `responsewriters.Forbidden`: `pods is forbidden: User "x" cannot list resource "pods" in API group "" at the cluster scope[: reason]`. */
export function forbidden(info: RequestInfo, username: string, reason: string): KubeError {
  const gr = { group: info.resourceRequest ? info.apiGroup : '', resource: info.resourceRequest ? info.resource : '' };
  const message = forbiddenMessage(
    info.resourceRequest
      ? {
          verb: info.verb,
          apiGroup: info.apiGroup,
          resource: info.resource,
          subresource: info.subresource,
          namespace: info.namespace,
          name: info.name,
        }
      : { verb: info.verb, path: info.path },
    username,
    reason,
  );
  return new KubeError(403, 'Forbidden', message, {
    ...(info.name ? { name: info.name } : {}),
    ...(gr.group ? { group: gr.group } : {}),
    ...(gr.resource ? { kind: gr.resource } : {}),
  });
}

/**
 * The kube-apiserver's RequestInfoFactory: `/api/v1/namespaces/ns/pods/name/log` → verb, group,
 * version, namespace, resource, name, subresource. Paths outside /api and /apis are non-resource.
 */
export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const lower = method.toUpperCase();
  const parts = path.split('/').filter(Boolean);
  const base: RequestInfo = {
    resourceRequest: false,
    verb: lower.toLowerCase(),
    path,
    apiGroup: '',
    apiVersion: '',
    namespace: '',
    resource: '',
    subresource: '',
    name: '',
  };
  if (parts[0] !== 'api' && parts[0] !== 'apis') return base;
  const prefix = parts[0] as 'api' | 'apis';
  let rest = parts.slice(1);
  if (prefix === 'api') {
    if (rest.length < 2) return base; // /api, /api/v1: discovery
    base.apiVersion = rest[0]!;
    rest = rest.slice(1);
  } else {
    if (rest.length < 3) return base; // /apis, /apis/g, /apis/g/v
    base.apiGroup = rest[0]!;
    base.apiVersion = rest[1]!;
    rest = rest.slice(2);
  }
  const info: RequestInfo = { ...base, resourceRequest: true, apiPrefix: prefix };
  const verbs: Record<string, string> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
  info.verb = verbs[lower] ?? '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    info.namespace = rest[1]!;
    // /namespaces/<ns>/<resource>/…, except the namespace's own status and finalize subresources
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  info.resource = rest[0] ?? '';
  info.name = rest[1] ?? '';
  info.subresource = rest[2] ?? '';
  const watching = query.get('watch') === 'true' || query.get('watch') === '1';
  if (!info.name && info.verb === 'get') {
    info.verb = watching ? 'watch' : 'list';
    // `kubectl get pod web -w` lists with a metadata.name field selector: authorized as that name.
    const byName = /(?:^|,)metadata\.name==?([^,]+)(?:,|$)/.exec(query.get('fieldSelector') ?? '');
    if (byName && !byName[1]!.includes('/') && !byName[1]!.includes('%')) info.name = byName[1]!;
  }
  if (!info.name && info.verb === 'delete') info.verb = 'deletecollection';
  return info;
}
