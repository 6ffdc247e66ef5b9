/**
 * The kubelet's pod work, shared by the sandbox's node agent and the node agent for a real API
 * server: for each pod bound to a node it runs the init containers in order, then the app
 * containers (local processes or scripted behaviours), restarts them per restartPolicy with
 * CrashLoopBackOff, enforces activeDeadlineSeconds, stops them on deletion (SIGTERM, SIGKILL after
 * the grace period), evicts, sends the kubelet's events, and writes the pod's status after each
 * transition. Where the pods come from and where status, events and deletions go is the
 * `KubeletHost` given with each pod: the sandbox's store, or the API server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEnv, EnvError, type EnvContainer, type EnvLookup } from './env.ts';
import type { ContainerLog, LogStore } from './logs.ts';
import { podStatus, TERMINAL, type ContainerRecord, type PodRecord } from './pod-status.ts';
import { imagePullMessage, now, runProcess, scriptedImage, type ImageSpec, type RuntimeContainer, type Scripted, type Terminated } from './runtime.ts';
import { Later } from './later.ts';
import type { KObject } from './selectors.ts';

/** A pod by namespace, name and uid (a pod recreated under the same name is another pod). */
export interface PodRef {
  ns: string;
  name: string;
  uid: string;
}

/** Where a pod's kubelet work reads and writes: the sandbox's store, or a real API server. */
export interface KubeletHost {
  /** The pod as last seen; undefined once it is gone (or the name now holds another pod). */
  pod(ref: PodRef): KObject | undefined;
  /** Writes the pod's status (`pod` is the object as last seen); one call per transition. */
  writeStatus(ref: PodRef, pod: KObject, status: Record<string, unknown>): void;
  /** Records a kubelet event about the pod (source component "kubelet", host `node`). */
  event(ref: PodRef, node: string, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath: string): void;
  /** Deletes the pod for good once its containers stopped (grace period 0, the uid as a precondition). */
  remove(ref: PodRef): void;
  /** The secrets and configmaps the pod's containers refer to, for their environment (may be fetched first). */
  envSources(ref: PodRef, pod: KObject): EnvLookup | Promise<EnvLookup>;
}

/** Where a pod runs: its node and addresses. */
export interface Placement {
  node: string;
  hostIP: string;
  podIP: string;
}

/** How the kubelet is set up. */
export interface KubeletOptions {
  logs: LogStore;
  /** Every image that is not `sandbox/...` behaves as `sandbox/succeed`. */
  scale: boolean;
  images: Record<string, ImageSpec>;
  /** First CrashLoopBackOff delay; doubles per restart up to 10x. */
  restartBackoffMs: number;
  /** The API's address, given to containers as KUBERNETES_SERVICE_HOST/PORT. */
  apiHost: string;
  apiPort: number;
}

interface Container extends EnvContainer, RuntimeContainer {}

interface CRun extends ContainerRecord {
  spec: Container;
  timer?: NodeJS.Timeout;
  /** Stops the running instance: a signal for processes, its strength for scripts. */
  kill?: (signal: 'SIGTERM' | 'SIGKILL') => void;
  log?: ContainerLog;
  configError?: boolean;
  /** Its environment's sources are being fetched: do not start it again meanwhile. */
  preparing?: boolean;
  /** The running process; it counts as running until it is gone. */
  process?: boolean;
}

interface Stopping {
  reason?: string;
  message?: string;
  remove: boolean;
}

interface PodRun extends PodRecord, PodRef {
  host: KubeletHost;
  node: string;
  spec: { restartPolicy: string; terminationGracePeriodSeconds: number; activeDeadlineSeconds?: number };
  restartPolicy: string;
  inits: CRun[];
  containers: CRun[];
  timers: Set<NodeJS.Timeout>;
  stopping?: Stopping;
  terminal: boolean;
  tmpDir?: string;
  children: Set<Promise<void>>;
}

/**
 * Runs pods on nodes. Invariant: it never acts inside the caller's call; it defers with
 * setImmediate, so every watcher of the sandbox's store sees a change before the changes it causes.
 */
export class Kubelet {
  #o: KubeletOptions;
  #runs = new Map<string, PodRun>();
  #starts = new Map<string, number>();
  #totalStarts = 0;
  #later = new Later();

  constructor(options: KubeletOptions) {
    this.#o = options;
  }

  /** How many containers were started (per pod name, or in total). */
  containerStarts(podName?: string): number {
    return podName === undefined ? this.#totalStarts : (this.#starts.get(podName) ?? 0);
  }

  /** Whether the pod with this uid is being run. */
  has(uid: string): boolean {
    return this.#runs.has(uid);
  }

