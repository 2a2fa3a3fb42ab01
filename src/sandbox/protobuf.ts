import { badRequest } from './status.js';

// kubectl's typed clients (auth can-i, auth whoami, create token) send their request bodies as
// Kubernetes protobuf: the `k8s\0` magic, then a runtime.Unknown envelope whose `raw` field is the
// object's message. Only the messages those commands send are decoded; answers are JSON, which
// client-go accepts from any server.

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw badRequest('truncated protobuf body');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (i + len > buf.length) throw badRequest('truncated protobuf body');
      out.push({ no, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(i, i + 8) });
      i += 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(i, i + 4) });
      i += 4;
    } else throw badRequest(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const bytesOf = (fs: Field[], no: number) => fs.filter((f) => f.no === no && Buffer.isBuffer(f.value)).map((f) => f.value as Buffer);
const str = (fs: Field[], no: number) => {
  const b = bytesOf(fs, no)[0];
  return b ? b.toString('utf8') : undefined;
};

/** A message's fields by number: name, kind, and for nested messages their schema. Lists are `[…]`. */
type Kind = 'string' | 'bytes' | 'bool' | 'int' | 'map' | 'bytesMap' | Schema;
interface Schema {
  [no: number]: [name: string, kind: Kind, repeated?: 'repeated'];
}

const OBJECT_META: Schema = {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  11: ['labels', 'map'],
  12: ['annotations', 'map'],
  14: ['finalizers', 'string', 'repeated'],
};
const POLICY_RULE: Schema = {
  1: ['verbs', 'string', 'repeated'],
  2: ['apiGroups', 'string', 'repeated'],
  3: ['resources', 'string', 'repeated'],
  4: ['resourceNames', 'string', 'repeated'],
  5: ['nonResourceURLs', 'string', 'repeated'],
};
const LABEL_SELECTOR: Schema = {
  1: ['matchLabels', 'map'],
  2: ['matchExpressions', { 1: ['key', 'string'], 2: ['operator', 'string'], 3: ['values', 'string', 'repeated'] }, 'repeated'],
};
const BINDING: Schema = {
  1: ['metadata', OBJECT_META],
  2: ['subjects', { 1: ['kind', 'string'], 2: ['apiGroup', 'string'], 3: ['name', 'string'], 4: ['namespace', 'string'] }, 'repeated'],
  3: ['roleRef', { 1: ['apiGroup', 'string'], 2: ['kind', 'string'], 3: ['name', 'string'] }],
};
const RESOURCE_ATTRIBUTES: Schema = {
  1: ['namespace', 'string'],
  2: ['verb', 'string'],
  3: ['group', 'string'],
  4: ['version', 'string'],
  5: ['resource', 'string'],
  6: ['subresource', 'string'],
  7: ['name', 'string'],
};

/** The kinds kubectl's typed clients create (`kubectl create namespace|serviceaccount|configmap|secret|role…|token`, `auth can-i [--list]`, `auth whoami`). */
const SCHEMAS: Record<string, Schema> = {
  Namespace: { 1: ['metadata', OBJECT_META], 2: ['spec', { 1: ['finalizers', 'string', 'repeated'] }] },
  ServiceAccount: {
    1: ['metadata', OBJECT_META],
    2: ['secrets', { 1: ['kind', 'string'], 2: ['namespace', 'string'], 3: ['name', 'string'] }, 'repeated'],
    3: ['imagePullSecrets', { 1: ['name', 'string'] }, 'repeated'],
    4: ['automountServiceAccountToken', 'bool'],
  },
  ConfigMap: { 1: ['metadata', OBJECT_META], 2: ['data', 'map'], 3: ['binaryData', 'bytesMap'], 4: ['immutable', 'bool'] },
  Secret: {
    1: ['metadata', OBJECT_META],
    2: ['data', 'bytesMap'],
    3: ['type', 'string'],
    4: ['stringData', 'map'],
    5: ['immutable', 'bool'],
  },
  ClusterRole: {
    1: ['metadata', OBJECT_META],
    2: ['rules', POLICY_RULE, 'repeated'],
    3: ['aggregationRule', { 1: ['clusterRoleSelectors', LABEL_SELECTOR, 'repeated'] }],
  },
  Role: { 1: ['metadata', OBJECT_META], 2: ['rules', POLICY_RULE, 'repeated'] },
  ClusterRoleBinding: BINDING,
  RoleBinding: BINDING,
  SelfSubjectAccessReview: {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      { 1: ['resourceAttributes', RESOURCE_ATTRIBUTES], 2: ['nonResourceAttributes', { 1: ['path', 'string'], 2: ['verb', 'string'] }] },
    ],
  },
  SelfSubjectReview: { 1: ['metadata', OBJECT_META] },
  // kubectl auth can-i --list (1.32+ sends it as protobuf).
  SelfSubjectRulesReview: { 1: ['metadata', OBJECT_META], 2: ['spec', { 1: ['namespace', 'string'] }] },
  TokenRequest: {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      {
        1: ['audiences', 'string', 'repeated'],
        4: ['expirationSeconds', 'int'],
        3: ['boundObjectRef', { 1: ['kind', 'string'], 2: ['apiVersion', 'string'], 3: ['name', 'string'], 4: ['uid', 'string'] }],
      },
    ],
  },
};

