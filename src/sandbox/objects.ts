import { randomBytes, randomUUID } from 'node:crypto';
import { apiVersionOf, type KubeBody, type ResourceType } from './resources.js';
import { badRequest, invalid, KubeError } from './status.js';

// What the apiserver does to an object on its way in: defaults for metadata, the validation users
// meet (names, RBAC references), patches (JSON merge, strategic merge as kubectl sends it, JSON
// patch), and the label and field selectors of list requests.

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/** Seconds-precision RFC 3339, as metav1.Time marshals. */
export const kubeTime = (ms: number) => `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;

const isObject = (v: unknown): v is KubeBody => !!v && typeof v === 'object' && !Array.isArray(v);

function nameProblem(t: ResourceType, name: string): string | null {
  if (t.group === 'rbac.authorization.k8s.io') {
    // RBAC names are path segment names: anything but '.', '..', '/' and '%'.
    if (name === '.' || name === '..') return `may not be '${name}'`;
    if (/[/%]/.test(name)) return `may not contain '${name.includes('/') ? '/' : '%'}'`;
    return null;
  }
  if (t.resource === 'namespaces')
    return name.length > 63 ? 'must be no more than 63 characters' : DNS1123_LABEL.test(name) ? null : LABEL_MSG;
  if (name.length > 253) return 'must be no more than 253 characters';
  return DNS1123_SUBDOMAIN.test(name) ? null : SUBDOMAIN_MSG;
}

/** Parses and checks a body sent for `t`: kind and apiVersion as the URL says, namespace consistent. */
export function decodeBody(t: ResourceType, body: unknown, urlNamespace: string): KubeBody {
  if (!isObject(body)) throw badRequest('the request body must be a JSON or YAML object');
  const want = apiVersionOf(t);
  if (body.apiVersion !== undefined && body.apiVersion !== want && !(t.virtual && String(body.apiVersion).startsWith(`${t.group}/`))) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${want})`);
  }
  if (body.kind !== undefined && body.kind !== t.kind)
    throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${t.kind})`);
  const meta = body.metadata ?? {};
  if (!isObject(meta)) throw badRequest('metadata must be an object');
  if (t.namespaced && meta.namespace && urlNamespace && meta.namespace !== urlNamespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return { ...body, apiVersion: want, kind: t.kind, metadata: { ...meta } };
}

type Cause = Parameters<typeof invalid>[2][number];

function rbacProblems(t: ResourceType, obj: KubeBody): Cause[] {
  const causes: Cause[] = [];
  if (t.resource === 'clusterrolebindings' || t.resource === 'rolebindings') {
    // ValidateRoleRef's order: apiGroup, kind, name.
    const ref: KubeBody = isObject(obj.roleRef) ? obj.roleRef : {};
    const kinds = t.resource === 'clusterrolebindings' ? ['ClusterRole'] : ['Role', 'ClusterRole'];
    if (ref.apiGroup !== 'rbac.authorization.k8s.io')
      causes.push({
        field: 'roleRef.apiGroup',
        type: 'Unsupported value',
        value: ref.apiGroup ?? '',
        detail: 'supported values: "rbac.authorization.k8s.io"',
      });
    if (!kinds.includes(ref.kind))
      causes.push({
        field: 'roleRef.kind',
        type: 'Unsupported value',
        value: ref.kind ?? '',
        detail: `supported values: ${kinds.map((k) => `"${k}"`).join(', ')}`,
      });
    if (!ref.name) causes.push({ field: 'roleRef.name', type: 'Required value', detail: '' });
    (Array.isArray(obj.subjects) ? obj.subjects : []).forEach((s: KubeBody, i: number) => {
      const f = `subjects[${i}]`;
      if (!isObject(s) || !s.name) causes.push({ field: `${f}.name`, type: 'Required value', detail: '' });
      if (!isObject(s) || !['User', 'Group', 'ServiceAccount'].includes(s.kind)) {
        causes.push({
          field: `${f}.kind`,
          type: 'Unsupported value',
          value: isObject(s) ? (s.kind ?? '') : '',
          detail: 'supported values: "ServiceAccount", "User", "Group"',
        });
      } else if (s.kind === 'ServiceAccount') {
        if (s.apiGroup)
          causes.push({ field: `${f}.apiGroup`, type: 'Unsupported value', value: s.apiGroup, detail: 'supported values: ""' });
        if (t.resource === 'clusterrolebindings' && !s.namespace)
          causes.push({ field: `${f}.namespace`, type: 'Required value', detail: '' });
      } else if (s.apiGroup !== 'rbac.authorization.k8s.io') {
        causes.push({
          field: `${f}.apiGroup`,
          type: 'Unsupported value',
          value: s.apiGroup ?? '',
          detail: 'supported values: "rbac.authorization.k8s.io"',
        });
      }
    });
  }
  if (t.resource === 'clusterroles' || t.resource === 'roles') {
    (Array.isArray(obj.rules) ? obj.rules : []).forEach((r: KubeBody, i: number) => {
      if (!isObject(r) || !Array.isArray(r.verbs) || r.verbs.length === 0)
        causes.push({ field: `rules[${i}].verbs`, type: 'Required value', detail: 'verbs must contain at least one value' });
      else if (!r.nonResourceURLs?.length && !r.resources?.length)
        causes.push({ field: `rules[${i}].resources`, type: 'Required value', detail: 'resource rules must supply at least one resource' });
      else if (r.nonResourceURLs?.length && t.resource === 'roles')
        causes.push({
          field: `rules[${i}].nonResourceURLs`,
          type: 'Invalid value',
          value: r.nonResourceURLs,
          detail: 'namespaced rules cannot apply to non-resource URLs',
        });
    });
  }
  return causes;
}

/** Metadata and per-type checks of an object about to be stored; throws 422 Invalid as the apiserver does. */
export function validate(t: ResourceType, obj: KubeBody, old?: KubeBody): void {
  const name = String(obj.metadata?.name ?? '');
  const causes: Cause[] = [];
  if (!name) causes.push({ field: 'metadata.name', type: 'Required value', detail: 'name or generateName is required' });
  else {
    const problem = nameProblem(t, name);
    if (problem) causes.push({ field: 'metadata.name', type: 'Invalid value', value: name, detail: problem });
  }
  for (const key of ['labels', 'annotations'] as const) {
    const map = obj.metadata?.[key];
    if (map !== undefined && map !== null && (!isObject(map) || Object.values(map).some((v) => typeof v !== 'string'))) {
      causes.push({ field: `metadata.${key}`, type: 'Invalid value', value: map, detail: 'must be a map of string keys to string values' });
    }
  }
  causes.push(...rbacProblems(t, obj));
  const sameRef = (a: KubeBody = {}, b: KubeBody = {}) => a.apiGroup === b.apiGroup && a.kind === b.kind && a.name === b.name;
  if (old && (t.resource === 'clusterrolebindings' || t.resource === 'rolebindings') && !sameRef(old.roleRef, obj.roleRef)) {
    causes.push({ field: 'roleRef', type: 'Invalid value', value: obj.roleRef, detail: 'cannot change roleRef' });
  }
  if (t.resource === 'configmaps' || t.resource === 'secrets') {
    for (const key of Object.keys({ ...(obj.data ?? {}), ...(obj.binaryData ?? {}), ...(obj.stringData ?? {}) })) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key))
        causes.push({
          field: `data[${key}]`,
          type: 'Invalid value',
          value: key,
          detail:
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        });
    }
  }
  if (causes.length) throw invalid(t, name, causes);
}

/** A new object's server-set metadata: name from generateName, uid, creationTimestamp. */
export function prepareCreate(t: ResourceType, obj: KubeBody, namespace: string, now: number): KubeBody {
  const meta = { ...obj.metadata };
  if (!meta.name && typeof meta.generateName === 'string' && meta.generateName) {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    meta.name = `${meta.generateName}${[...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('')}`;
  }
  if (t.namespaced) meta.namespace = namespace;
  else delete meta.namespace;
  meta.uid = randomUUID();
  meta.creationTimestamp = kubeTime(now);
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  const out = foldStringData(t, { ...obj, metadata: meta });
  if (t.resource === 'secrets') out.type = out.type || 'Opaque';
  if (t.resource === 'namespaces') {
    out.spec = { finalizers: ['kubernetes'], ...(out.spec ?? {}) };
    out.status = { phase: 'Active' };
  }
  return out;
}

/** An update keeps what the server owns (uid, creation time, namespace). */
export function prepareUpdate(t: ResourceType, next: KubeBody, old: KubeBody): KubeBody {
  const meta = { ...next.metadata, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp, name: old.metadata.name };
  if (t.namespaced) meta.namespace = old.metadata.namespace;
  delete meta.resourceVersion;
  const out: KubeBody = { ...next, apiVersion: old.apiVersion, kind: old.kind, metadata: meta };
  if (t.resource === 'namespaces') out.status = old.status;
  return foldStringData(t, out);
}

/** A secret's stringData is write-only: folded into data, base64. */
function foldStringData(t: ResourceType, obj: KubeBody): KubeBody {
  if (t.resource !== 'secrets' || !isObject(obj.stringData)) return obj;
  const out: KubeBody = {
    ...obj,
    data: {
      ...(obj.data ?? {}),
      ...Object.fromEntries(Object.entries(obj.stringData).map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')])),
    },
  };
  delete out.stringData;
  return out;
}

// ---- patches -------------------------------------------------------------------------------------------

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: KubeBody = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Strategic merge patch as kubectl sends it for the types served here: maps merge, lists are
 * replaced (none of these types' lists have a merge key the emulator relies on), `$patch: delete`
 * removes a map, and the `$setElementOrder`/`$retainKeys` directives are dropped.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'delete') return undefined;
  if (patch.$patch === 'replace') {
    const { $patch: _drop, ...rest } = patch;
    return stripDirectives(rest);
  }
  const out: KubeBody = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const merged = strategicMergePatch(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => !k.startsWith('$'))
      .map(([k, x]) => [k, stripDirectives(x)]),
  );
}

/** RFC 6902 JSON patch; a failed `test` or a missing path is a 422, as the apiserver answers. */
export function jsonPatch(target: unknown, ops: unknown, t: ResourceType, name: string): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  /** An object or array of the document, as a JSON pointer's parent. */
  type Container = Record<string, unknown> | unknown[];
  let doc: unknown = structuredClone(target);
  const fail = (detail: string) => invalid(t, name, [{ field: '', type: 'Invalid value', value: '', detail }]);
  const parse = (p: unknown): string[] => {
    if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw fail(`invalid JSON pointer ${JSON.stringify(p)}`);
    return p === ''
      ? []
      : p
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (path: string[]) => {
    let cur = doc;
    for (const seg of path.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(seg)] : (cur as Record<string, unknown> | null | undefined)?.[seg];
      if (cur === undefined || cur === null || typeof cur !== 'object') throw fail(`doc is missing path: "/${path.join('/')}"`);
    }
    return cur as Container;
  };
  const get = (path: string[]) =>
    path.reduce(
      (cur: unknown, seg) =>
        cur === undefined || cur === null ? undefined : Array.isArray(cur) ? cur[Number(seg)] : (cur as Record<string, unknown>)[seg],
      doc,
    );
  const remove = (path: string[]) => {
    const parent = parentOf(path);
    const key = path[path.length - 1]!;
    if (Array.isArray(parent)) {
      if (Number(key) >= parent.length) throw fail(`Unable to remove nonexistent key: ${key}: missing value`);
      parent.splice(Number(key), 1);
    } else {
      if (!(key in parent)) throw fail(`Unable to remove nonexistent key: ${key}: missing value`);
      delete parent[key];
    }
  };
  const add = (path: string[], value: unknown) => {
    if (path.length === 0) {
      doc = value;
      return;
    }
    const parent = parentOf(path);
    const key = path[path.length - 1]!;
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, value);
    else parent[key] = value;
  };
  for (const op of ops as KubeBody[]) {
    if (!isObject(op)) throw badRequest('each JSON patch operation must be an object');
    const path = parse(op.path);
    switch (op.op) {
      case 'add':
        add(path, structuredClone(op.value));
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        if (get(path) === undefined) throw fail(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        remove(path);
        add(path, structuredClone(op.value));
        break;
      case 'move': {
        const from = parse(op.from);
        const v = get(from);
        if (v === undefined) throw fail(`move operation does not apply: doc is missing from path: ${op.from}`);
        remove(from);
        add(path, v);
        break;
      }
      case 'copy': {
        const v = get(parse(op.from));
        if (v === undefined) throw fail(`copy operation does not apply: doc is missing from path: ${op.from}`);
        add(path, structuredClone(v));
        break;
      }
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw fail(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

export function applyPatch(contentType: string, target: KubeBody, patch: unknown, t: ResourceType, name: string): KubeBody {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  let out: unknown;
  if (type === 'application/merge-patch+json') out = mergePatch(target, patch);
  else if (type === 'application/strategic-merge-patch+json') out = strategicMergePatch(target, patch);
  else if (type === 'application/json-patch+json') out = jsonPatch(target, patch, t, name);
  else
    throw new KubeError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
    );
  if (!isObject(out)) throw badRequest('the patched object is not an object');
  return out;
}

// ---- selectors -----------------------------------------------------------------------------------------

type Requirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };

/** Splits on commas outside parentheses. */
const splitTerms = (s: string) =>
  s
    .match(/([^,(]+(\([^)]*\))?)+/g)
    ?.map((x) => x.trim())
    .filter(Boolean) ?? [];

export function parseLabelSelector(s: string): Requirement[] {
  return splitTerms(s).map((term) => {
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m)
      return {
        key: m[1]!,
        op: m[2] as 'in' | 'notin',
        values: m[3]!
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      };
    m = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
    if (/^![^\s!=]+$/.test(term)) return { key: term.slice(1), op: '!exists', values: [] };
    if (/^[^\s!=(),]+$/.test(term)) return { key: term, op: 'exists', values: [] };
    throw badRequest(`unable to parse requirement: found '${term}', expected: !, identifier, or 'end of string'`);
  });
}

function satisfies(reqs: Requirement[], get: (key: string) => string | undefined): boolean {
  return reqs.every((r) => {
    const v = get(r.key);
    switch (r.op) {
      case '=':
        return v === r.values[0];
      case '!=':
        return v !== r.values[0];
      case 'in':
        return v !== undefined && r.values.includes(v);
      case 'notin':
        return v === undefined || !r.values.includes(v);
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
    }
  });
}

export function labelsMatch(selector: string, obj: KubeBody): boolean {
  return satisfies(parseLabelSelector(selector), (k) => obj.metadata?.labels?.[k]);
}

/** Field selectors: `a.b=c`, `a.b!=c`, comma-joined; the fields kubectl uses (metadata.name, spec.nodeName, status.phase, involvedObject.*). */
export function fieldsMatch(selector: string, obj: KubeBody): boolean {
  const reqs = splitTerms(selector).map((term) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    return { key: m[1]!.trim(), op: (m[2] === '!=' ? '!=' : '=') as '=' | '!=', values: [m[3]!.trim()] };
  });
  return satisfies(reqs, (path) => {
    const v = path
      .split('.')
      .reduce((cur: unknown, seg) => (cur === undefined || cur === null ? undefined : (cur as Record<string, unknown>)[seg]), obj);
    return v === undefined || v === null ? '' : String(v);
  });
}
