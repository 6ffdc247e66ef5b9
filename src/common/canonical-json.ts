/**
 * JSON with every object's keys sorted, so equal values always give equal text (and hashes):
 * the run's scope and claim, a matrix combination's id, a pod's proof hash. Once, at the bottom,
 * because each of those is compared with what another process (a restart, the next run attempt)
 * computed.
 */

/** JSON with object keys sorted (by code unit) and undefined members left out; Dates as ISO text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
