/**
 * The client's default rate limit (src/kube/client.ts), in a module of its own: the action's
 * inputs (src/action/settings.ts) read it without loading the Kubernetes client, which `plan`
 * and `validate` never need.
 */

/**
 * The default sustained rate of the client's requests (the `api-qps` input): kube-scheduler's own
 * (its client binds every pod the action creates, at 50 requests/s by default), so a faster
 * stream of creates would only queue pods for the scheduler.
 */
export const DEFAULT_QPS = 50;

/**
 * The default burst (the `api-burst` input): kubectl's for discovery. A wave of work (a fan-out,
 * or a chain of instant tasks: one create each, plus a few state writes and watches) goes out at
 * once up to about 280 pods before the sustained rate applies; the connection cap
 * (`MAX_CONNECTIONS` in src/kube/client.ts) bounds how many are in flight.
 */
export const DEFAULT_BURST = 300;
