// The one Kubernetes Status body (apimachinery's metav1.Status), in the kube-apiserver's field order,
// for the built-in cluster API (src/sandbox) and the access webhooks (src/access) alike.

export interface KubeStatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason: string; message: string; field: string }[];
}

/** A failure Status: `{kind: Status, apiVersion: v1, metadata: {}, status: Failure, message, reason, details?, code}`. */
export function kubeStatusBody(code: number, reason: string, message: string, details?: KubeStatusDetails): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** What a Forbidden message names: a resource request (group, resource, subresource, namespace, name) or a non-resource path. */
export interface ForbiddenRequest {
  verb: string;
  path?: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/**
 * `responsewriters.Forbidden`'s message, as kubectl prints it after `Error from server (Forbidden): `:
 * `pods "x" is forbidden: User "u" cannot get resource "pods" in API group "" in the namespace "ns"[: reason]`,
 * or `forbidden: User "u" cannot get path "/metrics"[: reason]` for a non-resource request.
 */
export function forbiddenMessage(q: ForbiddenRequest, username: string, reason: string): string {
  const tail = reason ? `: ${reason}` : '';
  if (!q.resource) return `forbidden: User "${username}" cannot ${q.verb} path "${q.path ?? ''}"${tail}`;
  const group = q.apiGroup ?? '';
  const resource = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  const scope = q.namespace ? ` in the namespace "${q.namespace}"` : ' at the cluster scope';
  const qualified = group ? `${q.resource}.${group}` : q.resource;
  return `${qualified}${q.name ? ` "${q.name}"` : ''} is forbidden: User "${username}" cannot ${q.verb} resource "${resource}" in API group "${group}"${scope}${tail}`;
}
