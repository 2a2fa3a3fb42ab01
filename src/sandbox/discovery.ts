import { createHash } from 'node:crypto';
import type { ClusterState } from './cluster-state.js';
import { encodeOpenApiV2, type OpenApiV2Operation } from './protobuf.js';
import { apiGroups, apiVersionOf, RESOURCE_TYPES, type ResourceType } from './resources.js';

// Discovery as kubectl reads it: /api and /apis (unaggregated: client-go falls back to these when
// the answer is plain JSON), the resource lists per group version, /version, the health paths, and
// an OpenAPI v3 index whose operations declare `fieldValidation`, so `kubectl apply` validates on
// the server instead of needing a schema.

const storageHash = (t: ResourceType) =>
  createHash('sha256')
    .update(`${apiVersionOf(t)}/${t.kind}`)
    .digest('base64')
    .slice(0, 11);

function resourceList(group: string, version: string): Record<string, unknown> | null {
  const types = RESOURCE_TYPES.filter(
    (t) =>
      t.group === group &&
      (t.version === version ||
        (group === 'authentication.k8s.io' && t.resource === 'selfsubjectreviews' && ['v1beta1', 'v1alpha1'].includes(version))),
  );
  if (types.length === 0) return null;
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    resources.push({
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      ...(t.categories ? { categories: t.categories } : {}),
      ...(t.virtual ? {} : { storageVersionHash: storageHash(t) }),
    });
    for (const s of t.subresources ?? []) {
      resources.push({
        name: `${t.resource}/${s.name}`,
        singularName: '',
        namespaced: t.namespaced,
        ...(s.group ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function apiGroup(group: string, versions: string[]) {
  const list = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: list, preferredVersion: list[0] };
}

/** The OpenAPI v3 document of one group version: paths with the operations kubectl checks for `fieldValidation`. */
function openApiV3(group: string, version: string, kubernetesVersion: string): Record<string, unknown> | null {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version && !t.virtual);
  if (types.length === 0 && !RESOURCE_TYPES.some((t) => t.group === group && t.version === version)) return null;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};
  const param = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
  for (const t of types) {
    const gvk = { group, version, kind: t.kind };
    const op = (action: string, extra: object[] = []) => ({
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters: [param('dryRun'), param('fieldManager'), ...extra],
      responses: { '200': { description: 'OK' } },
    });
    const item = `${prefix}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
    paths[`${prefix}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}`] = {
      post: op('post', [param('fieldValidation')]),
      get: op('list'),
    };
    paths[item] = {
      get: op('get'),
      put: op('put', [param('fieldValidation')]),
      patch: op('patch', [param('fieldValidation'), param('force')]),
      delete: op('delete'),
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: `v${kubernetesVersion}` }, paths, components: { schemas: {} } };
}

/** `/openapi/v2` as protobuf: the write operations and their `fieldValidation` parameter (kubectl 1.27–1.28 need it to apply). */
export function openApiV2(kubernetesVersion: string): Buffer {
  const ops: OpenApiV2Operation[] = [];
  for (const t of RESOURCE_TYPES.filter((x) => !x.virtual)) {
    const prefix = `${t.group ? `/apis/${t.group}` : '/api'}/${t.version}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}`;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const params = ['dryRun', 'fieldManager', 'fieldValidation'];
    ops.push(
      { path: prefix, method: 'post', gvk, queryParams: params },
      { path: `${prefix}/{name}`, method: 'put', gvk, queryParams: params },
      { path: `${prefix}/{name}`, method: 'patch', gvk, queryParams: [...params, 'force'] },
    );
  }
  return encodeOpenApiV2('Kubernetes', `v${kubernetesVersion}`, ops);
}

/** The document for a non-resource path, plain text for the health checks, or null (404). */
export function discovery(path: string, state: ClusterState, host: string): Record<string, unknown> | string | Buffer | null {
  const parts = path.split('/').filter(Boolean);
  const v = state.cfg.kubernetesVersion || '1.30.0';
  switch (parts[0]) {
    case undefined:
      return {
        paths: [
          '/api',
          '/api/v1',
          '/apis',
          ...apiGroups()
            .filter((g) => g.group)
            .flatMap((g) => [`/apis/${g.group}`, ...g.versions.map((x) => `/apis/${g.group}/${x}`)]),
          '/healthz',
          '/livez',
          '/openapi/v3',
          '/readyz',
          '/version',
        ],
      };
    case 'healthz':
    case 'livez':
    case 'readyz':
      return parts.length === 1 ? 'ok' : null;
    case 'version': {
      const [major, minor] = v.split('.');
      return {
        major,
        minor,
        gitVersion: `v${v}`,
        gitCommit: createHash('sha1').update(v).digest('hex'),
        gitTreeState: 'clean',
        buildDate: '2025-01-01T00:00:00Z',
        goVersion: 'go1.23.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    }
    case 'api':
      if (parts.length === 1)
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] };
      return parts.length === 2 ? resourceList('', parts[1]!) : null;
    case 'apis': {
      const groups = apiGroups().filter((g) => g.group);
      if (parts.length === 1) return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => apiGroup(g.group, g.versions)) };
      const g = groups.find((x) => x.group === parts[1]);
      if (!g) return null;
      if (parts.length === 2) return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g.group, g.versions) };
      return parts.length === 3 ? resourceList(g.group, parts[2]!) : null;
    }
    case 'openapi': {
      if (parts[1] === 'v2' && parts.length === 2) return openApiV2(v);
      if (parts[1] !== 'v3') return null;
      if (parts.length === 2) {
        const index: Record<string, { serverRelativeURL: string }> = {};
        for (const g of apiGroups()) {
          for (const ver of g.versions) {
            const rel = g.group ? `apis/${g.group}/${ver}` : `api/${ver}`;
            index[rel] = {
              serverRelativeURL: `/openapi/v3/${rel}?hash=${createHash('sha512').update(`${rel}/${v}`).digest('hex').toUpperCase().slice(0, 128)}`,
            };
          }
        }
        return { paths: index };
      }
      const rel = parts.slice(2);
      return rel[0] === 'api' ? openApiV3('', rel[1] ?? '', v) : rel[0] === 'apis' ? openApiV3(rel[1] ?? '', rel[2] ?? '', v) : null;
    }
    default:
      return null;
  }
}
