/**
 * The node agent: the scheduler and a kubelet for every sandbox node. It watches the store,
 * binds new pods to nodes, runs their containers (real local processes or scripted behaviours
 * chosen by image name) and writes pod status as a kubelet reports it: one store update, so one
 * watch event with a new resourceVersion, per transition.
 *
 * Invariant: the agent never reacts inside a store listener; it defers with setImmediate, so
 * every watcher sees a change before the changes it causes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, fstatSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEnv, EnvError, expand, type EnvContainer } from './env.ts';
import { type ContainerLog, type LogStore } from './logs.ts';
import { podRequests, schedule, type NodeSpec, type NodeUsage, type SchedPod } from './scheduler.ts';
import type { KObject } from './selectors.ts';
import type { Change, Store } from './store.ts';

/** What a locally run image "contains": its working directory, PATH entries and environment. */
export interface ImageSpec {
  workingDir?: string;
  path?: string[];
  env?: Record<string, string>;
}

/** How the agent is set up. */
export interface AgentOptions {
  store: Store;
  logs: LogStore;
  nodes: NodeSpec[];
  scale: boolean;
  images: Record<string, ImageSpec>;
  /** First CrashLoopBackOff delay; doubles per restart up to 10x. */
  restartBackoffMs: number;
  /** Whether to record core/v1 Events (Scheduled, Pulled, Started, Killing...). */
  events: boolean;
  /** The API's address, given to containers as KUBERNETES_SERVICE_HOST/PORT. */
  apiHost: string;
  apiPort: number;
}

interface Container extends EnvContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

type Scripted =
  | { kind: 'succeed' }
  | { kind: 'sleep'; seconds: number }
  | { kind: 'exit'; code: number }
  | { kind: 'oomkilled' }
  | { kind: 'evicted' }
  | { kind: 'image-pull-error' }
  | { kind: 'never-scheduled' }
  | { kind: 'unknown' };

/** Reads a `sandbox/...` image name; undefined for any other image. */
export function scriptedImage(image: string): Scripted | undefined {
  const m = /^sandbox\/([a-z-]+)(?::(.*))?$/.exec(image);
  if (!m) return undefined;
  const arg = m[2];
  switch (m[1]) {
    case 'succeed': return { kind: 'succeed' };
    case 'sleep': {
      const seconds = arg === 'forever' ? Infinity : Number(arg);
      return Number.isFinite(seconds) || seconds === Infinity ? { kind: 'sleep', seconds: Math.max(0, seconds) } : { kind: 'unknown' };
    }
    case 'exit': {
      const code = Number(arg);
      return Number.isInteger(code) && code >= 0 && code <= 255 ? { kind: 'exit', code } : { kind: 'unknown' };
    }
    case 'oomkilled': return { kind: 'oomkilled' };
    case 'evicted': return { kind: 'evicted' };
    case 'image-pull-error': return { kind: 'image-pull-error' };
    case 'never-scheduled': return { kind: 'never-scheduled' };
    default: return { kind: 'unknown' };
  }
}

type CState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: Terminated };

interface Terminated {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
}

interface CRun {
  spec: Container;
  init: boolean;
  restartCount: number;
  state: CState;
  lastState: { terminated?: Terminated };
  containerID?: string;
  child?: ChildProcess;
  timer?: NodeJS.Timeout;
  /** Stops the running instance: a signal name for processes, ignored detail for scripts. */
  kill?: (signal: 'SIGTERM' | 'SIGKILL') => void;
  log?: ContainerLog;
  configError?: boolean;
  /** Set once the pod stops; no new instance may start. */
  exited?: Promise<void>;
}

interface Stopping {
  reason?: string;
  message?: string;
  remove: boolean;
}

