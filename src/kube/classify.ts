/**
 * Pod status → the class of an attempt (DESIGN.md, "Failure classes"). Pure: time comes in.
 *
 * Invariant: `succeeded` comes ONLY from `state.terminated.exitCode === 0` of the task's own
 * container; never from the pod phase alone, never from a log stream ending.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { AttemptOutcome } from '../dag/types.ts';
import type { PendingStatus } from '../common/observed.ts';
import { CONTAINER, LABELS, MANAGED_BY, parseOutputs } from './pod.ts';

/** What `classifyPod` needs besides the pod. */
export interface ClassifyContext {
  /** Now, epoch ms. */
  now: number;
  /** When we created (or adopted) the pod, epoch ms; Pending time counts from here. */
  createdAt: number;
  /** How long the pod may stay Pending (unschedulable, pulling) before it is a `timeout`. */
  startTimeoutMs: number;
  /** How long an image pull error is tolerated before it is a `configuration` failure. */
  imagePullGraceMs: number;
  /** The pod is gone (watch DELETED, or 404) and we did not delete it. */
  deleted?: boolean;
  /** The task's id, for messages. */
  task?: string;
}

/** Waiting reasons that mean the image cannot be pulled (may be transient: a short grace). */
const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'RegistryUnavailable']);

/**
 * Waiting reasons about the image that no wait can fix: a name that does not parse, or an image
 * the node may never pull (`imagePullPolicy: Never`) and does not have. No grace.
 */
const IMAGE_FATAL_REASONS = new Set(['InvalidImageName', 'ErrImageNeverPull']);

/** Waiting reasons that mean the pod's configuration is wrong (missing secret, configmap…): no grace. */
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/**
 * A CreateContainerConfigError that does not say something is missing ("secret "x" is forbidden …
 * no relationship found between node and this object" while the node authorizer has not yet seen
 * the pod's binding, "failed to sync secret cache: timed out"): the kubelet retries it, and it may
 * pass, so it gets the image pull's grace. One that names a missing Secret, ConfigMap or key fails
 * at once.
 */
function transientConfigError(waiting: { reason?: string; message?: string }): boolean {
  return waiting.reason === 'CreateContainerConfigError' && !/\bnot found\b|couldn't find key/i.test(waiting.message ?? '');
}

/** Pod-level `Failed` reasons set by the kubelet or the control plane when it is not the task's fault. */
const INFRA_POD_REASONS = new Set([
  'Evicted',
  'NodeLost',
  'Shutdown',
  'Terminated',
  'NodeShutdown',
  'UnexpectedAdmissionError',
  'OutOfcpu',
  'OutOfmemory',
  'OutOfpods',
  'NodeAffinity',
  'Preempting',
]);

/**
 * What a container runtime says when it cannot start the process, for causes that are in the
 * task's spec or its image (the command, the working directory, file modes), so another attempt
 * on any node fails the same way. Matched in the message of a `StartError` (containerd) or
 * `ContainerCannotRun` (dockershim, cri-dockerd) termination.
 */
const START_CONFIG_PATTERNS: readonly RegExp[] = [
  /executable file not found/,
  /no such file or directory/,
  /permission denied/,
  /exec format error/,
  /not a directory/,
  /no command specified/,
];

/** Termination reasons that mean the container process never started. */
const START_FAILURE_REASONS = new Set(['StartError', 'ContainerCannotRun']);

/**
 * The part of a runtime's start error a person needs: containerd wraps the cause in five layers
 * ("failed to create containerd task: failed to create shim task: OCI runtime create failed:
 * runc create failed: unable to start container process: exec: "x": executable file not found
 * in $PATH: unknown"); keep what follows the last wrapper, without the trailing ": unknown".
 */
export function startErrorCause(message: string): string {
  let cause = message.trim();
  const marker = 'unable to start container process: ';
  const at = cause.lastIndexOf(marker);
  if (at >= 0) cause = cause.slice(at + marker.length);
  cause = cause.replace(/^error during container init: /, '').replace(/: unknown$/, '');
  return cause;
}

