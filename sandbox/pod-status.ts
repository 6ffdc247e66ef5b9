/**
 * A pod's status as the kubelet writes it (pkg/kubelet/kubelet_pods.go generateAPIPodStatus),
 * computed from the node agent's record of the pod's containers: phase, conditions with stable
 * transition times, init and app container statuses, IPs, start time, and the reason/message
 * of a pod the kubelet stopped (deadline, eviction).
 */
import { now, type Terminated } from './runtime.ts';

/** A container's state, as in ContainerStatus.state. */
export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: Terminated };

/** What a status needs to know of one container. */
export interface ContainerRecord {
  spec: { name: string; image: string };
  init: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: { terminated?: Terminated };
  containerID?: string;
}

/** What a status needs to know of one pod run. */
export interface PodRecord {
  restartPolicy: string;
  hostIP: string;
  podIP: string;
  startTime?: string;
  inits: ContainerRecord[];
  containers: ContainerRecord[];
  /** Each condition's last status and transition time, so an unchanged condition keeps its time. */
  conditionTimes: Map<string, { status: string; time: string }>;
  disruption?: { reason: string; message: string; time: string };
  /** Set when the kubelet stopped the pod; a reason makes it Failed with that reason and message. */
  stopping?: { reason?: string; message?: string };
}

/** The phases the kubelet never leaves. */
export const TERMINAL = new Set(['Succeeded', 'Failed']);

/** The pod's phase, as the kubelet's getPhase decides it. */
export function podPhase(run: PodRecord): string {
  if (run.stopping?.reason) return 'Failed';
  const policy = run.restartPolicy;
  for (const c of run.inits) {
    if ('terminated' in c.state && c.state.terminated.exitCode !== 0 && policy === 'Never') return 'Failed';
    if (!('terminated' in c.state && c.state.terminated.exitCode === 0)) return 'Pending';
  }
  const cs = run.containers;
  const running = cs.filter((c) => 'running' in c.state).length;
  const terminated = cs.filter((c) => 'terminated' in c.state);
  const restarting = cs.filter((c) => c.restartCount > 0 && 'waiting' in c.state).length;
  if (terminated.length === cs.length) {
    if (terminated.every((c) => 'terminated' in c.state && c.state.terminated.exitCode === 0) && policy !== 'Always') return 'Succeeded';
    if (policy === 'Never' || run.stopping) return 'Failed';
    return policy === 'Always' || policy === 'OnFailure' ? 'Running' : 'Failed';
  }
  if (running > 0 || restarting > 0 || terminated.length > 0) return 'Running';
  return 'Pending';
}

function condition(run: PodRecord, type: string, status: 'True' | 'False', extra: Record<string, string> = {}): Record<string, unknown> {
  const prev = run.conditionTimes.get(type);
  let time = prev?.time;
  if (!prev || prev.status !== status) {
    time = now();
    run.conditionTimes.set(type, { status, time });
  }
  return { type, status, lastProbeTime: null, lastTransitionTime: time, ...extra };
}

function containerStatus(c: ContainerRecord): Record<string, unknown> {
  const running = 'running' in c.state;
  const s: Record<string, unknown> = {
    name: c.spec.name,
    state: c.state,
    lastState: c.lastState,
    ready: running,
    restartCount: c.restartCount,
    image: c.spec.image,
    imageID: c.containerID ? `${c.spec.image}@sha256:${'0'.repeat(64)}` : '',
    started: running,
  };
  if (c.containerID && !('waiting' in c.state)) s.containerID = c.containerID;
  return s;
}

/**
 * The pod's whole status from the run, keeping the scheduler's PodScheduled condition and the
 * API server's qosClass from `prev` (the status the pod has now).
 */
export function podStatus(run: PodRecord, prev: Record<string, unknown>): { phase: string; status: Record<string, unknown> } {
  const phase = podPhase(run);
  const terminal = TERMINAL.has(phase);
  const notReady = run.containers.filter((c) => !('running' in c.state)).map((c) => c.spec.name);
  const initPending = run.inits.filter((c) => !('terminated' in c.state && c.state.terminated.exitCode === 0)).map((c) => c.spec.name);
  const conditions: Record<string, unknown>[] = [];
  if (run.disruption) {
    conditions.push({ type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: run.disruption.time, reason: run.disruption.reason, message: run.disruption.message });
  }
  conditions.push(condition(run, 'PodReadyToStartContainers', terminal ? 'False' : 'True'));
  conditions.push(initPending.length
    ? condition(run, 'Initialized', 'False', { reason: 'ContainersNotInitialized', message: `containers with incomplete status: [${initPending.join(' ')}]` })
    : condition(run, 'Initialized', 'True'));
  for (const type of ['Ready', 'ContainersReady']) {
    if (terminal) conditions.push(condition(run, type, 'False', { reason: 'PodCompleted' }));
    else if (notReady.length) conditions.push(condition(run, type, 'False', { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }));
    else conditions.push(condition(run, type, 'True'));
  }
  const scheduled = ((prev.conditions ?? []) as { type: string }[]).find((c) => c.type === 'PodScheduled');
  conditions.push(scheduled ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: run.startTime });
  const status: Record<string, unknown> = {
    phase,
    conditions,
    hostIP: run.hostIP,
    hostIPs: [{ ip: run.hostIP }],
    podIP: run.podIP,
    podIPs: [{ ip: run.podIP }],
    startTime: run.startTime,
  };
  if (run.stopping?.reason) {
    status.reason = run.stopping.reason;
    status.message = run.stopping.message;
  }
  if (run.inits.length) status.initContainerStatuses = run.inits.map(containerStatus);
  status.containerStatuses = run.containers.map(containerStatus);
  status.qosClass = prev.qosClass;
  return { phase, status };
}
