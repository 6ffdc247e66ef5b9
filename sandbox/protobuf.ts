/**
 * Just enough protobuf to read what kubectl's typed clients send (`auth can-i`, `create
 * configmap`, `create secret`): built-in kinds encoded as protobuf inside the "k8s\0"
 * runtime.Unknown envelope. Responses stay JSON: clients decode by the response's Content-Type.
 */

type Fields = Map<number, (Buffer | bigint)[]>;

function varint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varint');
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = varint(buf, pos);
    pos = p1;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: Buffer | bigint;
    if (wire === 0) [value, pos] = varint(buf, pos);
    else if (wire === 2) {
      const [len, p2] = varint(buf, pos);
      value = buf.subarray(p2, p2 + Number(len));
      pos = p2 + Number(len);
    } else if (wire === 1) {
      value = buf.subarray(pos, pos + 8);
      pos += 8;
    } else if (wire === 5) {
      value = buf.subarray(pos, pos + 4);
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

function str(f: Fields, n: number): string | undefined {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function sub(f: Fields, n: number): Fields | undefined {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? fields(v) : undefined;
}

function map(f: Fields, n: number, bytes: boolean): Record<string, string> | undefined {
  const entries = f.get(n);
  if (!entries) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    if (!Buffer.isBuffer(e)) continue;
    const kv = fields(e);
    const v = kv.get(2)?.[0];
    out[str(kv, 1) ?? ''] = Buffer.isBuffer(v) ? (bytes ? v.toString('base64') : v.toString('utf8')) : '';
  }
  return out;
}

function objectMeta(f: Fields | undefined): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  if (!f) return meta;
  const names: [number, string][] = [[1, 'name'], [2, 'generateName'], [3, 'namespace'], [6, 'resourceVersion']];
  for (const [n, key] of names) {
    const v = str(f, n);
    if (v) meta[key] = v;
  }
  const labels = map(f, 11, false);
  if (labels) meta.labels = labels;
  const annotations = map(f, 12, false);
  if (annotations) meta.annotations = annotations;
  return meta;
}

/** Unwraps the runtime.Unknown envelope: the kind and the encoded object. */
function envelope(body: Buffer): { kind: string; apiVersion: string; raw: Fields } {
  if (body.subarray(0, 4).toString('binary') !== 'k8s\0') throw new Error('missing the k8s protobuf envelope');
  const unknown = fields(body.subarray(4));
  const typeMeta = sub(unknown, 1);
  const raw = unknown.get(2)?.[0];
  return { kind: (typeMeta && str(typeMeta, 2)) ?? '', apiVersion: (typeMeta && str(typeMeta, 1)) ?? '', raw: Buffer.isBuffer(raw) ? fields(raw) : new Map() };
}

/** Decodes a protobuf ConfigMap, Secret or SelfSubjectAccessReview into its JSON shape; throws on any other kind. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  const { kind, apiVersion, raw } = envelope(body);
  if (kind === 'SelfSubjectAccessReview') return decodeSelfSubjectAccessReview(raw);
  if (kind === 'ConfigMap') {
    const out: Record<string, unknown> = { apiVersion, kind, metadata: objectMeta(sub(raw, 1)) };
    const data = map(raw, 2, false);
    if (data) out.data = data;
    const binaryData = map(raw, 3, true);
    if (binaryData) out.binaryData = binaryData;
    return out;
  }
  if (kind === 'Secret') {
    const out: Record<string, unknown> = { apiVersion, kind, metadata: objectMeta(sub(raw, 1)) };
    const data = map(raw, 2, true);
    if (data) out.data = data;
    const type = str(raw, 3);
    if (type) out.type = type;
    const stringData = map(raw, 4, false);
    if (stringData) out.stringData = stringData;
    return out;
  }
  throw new Error(`the sandbox reads protobuf only for ConfigMap, Secret and SelfSubjectAccessReview, not ${kind || 'this object'}; send JSON`);
}

function decodeSelfSubjectAccessReview(review: Fields): Record<string, unknown> {
  const spec = sub(review, 2) ?? new Map();
  const ra = sub(spec, 1);
  const nra = sub(spec, 2);
  const out: Record<string, unknown> = {};
  if (ra) {
    const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
    const attrs: Record<string, string> = {};
    names.forEach((n, i) => {
      const v = str(ra, i + 1);
      if (v !== undefined && v !== '') attrs[n] = v;
    });
    out.resourceAttributes = attrs;
  }
  if (nra) out.nonResourceAttributes = { path: str(nra, 1) ?? '', verb: str(nra, 2) ?? '' };
  return { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {}, spec: out };
}

function encVarint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** One length-delimited field. */
function enc(field: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([encVarint((field << 3) | 2), encVarint(bytes.length), bytes]);
}

/** An operation of the OpenAPI v2 document kubectl reads, as gnostic's openapi_v2 messages. */
export interface OpenApiV2Patch {
  path: string;
  group: string;
  version: string;
  kind: string;
  queryParams: string[];
}

/**
 * Encodes an OpenAPI v2 document (gnostic openapi_v2.Document protobuf) holding one PATCH
 * operation per kind with its query parameters and x-kubernetes-group-version-kind: what
 * kubectl before 1.23 reads to decide that the server supports dryRun.
 */
export function encodeOpenApiV2(ops: OpenApiV2Patch[]): Buffer {
  const paths = ops.map((op) => {
    const params = op.queryParams.map((name) =>
      // ParametersItem.parameter(1) → Parameter.non_body_parameter(2) → query_parameter_sub_schema(3){in(2), name(4), type(6)}
      enc(8, enc(1, enc(2, enc(3, Buffer.concat([enc(2, 'query'), enc(4, name), enc(6, 'string')]))))));
    const gvk = `group: "${op.group}"\nkind: ${op.kind}\nversion: ${op.version}\n`;
    // Operation.vendor_extension(13) = NamedAny{name(1), value(2) = Any{yaml(2)}}
    const ext = enc(13, Buffer.concat([enc(1, 'x-kubernetes-group-version-kind'), enc(2, enc(2, gvk))]));
    const operation = Buffer.concat([enc(5, `patch${op.kind}`), ...params, ext]);
    // Paths.path(2) = NamedPathItem{name(1), value(2) = PathItem{patch(8)}}
    return enc(2, Buffer.concat([enc(1, op.path), enc(2, enc(8, operation))]));
  });
  return Buffer.concat([enc(1, '2.0'), enc(2, Buffer.concat([enc(1, 'Kubernetes'), enc(2, 'v1.32.0-sandbox')])), enc(8, Buffer.concat(paths))]);
}