function outcome(partial: Partial<AttemptOutcome> & Pick<AttemptOutcome, 'class'>, pod: V1Pod): AttemptOutcome {
  return {
    reason: null,
    message: null,
    exitCode: null,
    outputs: {},
    node: pod.spec?.nodeName ?? null,
    ...partial,
  };
}

/**
 * The status of the task's own container, by its name, or undefined while the API lists none.
 * Never another container's: a mutating webhook may add containers to the pod (a service mesh's
 * proxy, a secrets agent), and the kubelet lists their statuses sorted by name, so "the first" is
 * often theirs; their exit code says nothing about the task.
 */
function mainStatus(pod: V1Pod): V1ContainerStatus | undefined {
  return (pod.status?.containerStatuses ?? []).find((c) => c.name === CONTAINER);
}

/** An API timestamp (a string from a watch's JSON, a Date from client-node's models) as epoch ms; NaN if absent. */
function epochMs(t: Date | string | undefined): number {
  if (t === undefined) return Number.NaN;
  return t instanceof Date ? t.getTime() : Date.parse(t);
}

/**
 * Whether the container ended after someone asked for the pod's deletion, i.e. the deletion ended
 * it (SIGTERM, then SIGKILL after the grace), whatever code a task that handles SIGTERM exits
 * with. The API keeps when the deletion takes effect (`deletionTimestamp` = request + grace);
 * both stamps are whole seconds, so a container that failed on its own within the second of the
 * request counts as deleted too.
 */
function endedByDeletion(pod: V1Pod, finishedAt: Date | string | undefined): boolean {
  const effective = epochMs(pod.metadata?.deletionTimestamp);
  const finished = epochMs(finishedAt);
  if (Number.isNaN(effective) || Number.isNaN(finished)) return false;
  const requested = effective - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
  return finished >= Math.floor(requested / 1000) * 1000;
}

/**
 * The first init container that ended in failure (the pod's `restartPolicy: Never` ends the pod
 * with it, before the task's container runs). The spec has no init containers: an admission
 * webhook added it. Only asked of a Failed pod whose own container never ended. A native sidecar
 * (an init container with `restartPolicy: Always`, restarted by the kubelet) is skipped when the
 * pod's spec is at hand (a watched pod is slimmed to its status: src/kube/pod-api.ts).
 */
function failedInit(pod: V1Pod): V1ContainerStatus | undefined {
  const sidecars = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  return (pod.status?.initContainerStatuses ?? []).find((c) => {
    const t = c.state?.terminated;
    return t !== undefined && t.exitCode !== 0 && !sidecars.has(c.name);
  });
}

/**
 * The outcome of an attempt from its pod, or `null` while it is still pending or running.
 *
 * Order matters: a container that terminated tells the truth about the task (even when the pod
 * was then evicted or deleted); pod-level signals (eviction, preemption, deadline) come next;
 * Pending-state checks (configuration errors, image pulls, start timeout) last.
 */
