/**
 * One run at a time: the `concurrency` input names a coordination.k8s.io/v1 Lease that a run
 * holds while it lives. This serializes runs across workflows and repositories that share a
 * cluster, which GitHub's own `concurrency:` cannot.
 *
 * The protocol is client-go's leader election, reduced to one acquisition:
 * - Holding: `spec.holderIdentity` is ours; we renew `spec.renewTime` every third of
 *   `leaseDurationSeconds`, each write carrying the resourceVersion read (optimistic concurrency:
 *   a 409 means someone else wrote; we read again and look whether we still hold it).
 * - Free: no Lease object, no holder (released), or a holder that stopped renewing: its lease
 *   expired at min(renewTime + duration, first time we saw that renewTime + duration). The
 *   second term bounds the wait when the holder's clock runs ahead of ours.
 * - Ours already: a holder of the same GitHub run and step (same repository, run id, job, and
 *   run scope: the step, the matrix leg, the run-key) with the same or an earlier run attempt.
 *   GitHub starts a new run attempt only after the earlier one ended, and the same attempt seen
 *   again is this step restarted after a crash, so that holder is dead. Another leg of a matrix,
 *   or another step, is someone else: it waits, skips or fails as the policy says.
 * - Taking it: create (a 409 AlreadyExists means another run won the race) or replace with
 *   the resourceVersion read (a 409 means the same); either way read again and decide again.
 *
 * Waiting (policy `wait`) never polls: it sleeps until the holder's lease would expire, or until
 * a watch on the Lease reports a change (a release), whichever is first, bounded by the wait
 * timeout. Requests while waiting: about one read per lease duration.
 */
import { randomBytes } from 'node:crypto';
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Requester } from './client.ts';
import { systemClock, type SleepClock } from '../common/clock.ts';
import { formatDuration } from '../common/duration.ts';
import { runScope, type ConcurrencyPolicy, type RunContext } from '../common/run.ts';
import { classifyError, KubeError } from './errors.ts';
import { concurrencyLeaseName } from './lease-name.ts';
import { kubeTimeMs } from './time.ts';

/** What to do when another run holds the lease. */
export type LeasePolicy = ConcurrencyPolicy;

/** Time for the lease: now, and a sleep that ends early (without error) when `signal` aborts. */
export type LeaseClock = SleepClock;

/** Options of `acquireLease`. */
export interface LeaseOptions {
  name: string;
  namespace: string;
  /** Who we are (`holderIdentity`); see `leaseHolder`. */
  holder: string;
  /** How long the lease lasts without renewal; default 60. We renew every third of it. */
  durationSeconds?: number;
  policy: LeasePolicy;
  /** How long `wait` waits in all before giving up; default 1 hour. */
  waitTimeoutMs?: number;
  clock?: LeaseClock;
  /** How requests are sent: KubeClient.request (its rate limit, its retries). */
  request: Requester;
  /** Opens a watch (KubeClient.watchRequest, through the rate limit); when given, a waiting run wakes as soon as the lease changes (a release). */
  watch?: (
    path: string,
    query: Record<string, string | number | boolean>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ) => Promise<{ abort(): void }>;
  /** Told, while waiting, who holds the lease and until when (epoch ms), once per change of holder. */
  onWait?: (holder: string, expiresAt: number) => void;
  /** Told when a held lease is lost (taken over after renewals failed for a whole duration). */
  onLost?: (reason: string) => void;
  /** Aborting stops waiting (the run was cancelled): the result is "not acquired". */
  signal?: AbortSignal;
}

/** The outcome of `acquireLease`. */
export interface LeaseHandle {
  acquired: boolean;
  /** In words: "acquired lease data-jobs/nightly", "held by ... until ...", "waited 10m0s ...". */
  reason: string;
  /** The holder that kept us out, when not acquired. */
  heldBy: string | null;
  /** Stops renewing and frees the lease (if we still hold it). Safe to call twice; never throws. */
  release(): Promise<void>;
}

/**
 * The holder identity of this run: `<repository>/runs/<runId>/attempts/<runAttempt>/<job>/<scope>#<random>`
 * (src/common/run.ts `runScope`: the step, the matrix leg and the run-key, hashed). The random
 * part tells two processes of the same step apart.
 */
export function leaseHolder(
  ctx: Pick<RunContext, 'repository' | 'runId' | 'runAttempt' | 'job' | 'step' | 'leg' | 'runKey'>,
  random = randomBytes(4).toString('hex'),
): string {
  const scope = runScope(ctx);
  return `${ctx.repository ?? 'local'}/runs/${ctx.runId ?? 'local'}/attempts/${ctx.runAttempt}/${ctx.job ?? 'job'}${scope === null ? '' : `/${scope}`}#${random}`;
}

