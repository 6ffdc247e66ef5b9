/** Kubernetes resource quantities (`500m`, `4Gi`, `1e3`), as numbers of base units. */

const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes quantity (`500m`, `4Gi`, `1e3`, `2`) as a number of base units, or `null`. */
export function parseQuantity(text: string | number): number | null {
  if (typeof text === 'number') return text;
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E)?)$/.exec(text.trim());
  if (m === null) return null;
  const n = Number(m[1]);
  if (m[2] !== undefined) return n * BINARY[m[2]]!;
  if (m[3] !== undefined) return n * 10 ** Number(m[3].slice(1));
  return n * DECIMAL[m[4] ?? '']!;
}
