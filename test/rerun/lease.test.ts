/**
 * The concurrency Lease against the sandbox, through the real client: two runs racing for it
 * (exactly one wins), the skip / fail / wait policies, renewal while held, takeover of a lease
 * whose holder stopped renewing, handover on release (the waiter wakes on the watch), and the
 * restart of the same job. No test sleeps: each waits for an event or runs on a fake clock.
 */
import { V1MicroTime } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLease, concurrencyLeaseName, isEarlierSelf, leaseHolder, type LeaseOptions } from '../../src/kube/lease.ts';
import { runScope } from '../../src/common/run.ts';
import { startSandbox, type Sandbox } from '../../sandbox/index.ts';
import { connect, FakeClock, recordingRequester } from './helpers.ts';

const NS = 'locks';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ namespaces: [NS] });
});
afterAll(async () => {
  await sandbox?.close();
});

let leases = 0;
const fresh = (): string => `lease-${++leases}`;
const holder = (run: number, attempt = 1, repo = 'octo-org/data-pipelines'): string =>
  leaseHolder({ repository: repo, runId: String(run), runAttempt: attempt, job: 'sync' }, `r${run}a${attempt}`);

function acquire(name: string, who: string, extra: Partial<LeaseOptions> = {}) {
  const { coordination } = connect(sandbox);
  return acquireLease(coordination, { name, namespace: NS, holder: who, policy: 'skip', durationSeconds: 60, request: recordingRequester().request, ...extra });
}

function lease(name: string): { holderIdentity?: string; leaseTransitions?: number; renewTime?: string; leaseDurationSeconds?: number } {
  return (sandbox.get('leases.coordination.k8s.io', NS, name)?.spec ?? {}) as never;
}

/** Writes a lease as another (possibly dead) run would have left it. */
async function plant(name: string, who: string, renewedAt: number, durationSeconds: number): Promise<void> {
  await connect(sandbox).coordination.createNamespacedLease({
    namespace: NS,
    body: { metadata: { name }, spec: { holderIdentity: who, leaseDurationSeconds: durationSeconds, renewTime: new V1MicroTime(renewedAt), acquireTime: new V1MicroTime(renewedAt) } },
  });
}