export function classifyPod(pod: V1Pod, ctx: ClassifyContext): AttemptOutcome | null {
  const status = pod.status ?? {};
  const main = mainStatus(pod);
  // Before anything the container did: a pod whose container the kubelet may run again is not
  // one run of the task, whatever any of its runs said.
  const policy = restartPolicyChange(pod);
  if (policy !== null) return outcome({ class: 'configuration', reason: 'RestartPolicyChanged', message: policy }, pod);
  if ((main?.restartCount ?? 0) > 0) return outcome(restartedOutcome(pod, main!), pod);
  const terminated = main?.state?.terminated;
  const disruption = (status.conditions ?? []).find((c) => c.type === 'DisruptionTarget' && c.status === 'True');

  if (terminated) {
    const exitCode = terminated.exitCode;
    if (exitCode === 0) {
      const parsed = parseOutputs(terminated.message, ctx.task ?? pod.metadata?.labels?.['pod-dag.io/task'] ?? 'task');
      if (!parsed.ok) return outcome({ class: 'failed', reason: 'InvalidOutputs', message: parsed.error, exitCode }, pod);
      return outcome({ class: 'succeeded', reason: 'Completed', exitCode, outputs: parsed.outputs }, pod);
    }
    // A container killed because the pod was evicted, preempted or deleted under it is not the
    // task's failure: the disruption wins over the exit code it caused (137, 143).
    if (status.reason === 'Evicted') {
      return outcome({ class: 'infrastructure', reason: 'Evicted', message: status.message ?? 'the pod was evicted', exitCode }, pod);
    }
    if (disruption) {
      return outcome({ class: 'infrastructure', reason: disruption.reason ?? 'DisruptionTarget', message: disruption.message ?? 'the pod was disrupted', exitCode }, pod);
    }
    if (ctx.deleted && (exitCode === 137 || exitCode === 143 || endedByDeletion(pod, terminated.finishedAt))) {
      return outcome(
        { class: 'infrastructure', reason: status.reason ?? 'Deleted', message: status.message ?? `the pod was deleted by someone else while it ran (its container then exited with code ${exitCode})`, exitCode },
        pod,
      );
    }
    if (status.reason === 'DeadlineExceeded') {
      return outcome({ class: 'timeout', reason: 'DeadlineExceeded', message: status.message ?? 'the task ran longer than its timeout', exitCode }, pod);
    }
    const reason = terminated.reason ?? 'Error';
    if (START_FAILURE_REASONS.has(reason)) {
      // The process never ran, so there is no log: the runtime's words are all there is.
      const said = terminated.message?.trim() ?? '';
      const cause = said === '' ? 'the container runtime gave no message' : startErrorCause(said);
      if (START_CONFIG_PATTERNS.some((p) => p.test(said))) {
        return outcome(
          { class: 'configuration', reason, message: `the container could not start: ${cause}; check the task's command, workingDir and image`, exitCode },
          pod,
        );
      }
      return outcome({ class: 'failed', reason, message: `the container could not start: ${cause}`, exitCode }, pod);
    }
    const message =
      reason === 'OOMKilled'
        ? `OOMKilled: the container ran out of memory (exit code ${exitCode}); raise resources.limits.memory`
        : `exit code ${exitCode}${reason && reason !== 'Error' ? ` (${reason})` : ''}`;
    return outcome({ class: 'failed', reason, message, exitCode }, pod);
  }

  // The kubelet's own words ("The node was low on resource: memory…") say more than the
  // DisruptionTarget condition it adds (TerminationByKubelet).
  if (status.reason === 'Evicted') {
    return outcome({ class: 'infrastructure', reason: 'Evicted', message: status.message ?? 'the pod was evicted' }, pod);
  }
  if (disruption) {
    return outcome({ class: 'infrastructure', reason: disruption.reason ?? 'DisruptionTarget', message: disruption.message ?? 'the pod was disrupted' }, pod);
  }
  if (status.phase === 'Failed') {
    if (status.reason === 'DeadlineExceeded') {
      return outcome({ class: 'timeout', reason: 'DeadlineExceeded', message: status.message ?? 'the task ran longer than its timeout' }, pod);
    }
    if (status.reason && INFRA_POD_REASONS.has(status.reason)) {
      return outcome({ class: 'infrastructure', reason: status.reason, message: status.message ?? null }, pod);
    }
    const init = failedInit(pod);
    if (init) {
      const t = init.state!.terminated!;
      const why = t.reason && t.reason !== 'Error' ? ` (${t.reason}${t.message ? `: ${t.message.trim()}` : ''})` : '';
      return outcome(
        {
          class: 'infrastructure',
          reason: 'InitContainerFailed',
          message: `init container "${init.name}" exited with code ${t.exitCode}${why} before the task's container ran; the spec has no init containers, so an admission webhook added it: see its log with kubectl logs -c ${init.name}`,
        },
        pod,
      );
    }
    return outcome({ class: 'infrastructure', reason: status.reason ?? 'PodFailed', message: status.message ?? 'the pod failed before its container ran' }, pod);
  }
  if (status.phase === 'Succeeded') {
    // Succeeded without a terminated container status should not happen; never call it success.
    return outcome({ class: 'infrastructure', reason: 'NoContainerStatus', message: 'the pod reports Succeeded but its container status is missing' }, pod);
  }
  if (ctx.deleted) {
    return outcome({ class: 'infrastructure', reason: 'Deleted', message: 'the pod was deleted by someone else before its container finished' }, pod);
  }

  const waiting = main?.state?.waiting;
  const pending = ctx.now - ctx.createdAt;
  if (waiting?.reason && CONFIG_REASONS.has(waiting.reason) && (!transientConfigError(waiting) || pending >= ctx.imagePullGraceMs)) {
    return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? waiting.reason }, pod);
  }
  if (waiting?.reason && IMAGE_FATAL_REASONS.has(waiting.reason)) {
    return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? `cannot use image ${main?.image ?? ''}`.trim() }, pod);
  }
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason) && pending >= ctx.imagePullGraceMs) {
    return outcome({ class: 'configuration', reason: waiting.reason, message: waiting.message ?? `cannot pull image ${main?.image ?? ''}`.trim() }, pod);
  }
  const running = main?.state?.running !== undefined;
  if (!running && (status.phase === 'Pending' || status.phase === undefined) && pending >= ctx.startTimeoutMs) {
    const sched = (status.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
    // The task's container only says it waits for the others ("PodInitializing", "ContainerCreating"):
    // a container a webhook added that cannot start (its image cannot be pulled) is the why.
    const stuck = waiting?.message ? undefined : blockingOther(pod);
    const why =
      sched?.message ??
      (stuck ? `container "${stuck.name}" (added by an admission webhook: the spec has no other containers) is waiting: ${stuck.state!.waiting!.reason}${stuck.state!.waiting!.message ? `: ${stuck.state!.waiting!.message}` : ''}` : null) ??
      waiting?.message ??
      waiting?.reason ??
      'the pod stayed Pending';
    return outcome(
      {
        class: 'timeout',
        reason: sched?.reason ?? waiting?.reason ?? 'StartTimeout',
        message: `not started within the start timeout (${Math.round(ctx.startTimeoutMs / 1000)}s): ${why}`,
      },
      pod,
    );
  }
  return null;
}

