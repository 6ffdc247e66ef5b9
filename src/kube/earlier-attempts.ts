/**
 * Before a GitHub re-run (run attempt N > 1) plans what to run again: what the pods of the run's
 * earlier attempts say.
 *
 * An earlier attempt whose runner died (the VM was lost, the job was killed) left its pods behind:
 * some still running, some ended after the runner was gone or just before it could record them.
 * The run's state does not know those ends, so without this a re-run would run such a task again:
 * twice at once if its pod still runs, twice in a row if it succeeded unrecorded. So, first:
 *
 * 1. wait, on one watch, until no pod of an earlier attempt of the run is still running (the user
 *    is told which pods, and may stop them with kubectl instead of waiting);
 * 2. record in the run's state the end of every earlier attempt's pod the state does not know yet,
 *    classified from the pod's status exactly as the engine would have, so that the plan reuses a
 *    task that succeeded and says why any other runs again.
 *
 * Only pods that prove to be the run's own count (src/kube/pod-proof.ts: signed by a process of
 * the run whose key the state recorded): a pod planted with the run's labels is neither waited
 * for nor recorded, and its task runs again; `onRefused` names it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { systemClock } from '../common/clock.ts';
import { fingerprintSchema, taskFingerprint } from '../dag/rerun.ts';
import type { StoredRunState, TaskFingerprint, TaskUpdate } from '../dag/rerun.ts';
import type { AttemptOutcome } from '../dag/types.ts';
import type { DagSpec } from '../spec/types.ts';
import { classifyPod, containerTerminated } from './classify.ts';
import type { KubeClient } from './client.ts';
import { KubeError } from './errors.ts';
import { taskOfInstance } from '../spec/matrix.ts';
import { ANNOTATIONS, CONTAINER, LABELS, runSelector } from './pod.ts';
import { kubePodApi } from './pod-api.ts';
import type { PodProof } from './pod-proof.ts';
import { recordedEnd } from './sweep.ts';
import { PodWatcher } from './watch.ts';
import { kubeTimeMs } from './time.ts';

/** A pod of an earlier run attempt that has not ended yet. */
export interface RunningEarlierPod {
  name: string;
  task: string;
  runAttempt: number;
  phase: string;
}

/** Options of `settleEarlierAttempts`. */
export interface SettleOptions {
  client: KubeClient;
  namespace: string;
  spec: DagSpec;
  params: Record<string, string>;
  runId: string;
  /** The run's scope (src/common/run.ts `runScope`): only this leg's and step's pods are settled. */
  scope?: string | null;
  /** This run attempt; pods of lower ones are settled. */
  runAttempt: number;
  store: { load(): Promise<StoredRunState | null>; recordTask(update: TaskUpdate): Promise<void> };
  signal?: AbortSignal;
  /** Told once, if pods of earlier attempts still run, before waiting for them. */
  onWait?: (pods: RunningEarlierPod[], selector: string) => void;
  /** The clock (epoch ms) for ends the pods do not date; default the system's. */
  now?: () => number;
  /** Told of each end recorded from a pod. */
  onRecorded?: (task: string, runAttempt: number, attempt: number, outcome: AttemptOutcome) => void;
  /**
   * The run's keys: only pods whose proof they verify are the run's (trust the keys the state
   * records first). Without it, every pod with the run's labels counts (tests only).
   */
  proof?: PodProof;
  /** Told once per pod with the run's labels that is not the run's (its proof fails), with why. */
  onRefused?: (pod: V1Pod, problem: string) => void;
}

interface Seen {
  pod: V1Pod;
  deleted: boolean;
}

/**
 * Whether the pod's task can no longer run: the pod is gone or ended, or the task's own container
 * ended (a sidecar an admission webhook added may keep the pod Running for ever after it).
 */
const ended = (s: Seen): boolean => s.deleted || s.pod.status?.phase === 'Succeeded' || s.pod.status?.phase === 'Failed' || containerTerminated(s.pod);

