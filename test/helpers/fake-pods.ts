/**
 * A plain in-memory PodApi (src/kube/pod-api.ts) for engine unit tests: pods in a map, a
 * resourceVersion counter, watches fed from the event history, logs as streams. No HTTP, no
 * sandbox, no timers of its own: a test says what each pod does (`start`, `print`, `exit`, or a
 * `kubelet` that runs every created pod), so an engine test runs in milliseconds and fails only
 * for the engine's reasons.
 *
 * Errors are thrown shaped like client-node's ApiException (`{ code, body }`), which is what
 * `classifyError` reads: `{ code: 409, body: { reason: 'AlreadyExists' } }` on a second create.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import type { LogQuery, PodApi, PodList, WatchFrom } from '../../src/kube/pod-api.ts';

/** An API error as client-node throws it (what classifyError reads). */
export function apiError(code: number, reason: string, message = reason): Error {
  return Object.assign(new Error(`HTTP ${code}: ${message}`), { code, body: { kind: 'Status', code, reason, message } });
}

interface Watcher {
  selector: string;
  onEvent: (type: string, object: unknown) => void;
  onDone: (err: unknown) => void;
  open: boolean;
}

interface Log {
  lines: string[];
  streams: Set<PassThrough>;
  ended: boolean;
}

/** What a kubelet does with a created pod (see `FakePods.kubelet`). */
export type FakeKubelet = (pod: V1Pod, fake: FakePods) => void;

/** Whether `labels` match a selector of `k=v`, `k!=v`, `k` and `!k` terms (what the engine sends). */
export function matches(selector: string, labels: Record<string, string> = {}): boolean {
  // Split at the commas outside `in (...)`'s parentheses.
  return (selector.match(/[^,(]+(\([^)]*\))?/g) ?? [])
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .every((term) => {
      const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(term);
      if (set) {
        const has = set[3]!.split(',').map((v) => v.trim()).includes(labels[set[1]!] ?? '\0');
        return set[2] === 'in' ? has : !has;
      }
      if (term.startsWith('!')) return !(term.slice(1) in labels);
      const ne = term.indexOf('!=');
      if (ne > 0) return labels[term.slice(0, ne)] !== term.slice(ne + 2);
      const eq = term.indexOf('=');
      if (eq < 0) return term in labels;
      return labels[term.slice(0, eq)] === term.slice(eq + 1).replace(/^=/, '');
    });
}

/** The in-memory pods of one fake cluster (one namespace is enough for the engine; others are kept apart by name). */
export class FakePods implements PodApi {
  readonly server = 'https://fake-cluster.invalid';
  /** Every call, in order: `create <pod>`, `create <pod> (dry run)`, `read <pod>`, `delete <pod>`, `deletecollection <selector>`, `list <selector>`, `watch <selector>`, `log <pod> follow|once`. */
  readonly calls: string[] = [];
  /** Runs each created pod (not dry runs); default: nothing (the pod stays Pending). */
  kubelet: FakeKubelet | null = null;
  /** A create's answer instead of storing the pod: return an error to throw it, null to go on. */
  refuse: ((pod: V1Pod, dryRun: boolean) => Error | null) | null = null;
  readonly #pods = new Map<string, V1Pod>();
  readonly #history: { rv: number; type: string; pod: V1Pod }[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #logs = new Map<string, Log>();
  #rv = 0;
  /** Each created pod gets its own uid, as the API server gives. */
  #uids = 0;
  #clock = Date.UTC(2026, 0, 1);

  constructor(kubelet: FakeKubelet | null = null) {
    this.kubelet = kubelet;
  }

  /** The pod as stored, or undefined. */
  get(name: string): V1Pod | undefined {
    return this.#pods.get(name);
  }