/**
 * Why the pod as the API holds it lets the kubelet run the task's container more than once, or
 * null. pod-dag-action sends `restartPolicy: Never` and no restart policy of the container: a
 * retry is a new pod, decided by us. A mutating admission webhook or a policy engine (Kyverno,
 * Gatekeeper's mutation) may change that on create; then a failed run is run again by the kubelet
 * and a later run's exit 0 could pass for the task's. Read from the pod's spec as the create's
 * answer, a read or the watch brings it (src/kube/pod-api.ts `slimPod` keeps these fields); a
 * field absent (a pod seen without its spec) is no evidence. Native sidecars (init containers with
 * `restartPolicy: Always`) restart by design and are not the task: not looked at.
 */
export function restartPolicyChange(pod: V1Pod): string | null {
  const spec = pod.spec;
  const name = pod.metadata?.name ?? 'the pod';
  const changed = (field: string, value: unknown): string =>
    `pod ${name} has ${field}: ${JSON.stringify(value)}, but pod-dag-action created it with restartPolicy "Never" and nothing else: ` +
    'something in the cluster changed it on create, most likely a mutating admission webhook or a policy engine (Kyverno, Gatekeeper mutation). ' +
    "With it the kubelet would run the task's container again after it exits, and a later run's exit code could pass for the task's: no pod of it is used. " +
    `Exclude pods labelled ${LABELS.managedBy}=${MANAGED_BY} from that mutation (kubectl get mutatingwebhookconfigurations; the policy engine's mutate rules)`;
  if (spec?.restartPolicy !== undefined && spec.restartPolicy !== 'Never') return changed('spec.restartPolicy', spec.restartPolicy);
  const task = (spec?.containers ?? []).find((c) => c.name === CONTAINER);
  if (task?.restartPolicy !== undefined && task.restartPolicy !== 'Never') return changed(`the restartPolicy of its container "${CONTAINER}"`, task.restartPolicy);
  if (task?.restartPolicyRules !== undefined && task.restartPolicyRules.length > 0) return changed(`restartPolicyRules on its container "${CONTAINER}"`, task.restartPolicyRules);
  return null;
}