/** Waits for the earlier attempts' pods to end, then records their ends the run's state lacks. */
export async function settleEarlierAttempts(o: SettleOptions): Promise<void> {
  if (o.runAttempt <= 1) return;
  const selector = runSelector(o.spec.name, o.runId, o.scope ?? null);
  const earlier = new Map<string, Seen>();
  const refused = new Set<string>();
  let changed: () => void = () => {};
  const watcher = new PodWatcher(kubePodApi(o.client), o.namespace, selector, (e) => {
    const attempt = Number(e.pod.metadata?.labels?.[LABELS.runAttempt] ?? NaN);
    if (!(attempt < o.runAttempt)) return;
    const name = e.pod.metadata?.name ?? '';
    const proven = o.proof?.verify(e.pod) ?? { ok: true };
    if (!proven.ok) {
      // Not the run's: neither waited for nor recorded (its task runs again), never deleted by us.
      earlier.delete(name);
      if (!refused.has(name) && e.type !== 'DELETED') o.onRefused?.(e.pod, proven.problem);
      refused.add(name);
    } else earlier.set(name, { pod: e.pod, deleted: e.type === 'DELETED' });
    changed();
  });
  const running = (): RunningEarlierPod[] =>
    [...earlier.entries()]
      .filter(([, s]) => !ended(s))
      .map(([name, s]) => ({
        name,
        task: s.pod.metadata?.labels?.[LABELS.task] ?? '?',
        runAttempt: Number(s.pod.metadata?.labels?.[LABELS.runAttempt]),
        phase: s.pod.status?.phase ?? 'Pending',
      }));

  await watcher.start();
  try {
    if (running().length > 0) {
      o.onWait?.(running(), selector);
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(new KubeError(`Cancelled while waiting for the pods of an earlier run attempt to end (${selector}).`));
        if (o.signal?.aborted) return onAbort();
        o.signal?.addEventListener('abort', onAbort, { once: true });
        watcher.done.catch(reject);
        changed = () => {
          if (running().length > 0) return;
          o.signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        changed(); // they may have ended since the list
      });
    }
  } finally {
    watcher.stop();
  }

  // One end per attempt: a sensor's attempt ends with its last poke (each poke is a pod), so only
  // the pod of the highest poke counts, whatever order the list gave (p10 sorts before p9 by name).
  const last = new Map<string, { name: string; s: Seen; runAttempt: number; attempt: number; poke: number }>();
  for (const [name, s] of earlier) {
    const labels = s.pod.metadata?.labels ?? {};
    const e = { name, s, runAttempt: Number(labels[LABELS.runAttempt]), attempt: Number(labels[LABELS.taskAttempt]), poke: Number(labels[LABELS.poke] ?? 0) };
    if (!Number.isInteger(e.runAttempt) || !Number.isInteger(e.attempt) || !Number.isInteger(e.poke)) continue;
    const key = `${labels[LABELS.task] ?? ''}\n${e.runAttempt}\n${e.attempt}`;
    const before = last.get(key);
    if (before === undefined || before.poke < e.poke) last.set(key, e);
  }
  const ends = [...last.values()].sort((a, b) => a.runAttempt - b.runAttempt || a.attempt - b.attempt);
  if (ends.length === 0) return;
  const stored = await o.store.load();
  const tasks = new Map(o.spec.tasks.map((t) => [t.id, t]));
  const now = (o.now ?? systemClock.now)();
  for (const e of ends) {
    // The label is the task (or matrix instance) id itself: ids are label-safe and at most 63
    // characters (src/spec/names.ts, src/spec/matrix.ts `instanceId`), so labelValue never cuts one.
    const taskId = e.s.pod.metadata?.labels?.[LABELS.task] ?? '';
    // A matrix instance is recorded under its own id, with its task's fingerprint.
    const task = tasks.get(taskId) ?? tasks.get(taskOfInstance(taskId));
    if (task === undefined) continue; // a task the spec no longer has: nothing to plan
    // Known already (the same test as the post step's sweep), or a later attempt is: nothing to add.
    if (recordedEnd(stored, e.s.pod) !== null || laterRecorded(stored, taskId, e.runAttempt, e.attempt)) continue;
    const created = kubeTimeMs(e.s.pod.metadata?.creationTimestamp) ?? now;
    const outcome = classifyPod(e.s.pod, { now, createdAt: created, startTimeoutMs: Infinity, imagePullGraceMs: Infinity, deleted: e.s.deleted, task: taskId });
    if (outcome === null) continue;
    const main = e.s.pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated;
    const started = kubeTimeMs(main?.startedAt) ?? kubeTimeMs(e.s.pod.status?.startTime) ?? created;
    const finished = kubeTimeMs(main?.finishedAt) ?? now;
    await o.store.recordTask({
      task: taskId,
      runAttempt: e.runAttempt,
      attempt: e.attempt,
      pod: e.name,
      startedAt: started,
      finishedAt: finished,
      outcome,
      // Whether a retry would have followed a failure is not known: null reads as "did not succeed".
      result: outcome.class === 'succeeded' ? 'succeeded' : null,
      // What the pod ran, not what the spec says now: a re-run after the spec or the params
      // changed must not reuse a success of the task as it was.
      fingerprint: ranWith(e.s.pod) ?? taskFingerprint(task, o.params),
    });
    o.onRecorded?.(taskId, e.runAttempt, e.attempt, outcome);
  }
}

/** Whether the run's state records a later attempt of `task` than (runAttempt, attempt): an older end must not replace it. */
function laterRecorded(stored: StoredRunState | null, task: string, runAttempt: number, attempt: number): boolean {
  const known = stored !== null && Object.hasOwn(stored.tasks, task) ? stored.tasks[task]! : undefined;
  return known !== undefined && (known.runAttempt > runAttempt || (known.runAttempt === runAttempt && known.attempts.some((a) => a.attempt > attempt)));
}

/**
 * The fingerprint of the task as the pod ran it, from its annotation (the engine writes it on
 * every pod; the pod's proof covers it); null for a pod made by a version that did not write it.
 */
function ranWith(pod: V1Pod): TaskFingerprint | null {
  const text = pod.metadata?.annotations?.[ANNOTATIONS.fingerprint];
  if (text === undefined) return null;
  try {
    const parsed = fingerprintSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: below
  }
  // Unreadable: the pod ran something this spec cannot be compared with, so nothing of it is reused.
  return { image: `(unreadable annotation ${ANNOTATIONS.fingerprint})`, fields: {} };
}
