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
    } else if (wire === 1) { out.push({ no, wire, value: buf.subarray(i, i + 8) }); i += 8; }
    else if (wire === 5) { out.push({ no, wire, value: buf.subarray(i, i + 4) }); i += 4; }
    else throw badRequest(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

const bytesOf = (fs: Field[], no: number) => fs.filter((f) => f.no === no && Buffer.isBuffer(f.value)).map((f) => f.value as Buffer);
const str = (fs: Field[], no: number) => { const b = bytesOf(fs, no)[0]; return b ? b.toString('utf8') : undefined; };
const int = (fs: Field[], no: number) => { const f = fs.find((x) => x.no === no && typeof x.value === 'bigint'); return f ? Number(f.value) : undefined; };
const msg = (fs: Field[], no: number) => { const b = bytesOf(fs, no)[0]; return b ? fields(b) : undefined; };
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function objectMeta(fs: Field[] | undefined) {
  return fs ? defined({ name: str(fs, 1), generateName: str(fs, 2), namespace: str(fs, 3) }) : {};
}

const DECODERS: Record<string, (raw: Field[]) => Record<string, unknown>> = {
  SelfSubjectAccessReview: (m) => {
    const spec = msg(m, 2) ?? [];
    const ra = msg(spec, 1);
    const na = msg(spec, 2);
    return {
      metadata: objectMeta(msg(m, 1)),
      spec: defined({
        resourceAttributes: ra ? { namespace: str(ra, 1) ?? '', verb: str(ra, 2) ?? '', group: str(ra, 3) ?? '', version: str(ra, 4) ?? '', resource: str(ra, 5) ?? '', subresource: str(ra, 6) ?? '', name: str(ra, 7) ?? '' } : undefined,
        nonResourceAttributes: na ? { path: str(na, 1) ?? '', verb: str(na, 2) ?? '' } : undefined,
      }),
    };
  },
  SelfSubjectReview: (m) => ({ metadata: objectMeta(msg(m, 1)) }),
  TokenRequest: (m) => {
    const spec = msg(m, 2) ?? [];
    const bound = msg(spec, 3);
    return {
      metadata: objectMeta(msg(m, 1)),
      spec: defined({
        audiences: bytesOf(spec, 1).map((b) => b.toString('utf8')),
        expirationSeconds: int(spec, 4),
        boundObjectRef: bound ? defined({ kind: str(bound, 1), apiVersion: str(bound, 2), name: str(bound, 3), uid: str(bound, 4) }) : undefined,
      }),
    };
  },
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The JSON form of a protobuf-encoded request body, for the kinds kubectl sends that way. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw badRequest('the protobuf body does not start with the Kubernetes magic number');
  const unknown = fields(body.subarray(4));
  const typeMeta = msg(unknown, 1) ?? [];
  const apiVersion = str(typeMeta, 1) ?? '';
  const kind = str(typeMeta, 2) ?? '';
  const decode = DECODERS[kind];
  if (!decode) throw badRequest(`protobuf bodies of kind ${JSON.stringify(kind)} are not supported by the emulated cluster API; send JSON`);
  return { apiVersion, kind, ...decode(fields(bytesOf(unknown, 2)[0] ?? Buffer.alloc(0))) };
}
