/**
 * Just enough protobuf to read the SelfSubjectAccessReview that `kubectl auth can-i` sends
 * (typed clients encode built-in kinds as protobuf inside the "k8s\0" runtime.Unknown envelope).
 * Responses stay JSON: clients decode by the response's Content-Type.
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

/** Decodes a protobuf SelfSubjectAccessReview into its JSON shape; throws on anything else. */
export function decodeSelfSubjectAccessReview(body: Buffer): Record<string, unknown> {
  if (body.subarray(0, 4).toString('binary') !== 'k8s\0') throw new Error('missing the k8s protobuf envelope');
  const unknown = fields(body.subarray(4));
  const typeMeta = sub(unknown, 1);
  const kind = typeMeta ? str(typeMeta, 2) : undefined;
  if (kind !== 'SelfSubjectAccessReview') throw new Error(`expected a SelfSubjectAccessReview, got ${kind ?? 'nothing'}`);
  const raw = unknown.get(2)?.[0];
  const review = Buffer.isBuffer(raw) ? fields(raw) : new Map();
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