  #defer(fn: () => void): void {
    this.#later.run(fn);
  }

  #timer(run: PodRun, ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      run.timers.delete(t);
      if (!this.#later.closed) fn();
    }, ms);
    run.timers.add(t);
    return t;
  }

  #ref(run: PodRun): PodRef {
    return { ns: run.ns, name: run.name, uid: run.uid };
  }

  #event(run: PodRun, c: CRun, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.#later.closed) return;
    run.host.event(this.#ref(run), run.node, type, reason, message, c.init ? `spec.initContainers{${c.spec.name}}` : `spec.containers{${c.spec.name}}`);
  }

  /** Starts the kubelet's work for a pod bound to a node (once per uid). */
  run(pod: KObject, placement: Placement, host: KubeletHost): void {
    const uid = pod.metadata.uid!;
    if (this.#later.closed || this.#runs.has(uid)) return;
    const full = pod.spec as { restartPolicy: string; terminationGracePeriodSeconds: number; activeDeadlineSeconds?: number; containers: Container[]; initContainers?: Container[] };
    const mk = (c: Container, init: boolean): CRun => ({
      spec: c, init, restartCount: 0, lastState: {},
      state: { waiting: { reason: init || !(full.initContainers ?? []).length ? 'ContainerCreating' : 'PodInitializing' } },
    });
    const run: PodRun = {
      uid, ns: pod.metadata.namespace!, name: pod.metadata.name, host,
      node: placement.node, hostIP: placement.hostIP, podIP: placement.podIP,
      restartPolicy: full.restartPolicy,
      spec: { restartPolicy: full.restartPolicy, terminationGracePeriodSeconds: full.terminationGracePeriodSeconds ?? 30, activeDeadlineSeconds: full.activeDeadlineSeconds },
      inits: (full.initContainers ?? []).map((c) => mk(c, true)),
      containers: full.containers.map((c) => mk(c, false)),
      timers: new Set(), conditionTimes: new Map(), terminal: false, children: new Set(),
    };
    this.#runs.set(uid, run);
    this.#defer(() => this.#start(run));
  }

  #start(run: PodRun): void {
    if (!run.host.pod(run) || run.stopping) return;
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
      if ('waiting' in init.state && !init.timer && !init.process && !init.preparing) this.#startContainer(run, init);
      return;
    }
    for (const c of run.containers) {
      if ('waiting' in c.state && c.state.waiting.reason === 'PodInitializing') c.state = { waiting: { reason: 'ContainerCreating' } };
    }
    for (const c of run.containers) if ('waiting' in c.state && !c.timer && !c.preparing) this.#startContainer(run, c);
  }

  /** Tries again to start the containers (of a namespace's pods, or all) that lacked a secret or configmap. */
  retryConfigErrors(ns?: string): void {
    for (const run of this.#runs.values()) {
      if (ns !== undefined && run.ns !== ns) continue;
      for (const cr of [...run.inits, ...run.containers]) {
        if (cr.configError) this.#defer(() => this.#startContainer(run, cr));
      }
    }
  }

  /** Whether some container waits for a secret or configmap (CreateContainerConfigError). */
  hasConfigErrors(): boolean {
    return [...this.#runs.values()].some((run) => [...run.inits, ...run.containers].some((c) => c.configError));
  }

  #startContainer(run: PodRun, c: CRun): void {
    if (run.stopping || run.terminal || !('waiting' in c.state) || c.preparing) return;
    const pod = run.host.pod(run);
    if (!pod) return;
    const image = c.spec.image;
    const script = scriptedImage(image) ?? (this.#o.scale ? ({ kind: 'succeed' } as const) : undefined);
    if (script?.kind === 'image-pull-error' || script?.kind === 'unknown') {
      const message = imagePullMessage(image);
      c.state = { waiting: { reason: 'ErrImagePull', message } };
      this.#event(run, c, 'Normal', 'Pulling', `Pulling image "${image}"`);
      this.#event(run, c, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`);
      this.#event(run, c, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.#write(run);
      c.timer = this.#timer(run, 50, () => {
        c.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}": ErrImagePull: ${message}` } };
        this.#event(run, c, 'Normal', 'BackOff', `Back-off pulling image "${image}"`);
        this.#event(run, c, 'Warning', 'Failed', 'Error: ImagePullBackOff');
        this.#write(run);
      });
      return;
    }
    const sources = run.host.envSources(run, pod);
    if (sources instanceof Promise) {
      c.preparing = true;
      sources.then((s) => {
        c.preparing = false;
        this.#create(run, c, script, s);
      }, (err: Error) => {
        c.preparing = false;
        this.#create(run, c, script, { secret: () => { throw new EnvError(err.message); }, configMap: () => { throw new EnvError(err.message); } });
      });
      return;
    }
    this.#create(run, c, script, sources);
  }

  /** Builds the container's environment and starts it (or reports CreateContainerConfigError). */
  #create(run: PodRun, c: CRun, script: Scripted | undefined, sources: EnvLookup): void {
    if (this.#later.closed || run.stopping || run.terminal || !('waiting' in c.state)) return;
    const pod = run.host.pod(run);
    if (!pod) return;
    const image = c.spec.image;
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
      env = buildEnv(c.spec, pod, sources, base);
    } catch (err) {
      if (!(err instanceof EnvError)) throw err;
      const first = !c.configError;
      c.configError = true;
      const prev = c.state.waiting;
      c.state = { waiting: { reason: 'CreateContainerConfigError', message: err.message } };
      if (first || prev.message !== err.message) {
        this.#event(run, c, 'Warning', 'Failed', `Error: ${err.message}`);
        this.#write(run);
      }
      return;
    }
    c.configError = false;
    if (c.restartCount === 0) this.#event(run, c, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
    this.#event(run, c, 'Normal', 'Created', `Created container: ${c.spec.name}`);
    c.log = this.#o.logs.get(run.uid, c.spec.name, c.restartCount);
    c.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.#starts.set(run.name, (this.#starts.get(run.name) ?? 0) + 1);
    this.#totalStarts++;
    if (script) this.#runScripted(run, c, script, env);
    else this.#runProcess(run, c, env, imageSpec);
  }

  #running(run: PodRun, c: CRun): void {
    c.state = { running: { startedAt: now() } };
    this.#event(run, c, 'Normal', 'Started', `Started container ${c.spec.name}`);
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
        c.timer = this.#timer(run, 0, () => this.#evict(run));
        break;
      default:
        c.timer = this.#timer(run, 0, () => finish(0));
    }
  }

  #runProcess(run: PodRun, c: CRun, env: Map<string, string>, imageSpec: ImageSpec): void {
    run.tmpDir ??= mkdtempSync(join(tmpdir(), 'sandbox-pod-'));
    const dir = join(run.tmpDir, `${c.spec.name}-${c.restartCount}`);
    const handle = runProcess(c.spec, env, imageSpec, dir, c.log!, c.containerID, {
      running: () => this.#running(run, c),
      exited: (t) => {
        c.process = false;
        c.kill = undefined;
        if (handle) run.children.delete(handle.exited);
        this.#exited(run, c, t);
      },
    }, (fn) => this.#defer(fn));
    if (!handle) return;
    c.process = true;
    run.children.add(handle.exited);
    c.kill = handle.kill;
  }

  #exited(run: PodRun, c: CRun, t: Terminated): void {
    c.log?.finish();
    if (c.timer) {
      clearTimeout(c.timer);
      run.timers.delete(c.timer);
      c.timer = undefined;
    }
    if (!run.host.pod(run)) return;
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
      this.#event(run, c, 'Warning', 'BackOff', 'Back-off restarting failed container');
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

  /** Graceful deletion: stops the pod's containers (SIGTERM, SIGKILL after `graceSeconds`), writes the last status, then removes the pod. */
  terminate(uid: string, graceSeconds: number): void {
    const run = this.#runs.get(uid);
    if (run) this.#defer(() => this.#stop(run, { remove: true }, graceSeconds));
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
    for (const c of live) {
      this.#event(run, c, 'Normal', 'Killing', `Stopping container ${c.spec.name}`);
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
    if (!run.host.pod(run)) return;
    this.#write(run);
    if (run.stopping.remove) run.host.remove(this.#ref(run));
  }

  /** Evicts a running pod as the kubelet does under node pressure; false if it is not running here. */
  evict(ns: string, name: string): boolean {
    const run = [...this.#runs.values()].find((r) => r.ns === ns && r.name === name);
    if (!run || run.terminal || run.stopping) return false;
    this.#evict(run);
    return true;
  }

  /** Kubelet node-pressure eviction: DisruptionTarget, then Failed/Evicted. */
  #evict(run: PodRun): void {
    const message = 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. ';
    run.disruption = { reason: 'TerminationByKubelet', message, time: now() };
    this.#stop(run, { reason: 'Evicted', message, remove: false }, 0);
  }

  /** Forgets a pod that is gone from the API (deleted with grace 0, or after its last status): kills what still runs. */
  discard(uid: string): void {
    const run = this.#runs.get(uid);
    if (!run) return;
    this.#defer(() => {
      run.stopping ??= { remove: false };
      for (const c of [...run.inits, ...run.containers]) c.kill?.('SIGKILL');
      for (const t of run.timers) clearTimeout(t);
      run.timers.clear();
      this.#runs.delete(run.uid);
      this.#o.logs.dropPod(run.uid);
      const dir = run.tmpDir;
      if (dir) void Promise.all([...run.children]).then(() => rmSync(dir, { recursive: true, force: true }));
    });
  }

  /** Writes the pod's status from the run's state. */
  #write(run: PodRun): void {
    const pod = run.host.pod(run);
    if (!pod) return;
    const { phase, status } = podStatus(run, (pod.status ?? {}) as Record<string, unknown>);
    if (TERMINAL.has(phase) && !run.terminal) {
      run.terminal = true;
      for (const t of run.timers) clearTimeout(t);
      run.timers.clear();
    }
    run.host.writeStatus(this.#ref(run), pod, status);
  }

  /** Kills every process, clears every timer, removes temp files. */
  async close(): Promise<void> {
    this.#later.close();
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