  /** Every stored pod's name, sorted. */
  names(): string[] {
    return [...this.#pods.keys()].sort();
  }

  /** How many calls start with `prefix` (e.g. `create `, `log `). */
  count(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }

  async create(namespace: string, pod: V1Pod, options: { dryRun?: boolean } = {}): Promise<V1Pod> {
    const name = pod.metadata?.name ?? '';
    this.calls.push(`create ${name}${options.dryRun ? ' (dry run)' : ''}`);
    const refused = this.refuse?.(pod, options.dryRun ?? false);
    if (refused) throw refused;
    if (options.dryRun) return structuredClone(pod);
    if (this.#pods.has(name)) throw apiError(409, 'AlreadyExists', `pods "${name}" already exists`);
    const stored: V1Pod = structuredClone(pod);
    stored.metadata = { ...stored.metadata, namespace, uid: `uid-${++this.#uids}`, creationTimestamp: this.#time() };
    stored.status = { phase: 'Pending' };
    this.#put('ADDED', stored);
    this.#logs.set(name, { lines: [], streams: new Set(), ended: false });
    if (this.kubelet) {
      const kubelet = this.kubelet;
      // After the create answered, as a kubelet would: the engine must cope with either order.
      queueMicrotask(() => kubelet(structuredClone(stored), this));
    }
    return structuredClone(stored);
  }

  async read(_namespace: string, name: string): Promise<V1Pod> {
    this.calls.push(`read ${name}`);
    const pod = this.#pods.get(name);
    if (!pod) throw apiError(404, 'NotFound', `pods "${name}" not found`);
    return structuredClone(pod);
  }

  async delete(_namespace: string, name: string, _options: { gracePeriodSeconds: number }): Promise<void> {
    this.calls.push(`delete ${name}`);
    if (!this.#pods.has(name)) throw apiError(404, 'NotFound', `pods "${name}" not found`);
    this.remove(name);
  }

  /** Off: the fake has no deletecollection (as a PodApi may not), and pods are deleted one by one. */
  noDeleteCollection = false;

  deleteCollection = async (_namespace: string, selector: string, _options: { gracePeriodSeconds: number }): Promise<void> => {
    if (this.noDeleteCollection) throw apiError(403, 'Forbidden', 'pods is forbidden: cannot deletecollection');
    this.calls.push(`deletecollection ${selector}`);
    for (const pod of [...this.#pods.values()]) if (matches(selector, pod.metadata?.labels)) this.remove(pod.metadata?.name ?? '');
  };

  async list(_namespace: string, selector: string): Promise<PodList> {
    this.calls.push(`list ${selector}`);
    const items = [...this.#pods.values()].filter((p) => matches(selector, p.metadata?.labels)).map((p) => structuredClone(p));
    return { items, resourceVersion: String(this.#rv) };
  }

  async watch(
    _namespace: string,
    selector: string,
    from: WatchFrom,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }> {
    this.calls.push(`watch ${selector}`);
    const w: Watcher = { selector, onEvent, onDone, open: true };
    const since = Number(from.resourceVersion || '0');
    // Events after the resourceVersion asked for, then live ones (delivered after this resolves).
    queueMicrotask(() => {
      for (const e of this.#history) if (w.open && e.rv > since && matches(selector, e.pod.metadata?.labels)) onEvent(e.type, structuredClone(e.pod));
      if (w.open) this.#watchers.add(w);
    });
    return {
      abort: () => this.#close(w, null),
    };
  }

  async log(_namespace: string, name: string, query: LogQuery, signal: AbortSignal): Promise<Readable> {
    this.calls.push(`log ${name} ${query.follow ? 'follow' : 'once'}`);
    const log = this.#logs.get(name);
    if (!log || !this.#pods.has(name)) throw apiError(404, 'NotFound', `pods "${name}" not found`);
    const out = new PassThrough();
    const since = query.sinceTime ?? '';
    for (const line of log.lines) if (line.slice(0, line.indexOf(' ')) >= since.slice(0, 19)) out.write(`${line}\n`);
    if (!query.follow || log.ended) out.end();
    else {
      log.streams.add(out);
      out.on('close', () => log.streams.delete(out));
      signal.addEventListener('abort', () => out.destroy(), { once: true });
    }
    return out;
  }

  // --- what a kubelet does -------------------------------------------------------------------

  /** The container started: Running. */
  start(name: string): void {
    this.#update(name, (p) => {
      p.status = {
        phase: 'Running',
        startTime: this.#time(),
        containerStatuses: [{ name: 'main', image: p.spec?.containers?.[0]?.image ?? '', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: this.#time() } } }],
      };
    });
  }

  /** The container printed a line (timestamped, as `timestamps=true` reads it). */
  print(name: string, text: string): void {
    const log = this.#logs.get(name);
    if (!log) throw new Error(`fake: no pod ${name} to print to`);
    const line = `${this.#now()} ${text}`;
    log.lines.push(line);
    for (const s of log.streams) s.write(`${line}\n`);
  }

  /** The container exited with `exitCode` (its termination message `message`: the outputs). */
  exit(name: string, exitCode: number, options: { message?: string; reason?: string; keepLogOpen?: boolean } = {}): void {
    // `keepLogOpen`: the log streams lag the container's end (as a kubelet's may, by up to a
    // second or so); `endLog` ends them.
    if (!options.keepLogOpen) this.endLog(name);
    this.#update(name, (p) => {
      const startedAt = p.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? this.#time();
      p.status = {
        phase: exitCode === 0 ? 'Succeeded' : 'Failed',
        startTime: p.status?.startTime ?? startedAt,
        containerStatuses: [
          {
            name: 'main',
            image: p.spec?.containers?.[0]?.image ?? '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode, reason: options.reason ?? (exitCode === 0 ? 'Completed' : 'Error'), message: options.message, startedAt, finishedAt: this.#time() } },
          },
        ],
      };
    });
  }

  /** The log ends: open follow streams end, later reads end at once. */
  endLog(name: string): void {
    const log = this.#logs.get(name);
    if (log) {
      log.ended = true;
      for (const s of log.streams) s.end();
    }
  }

  /** Changes a pod's status as the test says (a waiting reason, a condition, an eviction). */
  setStatus(name: string, status: V1Pod['status']): void {
    this.#update(name, (p) => void (p.status = status));
  }

  /** The pod goes from the API (someone deleted it, or our delete's grace ended). */
  remove(name: string): void {
    const pod = this.#pods.get(name);
    if (!pod) return;
    this.#pods.delete(name);
    const log = this.#logs.get(name);
    if (log) {
      log.ended = true;
      for (const s of log.streams) s.end();
    }
    this.#emit('DELETED', { ...pod, metadata: { ...pod.metadata, resourceVersion: String(++this.#rv) } });
  }

  /** Ends every open watch as a server's timeout would (the watcher resumes). */
  endWatches(err: unknown = null): void {
    for (const w of [...this.#watchers]) this.#close(w, err);
  }

  #close(w: Watcher, err: unknown): void {
    if (!w.open) return;
    w.open = false;
    this.#watchers.delete(w);
    queueMicrotask(() => w.onDone(err));
  }

  #update(name: string, change: (p: V1Pod) => void): void {
    const pod = this.#pods.get(name);
    if (!pod) throw new Error(`fake: no pod ${name}`);
    const next = structuredClone(pod);
    change(next);
    this.#put('MODIFIED', next);
  }

  #put(type: string, pod: V1Pod): void {
    pod.metadata = { ...pod.metadata, resourceVersion: String(++this.#rv) };
    this.#pods.set(pod.metadata.name ?? '', pod);
    this.#emit(type, pod);
  }

  #emit(type: string, pod: V1Pod): void {
    this.#history.push({ rv: this.#rv, type, pod: structuredClone(pod) });
    for (const w of [...this.#watchers]) if (matches(w.selector, pod.metadata?.labels)) w.onEvent(type, structuredClone(pod));
  }

  /**
   * A timestamp of a pod's metadata or status as a watch delivers it: a string (client-node's
   * types say Date, which only its deserialized list and read answers hold).
   */
  #time(): Date {
    return this.#now() as unknown as Date;
  }

  #now(): string {
    // Strictly increasing, whole milliseconds: log lines and statuses order like a kubelet's.
    this.#clock += 1;
    return new Date(this.#clock).toISOString();
  }
}

/** A kubelet that runs each pod at once: prints `lines`, exits with `exitCode` and `outputs` from `script(pod)`. */
export function scriptedKubelet(
  script: (pod: V1Pod) => { lines?: string[]; exitCode?: number; outputs?: Record<string, string> } | 'hold',
): FakeKubelet {
  return (pod, fake) => {
    const name = pod.metadata?.name ?? '';
    const what = script(pod);
    if (what === 'hold') return;
    fake.start(name);
    for (const line of what.lines ?? []) fake.print(name, line);
    const message = Object.entries(what.outputs ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    fake.exit(name, what.exitCode ?? 0, { message: message || undefined });
  };
}