/**
 * The outcome of an attempt whose container the kubelet ran more than once (`restartCount > 0`),
 * whatever its last run says: never a success (a later run's exit 0, or outputs, are not the
 * task's one run). A failure of the task: the kubelet restarts a container only after it exited
 * (non-zero, under the restart policies that reach here), so its first run did not succeed.
 */
function restartedOutcome(pod: V1Pod, main: V1ContainerStatus): Partial<AttemptOutcome> & Pick<AttemptOutcome, 'class'> {
  const before = main.lastState?.terminated;
  const runs = main.restartCount + 1;
  const prior =
    before === undefined
      ? ''
      : ` after a run that exited with code ${before.exitCode}${before.reason && before.reason !== 'Error' ? ` (${before.reason})` : ''}`;
  return {
    class: 'failed',
    reason: 'Restarted',
    exitCode: main.restartCount === 1 && before !== undefined ? before.exitCode : null,
    message:
      `the task's container ran ${runs} times in pod ${pod.metadata?.name ?? '?'} (restartCount ${main.restartCount}): the kubelet restarted it${prior}. ` +
      "Only one run is the task's, so no run of it counts as a success, and the pod was deleted. " +
      `pod-dag-action creates its pods with restartPolicy "Never": find what restarts containers on node ${pod.spec?.nodeName ?? '?'} (a container restart rule, a webhook that changes restart policies)`,
  };
}

/**
 * When `classifyPod` may give a different answer for this pod without any change to it (a grace or
 * the start timeout running out), epoch ms; `null` when only a change of the pod can.
 */
export function recheckAt(pod: V1Pod, ctx: Omit<ClassifyContext, 'now' | 'deleted'>): number | null {
  const main = mainStatus(pod);
  if (main?.state?.running || main?.state?.terminated) return null;
  const phase = pod.status?.phase;
  if (phase && phase !== 'Pending') return null;
  const at = [ctx.createdAt + ctx.startTimeoutMs];
  const waiting = main?.state?.waiting;
  if (waiting?.reason && (IMAGE_PULL_REASONS.has(waiting.reason) || transientConfigError(waiting))) at.push(ctx.createdAt + ctx.imagePullGraceMs);
  return Math.min(...at);
}

/** Waiting reasons that say only that a container waits its turn, not why it cannot start. */
const WAITING_ITS_TURN = new Set(['PodInitializing', 'ContainerCreating']);

/** Another container of the pod (an init container or sidecar a webhook added) waiting for a reason of its own. */
function blockingOther(pod: V1Pod): V1ContainerStatus | undefined {
  const all = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return all.find((c) => c.name !== CONTAINER && c.state?.waiting?.reason !== undefined && !WAITING_ITS_TURN.has(c.state.waiting.reason));
}

/** Whether the task's container has terminated (its log is complete once read to the end). */
export function containerTerminated(pod: V1Pod): boolean {
  return mainStatus(pod)?.state?.terminated !== undefined;
}

/** Whether the task's container has started (its log can be read). */
export function containerStarted(pod: V1Pod): boolean {
  const s = mainStatus(pod)?.state;
  return s?.running !== undefined || s?.terminated !== undefined;
}

/**
 * Why the pod's container has not started, or `null` once it has (or the pod ended). Read from
 * the pod's status alone (the `PodScheduled` condition, the container's `waiting` state), which
 * the run's one watch already brings: no extra request.
 */
export function pendingStatus(pod: V1Pod): PendingStatus | null {
  const status = pod.status ?? {};
  const main = mainStatus(pod);
  if (main?.state?.running || main?.state?.terminated) return null;
  if (status.phase !== undefined && status.phase !== 'Pending') return null;
  const node = pod.spec?.nodeName ?? null;
  const sched = (status.conditions ?? []).find((c) => c.type === 'PodScheduled');
  if (sched?.status === 'False') return { reason: sched.reason ?? 'Unschedulable', message: sched.message ?? null, node: null };
  const waiting = main?.state?.waiting;
  if (waiting?.reason) return { reason: waiting.reason, message: waiting.message ?? null, node };
  if (node !== null) return { reason: 'Scheduled', message: null, node };
  return { reason: 'Pending', message: null, node: null };
}

export type { PendingStatus };
