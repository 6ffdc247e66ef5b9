/**
 * The Lease name of a `concurrency` input. Apart from lease.ts because the inputs are checked with
 * it (src/action/settings.ts) in every mode, and lease.ts brings in @kubernetes/client-node, which
 * `plan` must not load.
 */
import { UserError } from '../common/errors.ts';

/**
 * The Lease name for a `concurrency` input: `pod-dag-` and the input as a DNS subdomain. When the
 * input had to be changed to fit, a hash of it is appended so two inputs never share a lease.
 */
export function concurrencyLeaseName(input: string): string {
  const cleaned = input
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  if (cleaned === '') throw new UserError(`Invalid input 'concurrency': '${input}'. Expected a name with letters or digits, e.g. 'clickhouse-sync'.`);
  let name = `pod-dag-${cleaned}`.slice(0, 200);
  if (cleaned !== input.trim()) {
    let h = 0;
    for (const ch of input) h = (Math.imul(h, 31) + ch.codePointAt(0)!) >>> 0;
    name = `${name.replace(/[-.]+$/, '')}-${h.toString(16).padStart(8, '0')}`;
  }
  return name;
}