const HOLDER = /^(.*)\/runs\/([^/]+)\/attempts\/(\d+)\/([^#]*)#(.*)$/;

/** Whether `other` is this same GitHub job and step (run scope) in the same or an earlier run attempt (so, dead). */
export function isEarlierSelf(me: string, other: string): boolean {
  const a = HOLDER.exec(me);
  const b = HOLDER.exec(other);
  if (a === null || b === null) return false;
  if (a[2] === 'local') return false; // the CLI has no run id: never assume
  return a[1] === b[1] && a[2] === b[2] && a[4] === b[4] && Number(b[3]) <= Number(a[3]);
}

export { concurrencyLeaseName };

/** A wait or a lease duration, to the second it ends in. */
function formatWait(ms: number): string {
  const whole = Math.ceil(Math.max(0, ms) / 1000) * 1000;
  return whole === 0 ? '0s' : formatDuration(whole);
}

/**
 * Acquires the lease under `policy`. Never throws for "held by someone else": that is
 * `acquired: false` with the reason (the caller skips or fails the step). Throws KubeError when
 * the API refuses (RBAC, unreachable).
 */
export async function acquireLease(api: CoordinationV1Api, options: LeaseOptions): Promise<LeaseHandle> {
  const o = {
    durationSeconds: 60,
    waitTimeoutMs: 3_600_000,
    clock: systemClock,
    ...options,
  };
  if (!(Number.isInteger(o.durationSeconds) && o.durationSeconds > 0)) {
    throw new Error(`acquireLease: durationSeconds must be a whole number > 0, got ${o.durationSeconds}`);
  }
  const where = `Lease ${o.namespace}/${o.name}`;
  const durationMs = o.durationSeconds * 1000;
  const started = o.clock.now();
  const deadline = started + (o.policy === 'wait' ? o.waitTimeoutMs : 0);
  // When we first saw the current (holder, renewTime) of the lease, on our clock.
  let observed = null as { key: string; at: number } | null;
  let toldHolder: string | null = null;

  const fail = (what: string, err: unknown): never => {
    const info = classifyError(err);
    throw new KubeError(`Could not ${what} ${where}: ${info.message}${info.kind === 'forbidden' ? ' (grant get, create and update on leases.coordination.k8s.io in this namespace)' : ''}`, info, { cause: err });
  };

  const spec = (now: number, prev: V1Lease | null) => ({
    holderIdentity: o.holder,
    leaseDurationSeconds: o.durationSeconds,
    acquireTime: new V1MicroTime(now),
    renewTime: new V1MicroTime(now),
    leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (prev?.spec?.holderIdentity && prev.spec.holderIdentity !== o.holder ? 1 : 0),
  });

  for (;;) {
    if (o.signal?.aborted) return notAcquired(`stopped waiting for ${where}: the run was cancelled`, null);
    let lease: V1Lease | null;
    try {
      lease = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
    } catch (err) {
      if (classifyError(err).kind !== 'not-found') fail('read', err);
      lease = null;
    }
    const now = o.clock.now();

    if (lease === null) {
      try {
        const created = await o.request(`create ${where}`, () =>
          api.createNamespacedLease({ namespace: o.namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec: spec(now, null) } }),
        );
        return held(created, `acquired ${where}`);
      } catch (err) {
        if (classifyError(err).kind === 'conflict') continue; // another run created it first: look again
        return fail('create', err);
      }
    }

    const holder = lease.spec?.holderIdentity ?? '';
    const renewed = kubeTimeMs(lease.spec?.renewTime) ?? kubeTimeMs(lease.spec?.acquireTime);
    const key = `${holder}@${String(renewed)}`;
    if (observed?.key !== key) observed = { key, at: now };
    const duration = (lease.spec?.leaseDurationSeconds ?? o.durationSeconds) * 1000;
    const expiresAt = Math.min(renewed === null ? Infinity : renewed + duration, observed.at + duration);

    let why: string | null = null;
    if (holder === '') why = `acquired ${where} (it was free)`;
    else if (holder === o.holder) why = `acquired ${where} (we held it already)`;
    else if (isEarlierSelf(o.holder, holder)) why = `acquired ${where} from ${holder}, an earlier process of this same job (it is no longer running)`;
    else if (now >= expiresAt) why = `took over ${where} from ${holder}, which stopped renewing it ${formatWait(now - (renewed ?? observed.at))} ago (lease duration ${formatWait(duration)})`;

    if (why !== null) {
      try {
        const body: V1Lease = { ...lease, spec: { ...spec(now, lease) } };
        const replaced = await o.request(`update ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
        return held(replaced, why);
      } catch (err) {
        const kind = classifyError(err).kind;
        if (kind === 'conflict' || kind === 'not-found') continue; // someone else wrote first: look again
        return fail('update', err);
      }
    }

    const heldFor = `${where} is held by ${holder} (until ${new Date(expiresAt).toISOString()} unless renewed)`;
    if (o.policy !== 'wait') return notAcquired(heldFor, holder);
    if (now >= deadline) {
      return notAcquired(`waited ${formatWait(now - started)} for ${where}, the wait limit; it is still held by ${holder}`, holder);
    }
    if (toldHolder !== holder) {
      toldHolder = holder;
      o.onWait?.(holder, expiresAt);
    }
    await wakeAt(Math.min(expiresAt, deadline), lease.metadata?.resourceVersion);
  }

  /** Sleeps until `until` (our clock), or until the watch says the lease changed. */
  async function wakeAt(until: number, resourceVersion: string | undefined): Promise<void> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    if (o.signal?.aborted) return; // cancelled already (perhaps by onWait): the loop says so
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let watchRequest: { abort(): void } | null = null;
    try {
      const changed = new Promise<void>((resolve) => {
        if (o.watch === undefined || resourceVersion === undefined) return;
        o
          .watch(
            `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`,
            { fieldSelector: `metadata.name=${o.name}`, resourceVersion },
            (type) => {
              if (type === 'MODIFIED' || type === 'DELETED') resolve();
            },
            () => {}, // an ended or failed watch leaves the timer to wake us
          )
          .then((req) => {
            watchRequest = req;
            if (stop.signal.aborted) req.abort();
          })
          .catch(() => {}); // no watch permission or no watch: the timer still wakes us
      });
      await Promise.race([o.clock.sleep(Math.max(0, until - o.clock.now()), stop.signal), changed]);
    } finally {
      stop.abort();
      (watchRequest as { abort(): void } | null)?.abort();
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  function notAcquired(reason: string, heldBy: string | null): LeaseHandle {
    return { acquired: false, reason, heldBy, release: async () => {} };
  }

  function held(lease: V1Lease, reason: string): LeaseHandle {
    let current = lease;
    const stop = new AbortController();
    let lost = false;
    let lastRenewed = o.clock.now();
    const interval = Math.max(1, Math.floor(durationMs / 3));

    const renew = async (): Promise<void> => {
      for (;;) {
        const now = o.clock.now();
        try {
          const body: V1Lease = { ...current, spec: { ...current.spec, holderIdentity: o.holder, renewTime: new V1MicroTime(now), leaseDurationSeconds: o.durationSeconds } };
          current = await o.request(`renew ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
          lastRenewed = now;
          return;
        } catch (err) {
          const kind = classifyError(err).kind;
          if (kind !== 'conflict' && kind !== 'not-found') throw err;
        }
        // Someone else wrote: still ours?
        let fresh: V1Lease | null = null;
        try {
          fresh = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
        } catch (err) {
          if (classifyError(err).kind !== 'not-found') throw err;
        }
        if (fresh === null || fresh.spec?.holderIdentity !== o.holder) {
          lost = true;
          o.onLost?.(`${where} was taken by ${fresh?.spec?.holderIdentity ?? 'nobody (it was deleted)'} while this run held it; another run may now run at the same time`);
          return;
        }
        current = fresh;
      }
    };

    const loop = (async () => {
      while (!stop.signal.aborted && !lost) {
        await o.clock.sleep(interval, stop.signal);
        if (stop.signal.aborted) break;
        try {
          await renew();
        } catch (err) {
          // A renewal that failed (after the requester's retries) is tried again next time;
          // once a whole duration passed without one, others may take the lease over.
          if (o.clock.now() - lastRenewed >= durationMs && !lost) {
            lost = true;
            o.onLost?.(`could not renew ${where} for ${formatWait(durationMs)} (${classifyError(err).message}); another run may take it over`);
          }
        }
      }
    })();

    let released: Promise<void> | null = null;
    return {
      acquired: true,
      reason,
      heldBy: null,
      release: () =>
        (released ??= (async () => {
          stop.abort();
          await loop;
          if (lost) return;
          // Free it for the next run at once: clear the holder (client-go's ReleaseOnCancel).
          for (let tries = 0; tries < 5; tries++) {
            try {
              const body: V1Lease = { ...current, spec: { ...current.spec, holderIdentity: undefined, renewTime: new V1MicroTime(o.clock.now()) } };
              await o.request(`release ${where}`, () => api.replaceNamespacedLease({ name: o.name, namespace: o.namespace, body }));
              return;
            } catch (err) {
              const kind = classifyError(err).kind;
              if (kind !== 'conflict') return; // gone, or the API fails: the lease expires on its own
              try {
                const fresh = await o.request(`read ${where}`, () => api.readNamespacedLease({ name: o.name, namespace: o.namespace }));
                if (fresh.spec?.holderIdentity !== o.holder) return;
                current = fresh;
              } catch {
                return;
              }
            }
          }
        })()),
    };
  }
}