function decodeMessage(buf: Buffer, schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields(buf)) {
    const spec = schema[f.no];
    if (!spec) continue; // fields the emulator does not keep (status, managed fields…)
    const [name, kind, repeated] = spec;
    let value: unknown;
    if (kind === 'map' || kind === 'bytesMap') {
      const entry = fields(f.value as Buffer);
      const key = str(entry, 1) ?? '';
      const v = bytesOf(entry, 2)[0] ?? Buffer.alloc(0);
      out[name] = { ...(out[name] as object | undefined), [key]: kind === 'map' ? v.toString('utf8') : v.toString('base64') };
      continue;
    }
    if (kind === 'string') {
      value = (f.value as Buffer).toString('utf8');
      // gogo-protobuf writes empty optional strings; their JSON form omits them.
      if (value === '' && !repeated) continue;
    } else if (kind === 'bytes') value = (f.value as Buffer).toString('base64');
    else if (kind === 'bool') value = f.value === 1n;
    else if (kind === 'int') value = Number(f.value);
    else value = decodeMessage(f.value as Buffer, kind);
    if (repeated) out[name] = [...((out[name] as unknown[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The JSON form of a protobuf-encoded request body, for the kinds kubectl sends that way. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw badRequest('the protobuf body does not start with the Kubernetes magic number');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(bytesOf(unknown, 1)[0] ?? Buffer.alloc(0));
  const apiVersion = str(typeMeta, 1) ?? '';
  const kind = str(typeMeta, 2) ?? '';
  const schema = SCHEMAS[kind];
  if (!schema) throw badRequest(`protobuf bodies of kind ${JSON.stringify(kind)} are not supported by the emulated cluster API; send JSON`);
  return { apiVersion, kind, ...decodeMessage(bytesOf(unknown, 2)[0] ?? Buffer.alloc(0), schema) };
}

// ---- encoding: the OpenAPI v2 document kubectl 1.27 and 1.28 download as protobuf ----------------------

const varint = (n: number): Buffer => {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
};
/** A length-delimited field (strings and nested messages). */
const field = (no: number, value: string | Buffer): Buffer => {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([varint((no << 3) | 2), varint(bytes.length), bytes]);
};
const message = (...parts: Buffer[]) => Buffer.concat(parts);

export interface OpenApiV2Operation {
  path: string;
  method: 'get' | 'put' | 'post' | 'delete' | 'patch';
  gvk: { group: string; version: string; kind: string };
  queryParams: string[];
}

/**
 * gnostic's openapi_v2.Document (OpenAPIv2.proto): swagger, info, and paths whose operations carry
 * `x-kubernetes-group-version-kind` and their query parameters, which is what kubectl's
 * query-parameter verifier reads to decide that the server validates fields itself.
 */
export function encodeOpenApiV2(title: string, version: string, operations: OpenApiV2Operation[]): Buffer {
  const methodField = { get: 2, put: 3, post: 4, delete: 5, patch: 8 } as const;
  const byPath = new Map<string, OpenApiV2Operation[]>();
  for (const op of operations) byPath.set(op.path, [...(byPath.get(op.path) ?? []), op]);
  const paths: Buffer[] = [];
  for (const [path, ops] of byPath) {
    const item = message(
      ...ops.map((op) => {
        const params = op.queryParams.map((name) =>
          field(8, message(field(1, message(field(2, message(field(3, message(field(2, 'query'), field(4, name), field(6, 'string'))))))))),
        );
        const gvk = field(
          13,
          message(
            field(1, 'x-kubernetes-group-version-kind'),
            field(2, message(field(2, `group: "${op.gvk.group}"\nkind: ${op.gvk.kind}\nversion: ${op.gvk.version}\n`))),
          ),
        );
        return field(methodField[op.method], message(...params, gvk));
      }),
    );
    paths.push(field(2, message(field(1, path), field(2, item))));
  }
  return message(field(1, '2.0'), field(2, message(field(1, title), field(2, version))), field(8, message(...paths)));
}