interface PodRun {
  uid: string;
  ns: string;
  name: string;
  node: string;
  hostIP: string;
  podIP: string;
  startTime?: string;
  spec: { restartPolicy: string; terminationGracePeriodSeconds: number; activeDeadlineSeconds?: number };
  inits: CRun[];
  containers: CRun[];
  timers: Set<NodeJS.Timeout>;
  conditionTimes: Map<string, { status: string; time: string }>;
  disruption?: { reason: string; message: string; time: string };
  stopping?: Stopping;
  terminal: boolean;
  tmpDir?: string;
  children: Set<Promise<void>>;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

const TERMINAL = new Set(['Succeeded', 'Failed']);

/** Runs pods for the sandbox. */
export class NodeAgent {
  #o: AgentOptions;
  #runs = new Map<string, PodRun>();
  /** Pods waiting for a node: uid → namespace and name, in creation order. */
  #unschedulable = new Map<string, { ns: string; name: string }>();
  #starts = new Map<string, number>();
  /** Pods bound to a node and not finished: uid → node and requests (the scheduler's cache). */
  #placed = new Map<string, { node: string; cpu: number; memory: number }>();
  #retryQueued = false;
  #totalStarts = 0;
  #unsubscribe: () => void;
  #closed = false;
  #ipCounter = 1;
  #pending = new Set<NodeJS.Immediate>();

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#unsubscribe = options.store.subscribe((c) => this.#onChange(c));
  }

  /** How many containers were started (per pod name, or in total). */
  containerStarts(podName?: string): number {
    return podName === undefined ? this.#totalStarts : (this.#starts.get(podName) ?? 0);
  }

  #defer(fn: () => void): void {
    if (this.#closed) return;
    const h = setImmediate(() => {
      this.#pending.delete(h);
      if (!this.#closed) fn();
    });
    this.#pending.add(h);
  }

  #timer(run: PodRun, ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      run.timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    run.timers.add(t);
    return t;
  }