describe('acquireLease', () => {
  it('two runs racing for a free lease: exactly one wins, every time', async () => {
    for (let round = 0; round < 8; round++) {
      const name = fresh();
      const [a, b] = await Promise.all([acquire(name, holder(1)), acquire(name, holder(2))]);
      expect([a.acquired, b.acquired].filter(Boolean)).toHaveLength(1);
      const [winner, loser] = a.acquired ? [a, b] : [b, a];
      expect(lease(name).holderIdentity).toBe(a.acquired ? holder(1) : holder(2));
      expect(loser.heldBy).toBe(lease(name).holderIdentity);
      await winner.release();
    }
  });

  it('skip: not acquired, saying who holds it and until when', async () => {
    const name = fresh();
    const first = await acquire(name, holder(1));
    expect(first).toMatchObject({ acquired: true, reason: `acquired Lease ${NS}/${name}` });
    const second = await acquire(name, holder(2), { policy: 'skip' });
    expect(second.acquired).toBe(false);
    expect(second.reason).toMatch(new RegExp(`^Lease ${NS}/${name} is held by octo-org/data-pipelines/runs/1/attempts/1/sync/${runScope({ job: 'sync' })}#r1a1 \\(until \\d{4}-.*Z unless renewed\\)$`));
    expect(second.heldBy).toBe(holder(1));
    await first.release();
  });

  it('fail: not acquired either (the caller fails the step), and nothing is written', async () => {
    const name = fresh();
    const first = await acquire(name, holder(1));
    const before = sandbox.get('leases.coordination.k8s.io', NS, name)?.metadata.resourceVersion;
    const second = await acquire(name, holder(2), { policy: 'fail' });
    expect(second).toMatchObject({ acquired: false, heldBy: holder(1) });
    expect(sandbox.get('leases.coordination.k8s.io', NS, name)?.metadata.resourceVersion).toBe(before);
    await first.release();
  });

  it('release frees the lease at once for the next run, which counts a transition', async () => {
    const name = fresh();
    const first = await acquire(name, holder(1));
    await first.release();
    await first.release(); // twice is harmless
    expect(lease(name).holderIdentity).toBeUndefined();
    const second = await acquire(name, holder(2));
    expect(second.reason).toBe(`acquired Lease ${NS}/${name} (it was free)`);
    expect(lease(name).holderIdentity).toBe(holder(2));
    await second.release();
  });

  it('wait: the waiter wakes when the holder releases (a watch, not a poll) and takes it', async () => {
    const name = fresh();
    const { watch: w } = connect(sandbox);
    const watch: LeaseOptions['watch'] = (path, query, onEvent, onDone) => w.watch(path, query, onEvent, onDone);
    const first = await acquire(name, holder(1), { durationSeconds: 300 });
    const { request, failures } = recordingRequester();
    let waiting!: () => void;
    const isWaiting = new Promise<void>((resolve) => (waiting = resolve));
    const reads = () => sandbox.counters.get('get', 'leases');
    const readsBefore = reads();
    const second = acquire(name, holder(2), { policy: 'wait', waitTimeoutMs: 120_000, watch, request, onWait: () => waiting() });
    await isWaiting;
    await first.release();
    const got = await second;
    expect(got).toMatchObject({ acquired: true, reason: `acquired Lease ${NS}/${name} (it was free)` });
    // One read before waiting, one after the watch woke it: not a poll.
    expect(reads() - readsBefore).toBe(2);
    expect(failures).toEqual([]);
    await got.release();
  });

  it('wait: takes over a lease whose holder stopped renewing, once its duration is over', async () => {
    const name = fresh();
    const dead = holder(9, 1, 'other-org/other-repo');
    await plant(name, dead, Date.now(), 1);
    const readsBefore = sandbox.counters.get('get', 'leases');
    const got = await acquire(name, holder(2), { policy: 'wait', waitTimeoutMs: 60_000 });
    expect(got.acquired).toBe(true);
    expect(got.reason).toMatch(new RegExp(`^took over Lease ${NS}/${name} from ${dead}, which stopped renewing it \\d+s ago \\(lease duration 1s\\)$`));
    expect(lease(name)).toMatchObject({ holderIdentity: holder(2), leaseTransitions: 1 });
    // It slept until the expiry instead of polling: a read before and one after (two if woken early).
    expect(sandbox.counters.get('get', 'leases') - readsBefore).toBeLessThanOrEqual(3);
    await got.release();
  });

  it('skip and fail take over an expired lease too (no waiting needed)', async () => {
    const name = fresh();
    await plant(name, holder(9, 1, 'other-org/other-repo'), Date.now() - 120_000, 30);
    const got = await acquire(name, holder(2), { policy: 'fail' });
    expect(got.reason).toMatch(/^took over .* which stopped renewing it 2m( \d+s)? ago \(lease duration 30s\)$/);
    await got.release();
  });

  it('wait: gives up after the wait limit while the holder keeps renewing, reading it twice', async () => {
    const name = fresh();
    const first = await acquire(name, holder(1), { durationSeconds: 5 });
    const readsBefore = sandbox.counters.get('get', 'leases');
    const second = await acquire(name, holder(2), { policy: 'wait', waitTimeoutMs: 1500 });
    expect(second.acquired).toBe(false);
    expect(second.reason).toMatch(new RegExp(`^waited \\ds for Lease ${NS}/${name}, the wait limit; it is still held by .*/runs/1/`));
    // It slept to the wait limit (the holder's lease outlasts it) rather than polling.
    expect(sandbox.counters.get('get', 'leases') - readsBefore).toBe(2);
    expect(lease(name).holderIdentity).toBe(holder(1));
    await first.release();
  });

  it('renews every third of the duration while held, and release stops it', async () => {
    const clock = new FakeClock();
    const name = fresh();
    const held = await acquire(name, holder(1), { durationSeconds: 30, clock });
    const renewedAt = () => new Date(lease(name).renewTime!).getTime();
    expect(renewedAt()).toBe(clock.now());
    for (let i = 1; i <= 3; i++) {
      await clock.sleeping(); // the renewal loop waits for its next turn
      clock.advance(9_999);
      expect(clock.pending).toBe(1); // not due yet
      clock.advance(1);
      await clock.sleeping(); // ... it renewed and sleeps again
      expect(renewedAt()).toBe(clock.now());
    }
    await held.release();
    expect(clock.pending).toBe(0); // nothing left to renew it
    expect(lease(name).holderIdentity).toBeUndefined();
  });

  it('tells the holder when another run took the lease from it', async () => {
    const clock = new FakeClock();
    const name = fresh();
    const lost: string[] = [];
    let onLost!: () => void;
    const wasLost = new Promise<void>((resolve) => (onLost = resolve));
    const held = await acquire(name, holder(1), { durationSeconds: 30, clock, onLost: (r) => (lost.push(r), onLost()) });
    const { coordination } = connect(sandbox);
    const current = await coordination.readNamespacedLease({ name, namespace: NS });
    await coordination.replaceNamespacedLease({ name, namespace: NS, body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder' } } });
    await clock.sleeping();
    clock.advance(10_000);
    await wasLost;
    expect(lost).toEqual([`Lease ${NS}/${name} was taken by intruder while this run held it; another run may now run at the same time`]);
    await held.release();
    expect(lease(name).holderIdentity).toBe('intruder'); // release never frees a lease it lost
  });

  it('a restarted process of the same job, or its next run attempt, takes over at once', async () => {
    const name = fresh();
    await plant(name, leaseHolder({ repository: 'octo-org/data-pipelines', runId: '5', runAttempt: 1, job: 'sync' }, 'aaaaaaaa'), Date.now(), 600);
    const restarted = await acquire(name, leaseHolder({ repository: 'octo-org/data-pipelines', runId: '5', runAttempt: 1, job: 'sync' }, 'bbbbbbbb'));
    expect(restarted.reason).toMatch(/an earlier process of this same job/);
    const nextAttempt = await acquire(name, leaseHolder({ repository: 'octo-org/data-pipelines', runId: '5', runAttempt: 2, job: 'sync' }));
    expect(nextAttempt.acquired).toBe(true);
    const otherRun = await acquire(name, leaseHolder({ repository: 'octo-org/data-pipelines', runId: '6', runAttempt: 1, job: 'sync' }));
    expect(otherRun.acquired).toBe(false);
    await nextAttempt.release();
  });

  it('stops waiting when the run is cancelled', async () => {
    const name = fresh();
    const first = await acquire(name, holder(1), { durationSeconds: 300 });
    const cancel = new AbortController();
    const second = acquire(name, holder(2), { policy: 'wait', waitTimeoutMs: 600_000, signal: cancel.signal, onWait: () => cancel.abort() });
    expect(await second).toMatchObject({ acquired: false, reason: `stopped waiting for Lease ${NS}/${name}: the run was cancelled` });
    // And when the signal comes while it sleeps (SIGINT during the wait):
    const later = new AbortController();
    const third = acquire(name, holder(3), { policy: 'wait', waitTimeoutMs: 600_000, signal: later.signal, onWait: () => void setImmediate(() => later.abort()) });
    expect(await third).toMatchObject({ acquired: false, reason: `stopped waiting for Lease ${NS}/${name}: the run was cancelled` });
    await first.release();
  });
});

describe('lease names and holders', () => {
  it('makes a valid, distinct Lease name from any concurrency input', () => {
    expect(concurrencyLeaseName('clickhouse-sync')).toBe('pod-dag-clickhouse-sync');
    expect(concurrencyLeaseName('ClickHouse Sync')).toMatch(/^pod-dag-clickhouse-sync-[0-9a-f]{8}$/);
    expect(concurrencyLeaseName('ClickHouse Sync')).not.toBe(concurrencyLeaseName('clickhouse sync'));
    expect(() => concurrencyLeaseName(' /// ')).toThrow(/Invalid input 'concurrency': ' \/\/\/ '\. Expected a name with letters or digits/);
  });

  it('knows an earlier self only within the same repository, run and job', () => {
    const me = leaseHolder({ repository: 'o/r', runId: '5', runAttempt: 2, job: 'sync' }, 'x');
    expect(isEarlierSelf(me, leaseHolder({ repository: 'o/r', runId: '5', runAttempt: 1, job: 'sync' }, 'y'))).toBe(true);
    expect(isEarlierSelf(me, leaseHolder({ repository: 'o/r', runId: '5', runAttempt: 3, job: 'sync' }, 'y'))).toBe(false);
    expect(isEarlierSelf(me, leaseHolder({ repository: 'o/r', runId: '5', runAttempt: 1, job: 'other' }, 'y'))).toBe(false);
    expect(isEarlierSelf(me, leaseHolder({ repository: 'o/x', runId: '5', runAttempt: 1, job: 'sync' }, 'y'))).toBe(false);
    expect(isEarlierSelf(me, 'someone-else')).toBe(false);
    // Another leg of the matrix, or another step of the job, is not this one (even in the same job).
    const leg = (region: string, runAttempt: number) => leaseHolder({ repository: 'o/r', runId: '5', runAttempt, job: 'sync', step: 'go', leg: { region } }, region);
    expect(isEarlierSelf(leg('eu', 1), leg('us', 1))).toBe(false);
    expect(isEarlierSelf(leg('us', 2), leg('eu', 1))).toBe(false);
    expect(isEarlierSelf(leg('us', 2), leg('us', 1))).toBe(true);
    expect(isEarlierSelf(me, leaseHolder({ repository: 'o/r', runId: '5', runAttempt: 1, job: 'sync', step: 'other' }, 'y'))).toBe(false);
    const cli = leaseHolder({ repository: null, runId: null, runAttempt: 1, job: null }, 'x');
    expect(isEarlierSelf(cli, leaseHolder({ repository: null, runId: null, runAttempt: 1, job: null }, 'y'))).toBe(false);
  });
});
