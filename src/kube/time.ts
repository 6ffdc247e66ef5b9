/** Times in Kubernetes objects. */

/**
 * A timestamp of a Kubernetes object in epoch ms: client-node gives a `Date`, raw JSON an RFC 3339
 * string; `null` when it is absent or not a time.
 */
export function kubeTimeMs(t: unknown): number | null {
  if (t === undefined || t === null) return null;
  const ms = t instanceof Date ? t.getTime() : new Date(String(t)).getTime();
  return Number.isFinite(ms) ? ms : null;
}