  #onChange(c: Change): void {
    if (c.resource === 'pods') {
      const pod = c.object;
      const uid = pod.metadata.uid!;
      if (c.type === 'ADDED') {
        this.#defer(() => this.#admit(pod.metadata.namespace!, pod.metadata.name, uid));
      } else if (c.type === 'MODIFIED') {
        const run = this.#runs.get(uid);
        if (pod.metadata.deletionTimestamp && !c.prev?.metadata.deletionTimestamp) {
          const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? 30);
          this.#defer(() => {
            if (run) this.#stop(run, { remove: true }, grace);
            else this.#removeNow(pod.metadata.namespace!, pod.metadata.name, uid);
          });
        } else if (!run && !(pod.spec as SchedPod & { nodeName?: string }).nodeName && this.#unschedulable.has(uid)) {
          // A spec change (tolerations added) may make it fit now.
          this.#defer(() => this.#admit(pod.metadata.namespace!, pod.metadata.name, uid));
        }
        const phase = (pod.status as { phase?: string } | undefined)?.phase;
        const prevPhase = (c.prev?.status as { phase?: string } | undefined)?.phase;
        if (phase && TERMINAL.has(phase) && !TERMINAL.has(prevPhase ?? '')) {
          this.#placed.delete(uid);
          this.#queueRetry();
        }
      } else {
        this.#unschedulable.delete(uid);
        this.#placed.delete(uid);
        const run = this.#runs.get(uid);
        if (run) this.#defer(() => this.#discard(run));
        this.#queueRetry();
      }
    } else if ((c.resource === 'secrets' || c.resource === 'configmaps') && c.type !== 'DELETED') {
      const ns = c.object.metadata.namespace;
      for (const run of this.#runs.values()) {
        if (run.ns !== ns) continue;
        for (const cr of [...run.inits, ...run.containers]) {
          if (cr.configError) this.#defer(() => this.#startContainer(run, cr));
        }
      }
    }
  }

  #getPod(ns: string, name: string, uid: string): KObject | undefined {
    const pod = this.#o.store.get('pods', ns, name);
    return pod && pod.metadata.uid === uid ? pod : undefined;
  }

  #event(pod: { ns: string; name: string; uid: string }, type: 'Normal' | 'Warning', reason: string, message: string, component: string, fieldPath?: string, host?: string): void {
    if (!this.#o.events || this.#closed) return;
    const ts = now();
    const involvedObject: Record<string, string> = { kind: 'Pod', namespace: pod.ns, name: pod.name, uid: pod.uid, apiVersion: 'v1' };
    if (fieldPath) involvedObject.fieldPath = fieldPath;
    const source: Record<string, string> = { component };
    if (host) source.host = host;
    this.#o.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${pod.name}.${randomBytes(8).toString('hex')}`, namespace: pod.ns, uid: randomUUID(), creationTimestamp: ts },
      involvedObject, reason, message, source, type,
      firstTimestamp: ts, lastTimestamp: ts, count: 1,
      reportingComponent: component, reportingInstance: host ?? '',
    });
  }

  /** What is placed on `node`: pods bound to it that have not finished or gone. */
  #usage(node: string): NodeUsage {
    const u = { cpu: 0, memory: 0, pods: 0 };
    for (const p of this.#placed.values()) {
      if (p.node !== node) continue;
      u.cpu += p.cpu;
      u.memory += p.memory;
      u.pods++;
    }
    return u;
  }

  /** Retries pending pods once per burst of freed capacity, not once per freed pod. */
  #queueRetry(): void {
    if (this.#retryQueued || this.#unschedulable.size === 0) return;
    this.#retryQueued = true;
    this.#defer(() => {
      this.#retryQueued = false;
      this.#retryUnschedulable();
    });
  }

  #retryUnschedulable(): void {
    for (const [uid, { ns, name }] of [...this.#unschedulable]) {
      if (!this.#getPod(ns, name, uid)) this.#unschedulable.delete(uid);
      else this.#admit(ns, name, uid);
    }
  }

  /** Schedules a new pod (or takes one created with spec.nodeName) and starts its kubelet work. */
  #admit(ns: string, name: string, uid: string): void {
    let pod = this.#getPod(ns, name, uid);
    if (!pod || this.#runs.has(uid) || pod.metadata.deletionTimestamp) return;
    const spec = pod.spec as SchedPod & { nodeName?: string; containers: Container[]; initContainers?: Container[] };
    let node = spec.nodeName;
    const ref = { ns, name, uid };
    if (!node) {
      const neverFits = [...(spec.initContainers ?? []), ...spec.containers].some((c) => scriptedImage(c.image)?.kind === 'never-scheduled');
      const result = schedule(spec, this.#o.nodes, (n) => this.#usage(n), neverFits);
      if ('message' in result) {
        const already = this.#unschedulable.has(uid);
        this.#unschedulable.set(uid, { ns, name });
        const status = (pod.status ?? {}) as { conditions?: { type: string; message?: string }[] };
        const current = status.conditions?.find((c) => c.type === 'PodScheduled');
        if (current?.message !== result.message) {
          this.#o.store.update('pods', {
            ...pod,
            status: {
              ...status,
              phase: 'Pending',
              conditions: [{ type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: now(), reason: 'Unschedulable', message: result.message }],
            },
          });
        }
        if (!already || current?.message !== result.message) this.#event(ref, 'Warning', 'FailedScheduling', result.message, 'default-scheduler');
        return;
      }
      this.#unschedulable.delete(uid);
      node = result.node;
      pod = this.#o.store.update('pods', {
        ...pod,
        spec: { ...spec, nodeName: node },
        status: {
          ...(pod.status as object),
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() }],
        },
      });
      this.#event(ref, 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`, 'default-scheduler');
    }
    if (!TERMINAL.has((pod.status as { phase?: string } | undefined)?.phase ?? '')) this.#placed.set(uid, { node, ...podRequests(spec) });
    const nodeIndex = Math.max(0, this.#o.nodes.findIndex((n) => n.name === node));
    const ip = this.#ipCounter++;
    const full = pod.spec as { restartPolicy: string; terminationGracePeriodSeconds: number; activeDeadlineSeconds?: number; containers: Container[]; initContainers?: Container[] };
    const mk = (c: Container, init: boolean): CRun => ({
      spec: c, init, restartCount: 0, lastState: {},
      state: { waiting: { reason: init || !(full.initContainers ?? []).length ? 'ContainerCreating' : 'PodInitializing' } },
    });
    const run: PodRun = {
      uid, ns, name, node,
      hostIP: `10.0.0.${nodeIndex + 1}`,
      podIP: `10.244.${nodeIndex}.${(ip % 250) + 2}`,
      spec: { restartPolicy: full.restartPolicy, terminationGracePeriodSeconds: full.terminationGracePeriodSeconds, activeDeadlineSeconds: full.activeDeadlineSeconds },
      inits: (full.initContainers ?? []).map((c) => mk(c, true)),
      containers: full.containers.map((c) => mk(c, false)),
      timers: new Set(), conditionTimes: new Map(), terminal: false, children: new Set(),
    };
    this.#runs.set(uid, run);
    this.#defer(() => this.#kubeletStart(run));
  }

  #kubeletStart(run: PodRun): void {
    if (!this.#getPod(run.ns, run.name, run.uid) || run.stopping) return;
    run.startTime = now();
    this.#write(run);
    const ads = run.spec.activeDeadlineSeconds;
    if (ads !== undefined) {
      this.#timer(run, ads * 1000, () => this.#stop(run, { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline', remove: false }, run.spec.terminationGracePeriodSeconds));
    }
    this.#defer(() => this.#startNext(run));
  }

  #startNext(run: PodRun): void {
    if (run.stopping || run.terminal) return;
    const init = run.inits.find((c) => !('terminated' in c.state && c.state.terminated.exitCode === 0));
    if (init) {
      if ('waiting' in init.state && !init.timer && !init.child) this.#startContainer(run, init);
      return;
    }
    for (const c of run.containers) {
      if ('waiting' in c.state && c.state.waiting.reason === 'PodInitializing') c.state = { waiting: { reason: 'ContainerCreating' } };
    }
    for (const c of run.containers) if ('waiting' in c.state && !c.timer) this.#startContainer(run, c);
  }

  #fieldPath(run: PodRun, c: CRun): string {
    return c.init ? `spec.initContainers{${c.spec.name}}` : `spec.containers{${c.spec.name}}`;
  }

  #startContainer(run: PodRun, c: CRun): void {
    if (run.stopping || run.terminal || !('waiting' in c.state)) return;
    const pod = this.#getPod(run.ns, run.name, run.uid);
    if (!pod) return;
    const ref = { ns: run.ns, name: run.name, uid: run.uid };
    const fp = this.#fieldPath(run, c);
    const image = c.spec.image;
    const script = scriptedImage(image) ?? (this.#o.scale ? ({ kind: 'succeed' } as const) : undefined);
    if (script?.kind === 'image-pull-error' || script?.kind === 'unknown') {
      const ref2 = image.includes('/') && image.split('/')[0]!.includes('.') ? image : `docker.io/${image}`;
      const full = /:[^/]+$/.test(ref2) ? ref2 : `${ref2}:latest`;
      const message = `rpc error: code = NotFound desc = failed to pull and unpack image "${full}": failed to resolve reference "${full}": ${full}: not found`;
      c.state = { waiting: { reason: 'ErrImagePull', message } };
      this.#event(ref, 'Normal', 'Pulling', `Pulling image "${image}"`, 'kubelet', fp, run.node);
      this.#event(ref, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`, 'kubelet', fp, run.node);
      this.#event(ref, 'Warning', 'Failed', 'Error: ErrImagePull', 'kubelet', fp, run.node);
      this.#write(run);
      c.timer = this.#timer(run, 50, () => {
        c.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${message}` } };
        this.#event(ref, 'Normal', 'BackOff', `Back-off pulling image "${image}"`, 'kubelet', fp, run.node);
        this.#event(ref, 'Warning', 'Failed', 'Error: ImagePullBackOff', 'kubelet', fp, run.node);
        this.#write(run);
      });
      return;
    }
    const imageSpec = this.#o.images[image] ?? {};
    const base = new Map<string, string>();
    if (!script) base.set('PATH', (imageSpec.path ?? (process.env.PATH ?? '/usr/bin:/bin').split(':')).join(':'));
    base.set('HOSTNAME', run.name);
    for (const [k, v] of Object.entries(imageSpec.env ?? {})) base.set(k, v);
    base.set('KUBERNETES_SERVICE_HOST', this.#o.apiHost);
    base.set('KUBERNETES_SERVICE_PORT', String(this.#o.apiPort));
    base.set('KUBERNETES_SERVICE_PORT_HTTPS', String(this.#o.apiPort));
    let env: Map<string, string>;
    try {
      env = buildEnv(c.spec, pod, {
        secret: (n) => this.#o.store.get('secrets', run.ns, n),
        configMap: (n) => this.#o.store.get('configmaps', run.ns, n),
      }, base);
    } catch (err) {
      if (!(err instanceof EnvError)) throw err;
      const first = !c.configError;
      c.configError = true;
      const prev = c.state.waiting;
      c.state = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      if (first || prev.message !== err.message) {
        this.#event(ref, 'Warning', 'Failed', `Error: ${err.message}`, 'kubelet', fp, run.node);
        this.#write(run);
      }
      return;
    }
    c.configError = false;
    if (c.restartCount === 0) this.#event(ref, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, 'kubelet', fp, run.node);
    this.#event(ref, 'Normal', 'Created', `Created container: ${c.spec.name}`, 'kubelet', fp, run.node);
    c.log = this.#o.logs.get(run.uid, c.spec.name, c.restartCount);
    c.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.#starts.set(run.name, (this.#starts.get(run.name) ?? 0) + 1);
    this.#totalStarts++;
    if (script) this.#runScripted(run, c, script, env);
    else this.#runProcess(run, c, env, imageSpec);
  }

  #running(run: PodRun, c: CRun): void {
    c.state = { running: { startedAt: now() } };
    this.#event({ ns: run.ns, name: run.name, uid: run.uid }, 'Normal', 'Started', `Started container ${c.spec.name}`, 'kubelet', this.#fieldPath(run, c), run.node);
    this.#write(run);
  }

  #runScripted(run: PodRun, c: CRun, script: Scripted, env: Map<string, string>): void {
    const startedAt = now();
    this.#running(run, c);
    const logText = env.get('SANDBOX_LOG');
    if (logText) c.log!.write('stdout', logText.endsWith('\n') ? logText : `${logText}\n`);
    const message = env.get('SANDBOX_TERMINATION_MESSAGE');
    const finish = (exitCode: number, reason?: string): void => {
      if (c.timer) {
        clearTimeout(c.timer);
        run.timers.delete(c.timer);
        c.timer = undefined;
      }
      c.kill = undefined;
      this.#exited(run, c, {
        exitCode,
        reason: reason ?? (exitCode === 0 ? 'Completed' : 'Error'),
        ...(message ? { message: message.slice(-4096) } : {}),
        startedAt,
        finishedAt: now(),
        containerID: c.containerID,
      });
    };
    c.kill = (signal) => finish(signal === 'SIGKILL' ? 137 : 143);
    switch (script.kind) {
      case 'succeed':
        c.timer = this.#timer(run, 0, () => finish(0));
        break;
      case 'sleep':
        if (script.seconds !== Infinity) c.timer = this.#timer(run, script.seconds * 1000, () => finish(0));
        break;
      case 'exit':
        c.timer = this.#timer(run, 0, () => finish(script.code));
        break;
      case 'oomkilled':
        c.timer = this.#timer(run, 0, () => finish(137, 'OOMKilled'));
        break;
      case 'evicted':
        c.timer = this.#timer(run, 0, () => this.evictRun(run));
        break;
      default:
        c.timer = this.#timer(run, 0, () => finish(0));
    }
  }

  #runProcess(run: PodRun, c: CRun, env: Map<string, string>, imageSpec: ImageSpec): void {
    run.tmpDir ??= mkdtempSync(join(tmpdir(), 'sandbox-pod-'));
    const dir = join(run.tmpDir, `${c.spec.name}-${c.restartCount}`);
    mkdirSync(dir, { recursive: true });
    const termPath = join(dir, 'termination-log');
    writeFileSync(termPath, '');
    const declared = c.spec.terminationMessagePath ?? '/dev/termination-log';
    // The container sees its termination-message file at `declared`; on this host it lives at
    // termPath, so every mention of the declared path in env, command and args is mapped.
    const mapPath = (s: string): string => (declared ? s.split(declared).join(termPath) : s);
    const envObj: Record<string, string> = {};
    for (const [k, v] of env) envObj[k] = mapPath(v);
    envObj.HOME ??= dir;
    const argv = [...(c.spec.command ?? []), ...(c.spec.args ?? [])].map((a) => mapPath(expand(a, env)));
    const startedAt = now();
    const cwd = c.spec.workingDir ?? imageSpec.workingDir ?? process.cwd();
    const fail = (message: string): void => {
      this.#exited(run, c, { exitCode: 128, reason: 'StartError', message, startedAt: '1970-01-01T00:00:00Z', finishedAt: now(), containerID: c.containerID });
    };
    const prefix = 'failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ';
    if (argv.length === 0) {
      this.#defer(() => fail(`${prefix}error during container init: no command specified: unknown`));
      return;
    }
    if (!existsSync(cwd)) {
      this.#defer(() => fail(`${prefix}error during container init: chdir to cwd ("${cwd}") set in config.json failed: no such file or directory: unknown`));
      return;
    }
    const cmd = argv[0]!;
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv.slice(1), { cwd, env: envObj, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    } catch (err) {
      this.#defer(() => fail(`${prefix}exec: "${cmd}": ${(err as Error).message}: unknown`));
      return;
    }
    c.child = child;
    let spawned = false;
    let done = false;
    let resolveExit!: () => void;
    const exited = new Promise<void>((r) => (resolveExit = r));
    run.children.add(exited);
    const end = (t: Terminated): void => {
      if (done) return;
      done = true;
      c.child = undefined;
      c.kill = undefined;
      run.children.delete(exited);
      resolveExit();
      this.#exited(run, c, t);
    };
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => c.log!.write('stdout', d));
    child.stderr!.on('data', (d: string) => c.log!.write('stderr', d));
    child.on('spawn', () => {
      spawned = true;
      this.#running(run, c);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (spawned) return;
      const detail = err.code === 'ENOENT'
        ? (cmd.includes('/') ? `exec: "${cmd}": stat ${cmd}: no such file or directory` : `exec: "${cmd}": executable file not found in $PATH`)
        : `exec: "${cmd}": ${err.code === 'EACCES' ? 'permission denied' : err.message}`;
      end({ exitCode: 128, reason: 'StartError', message: `${prefix}${detail}: unknown`, startedAt: '1970-01-01T00:00:00Z', finishedAt: now(), containerID: c.containerID });
    });
    child.on('close', (code, signal) => {
      if (!spawned) return;
      const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 9) : 9);
      let message = readTail(termPath, 4096);
      if (!message && c.spec.terminationMessagePolicy === 'FallbackToLogsOnError' && exitCode !== 0) message = c.log!.tail(80, 2048);
      end({ exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', ...(message ? { message } : {}), startedAt, finishedAt: now(), containerID: c.containerID });
    });
    c.kill = (signal) => {
      if (child.pid === undefined || done) return;
      try {
        // The process group, so children of the container's process go too.
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
    };
  }

  #exited(run: PodRun, c: CRun, t: Terminated): void {
    c.log?.finish();
    if (c.timer) {
      clearTimeout(c.timer);
      run.timers.delete(c.timer);
      c.timer = undefined;
    }
    if (!this.#getPod(run.ns, run.name, run.uid)) return;
    c.state = { terminated: t };
    if (run.stopping) {
      this.#maybeStopped(run);
      return;
    }
    const policy = run.spec.restartPolicy;
    const restart = policy === 'Always' ? !c.init || t.exitCode !== 0 : policy === 'OnFailure' ? t.exitCode !== 0 : false;
    if (restart) {
      c.lastState = { terminated: t };
      c.restartCount++;
      const delay = Math.min(this.#o.restartBackoffMs * 2 ** (c.restartCount - 1), this.#o.restartBackoffMs * 10);
      c.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${run.name}_${run.ns}(${run.uid})` } };
      this.#event({ ns: run.ns, name: run.name, uid: run.uid }, 'Warning', 'BackOff', 'Back-off restarting failed container', 'kubelet', this.#fieldPath(run, c), run.node);
      this.#write(run);
      c.timer = this.#timer(run, delay, () => {
        c.timer = undefined;
        this.#startContainer(run, c);
      });
      return;
    }
    this.#write(run);
    if (c.init && t.exitCode === 0) this.#defer(() => this.#startNext(run));
  }

  /** Stops a pod's containers: SIGTERM, then SIGKILL after `graceSeconds`. */
  #stop(run: PodRun, stopping: Stopping, graceSeconds: number): void {
    if (run.stopping) {
      if (stopping.remove && !run.stopping.remove) run.stopping.remove = true;
      else return;
    } else {
      run.stopping = stopping;
    }
    for (const c of [...run.inits, ...run.containers]) {
      if ('waiting' in c.state && c.timer) {
        clearTimeout(c.timer);
        run.timers.delete(c.timer);
        c.timer = undefined;
      }
    }
    const live = [...run.inits, ...run.containers].filter((c) => 'running' in c.state && c.kill);
    const ref = { ns: run.ns, name: run.name, uid: run.uid };
    for (const c of live) {
      this.#event(ref, 'Normal', 'Killing', `Stopping container ${c.spec.name}`, 'kubelet', this.#fieldPath(run, c), run.node);
      c.kill!(graceSeconds > 0 ? 'SIGTERM' : 'SIGKILL');
    }
    if (graceSeconds > 0 && live.length) {
      this.#timer(run, graceSeconds * 1000, () => {
        for (const c of live) if ('running' in c.state) c.kill?.('SIGKILL');
      });
    }
    this.#defer(() => this.#maybeStopped(run));
  }

  #maybeStopped(run: PodRun): void {
    if (!run.stopping || [...run.inits, ...run.containers].some((c) => 'running' in c.state)) return;
    if (!this.#getPod(run.ns, run.name, run.uid)) return;
    this.#write(run);
    if (run.stopping.remove) this.#removeNow(run.ns, run.name, run.uid);
  }

  #removeNow(ns: string, name: string, uid: string): void {
    if (this.#getPod(ns, name, uid)) this.#o.store.remove('pods', ns, name);
  }

  /** Evicts a running pod as the kubelet does under node pressure; false if it is not running here. */
  evict(ns: string, name: string): boolean {
    const run = [...this.#runs.values()].find((r) => r.ns === ns && r.name === name);
    if (!run || run.terminal || run.stopping) return false;
    this.evictRun(run);
    return true;
  }

  /** Evicts a pod run (kubelet node-pressure eviction: DisruptionTarget, then Failed/Evicted). */
  evictRun(run: PodRun): void {
    const message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. ';
    run.disruption = { reason: 'TerminationByKubelet', message, time: now() };
    this.#stop(run, { reason: 'Evicted', message, remove: false }, 0);
  }

  /** Stops containers of a pod that an admin deleted with grace 0 (already gone from the store). */
  #discard(run: PodRun): void {
    run.stopping ??= { remove: false };
    for (const c of [...run.inits, ...run.containers]) c.kill?.('SIGKILL');
    for (const t of run.timers) clearTimeout(t);
    run.timers.clear();
    this.#runs.delete(run.uid);
    this.#o.logs.dropPod(run.uid);
    const dir = run.tmpDir;
    if (dir) void Promise.all([...run.children]).then(() => rmSync(dir, { recursive: true, force: true }));
  }

  #phase(run: PodRun): string {
    if (run.stopping?.reason) return 'Failed';
    const policy = run.spec.restartPolicy;
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

  #cond(run: PodRun, type: string, status: 'True' | 'False', extra: Record<string, string> = {}): Record<string, unknown> {
    const prev = run.conditionTimes.get(type);
    let time = prev?.time;
    if (!prev || prev.status !== status) {
      time = now();
      run.conditionTimes.set(type, { status, time });
    }
    return { type, status, lastProbeTime: null, lastTransitionTime: time, ...extra };
  }

  #containerStatus(c: CRun): Record<string, unknown> {
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

  /** Writes the pod's status from the run's state; one store update, one watch event. */
  #write(run: PodRun): void {
    const pod = this.#getPod(run.ns, run.name, run.uid);
    if (!pod) return;
    const phase = this.#phase(run);
    const terminal = TERMINAL.has(phase);
    const notReady = run.containers.filter((c) => !('running' in c.state)).map((c) => c.spec.name);
    const initPending = run.inits.filter((c) => !('terminated' in c.state && c.state.terminated.exitCode === 0)).map((c) => c.spec.name);
    const conditions: Record<string, unknown>[] = [];
    if (run.disruption) {
      conditions.push({ type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: run.disruption.time, reason: run.disruption.reason, message: run.disruption.message });
    }
    conditions.push(this.#cond(run, 'PodReadyToStartContainers', terminal ? 'False' : 'True'));
    conditions.push(initPending.length
      ? this.#cond(run, 'Initialized', 'False', { reason: 'ContainersNotInitialized', message: `containers with incomplete status: [${initPending.join(' ')}]` })
      : this.#cond(run, 'Initialized', 'True'));
    for (const type of ['Ready', 'ContainersReady']) {
      if (terminal) conditions.push(this.#cond(run, type, 'False', { reason: 'PodCompleted' }));
      else if (notReady.length) conditions.push(this.#cond(run, type, 'False', { reason: 'ContainersNotReady', message: `containers with unready status: [${notReady.join(' ')}]` }));
      else conditions.push(this.#cond(run, type, 'True'));
    }
    const prevStatus = (pod.status ?? {}) as Record<string, unknown>;
    const scheduled = ((prevStatus.conditions ?? []) as { type: string }[]).find((c) => c.type === 'PodScheduled');
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
    if (run.inits.length) status.initContainerStatuses = run.inits.map((c) => this.#containerStatus(c));
    status.containerStatuses = run.containers.map((c) => this.#containerStatus(c));
    status.qosClass = prevStatus.qosClass;
    if (terminal && !run.terminal) {
      run.terminal = true;
      for (const t of run.timers) clearTimeout(t);
      run.timers.clear();
    }
    this.#o.store.update('pods', { ...pod, status });
  }

  /** Kills every process, clears every timer, removes temp files. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    for (const h of this.#pending) clearImmediate(h);
    this.#pending.clear();
    const waits: Promise<void>[] = [];
    for (const run of this.#runs.values()) {
      for (const t of run.timers) clearTimeout(t);
      for (const c of [...run.inits, ...run.containers]) c.kill?.('SIGKILL');
      waits.push(...run.children);
    }
    await Promise.all(waits);
    for (const run of this.#runs.values()) if (run.tmpDir) rmSync(run.tmpDir, { recursive: true, force: true });
    this.#runs.clear();
  }
}

/** The last `max` bytes of a file, as the kubelet reads a termination message; "" if absent. */
function readTail(path: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, max);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}
