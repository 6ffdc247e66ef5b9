/**
 * Injectable faults and per-request counters. Shares are deterministic (every k-th matching
 * request), not random, so a test that injects them asserts the same thing on every run.
 */

/** Which requests a fault applies to; empty lists mean all. */
export interface FaultMatch {
  /** Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection. */
  verbs?: string[];
  /** Resources, with subresources as "pods/log". */
  resources?: string[];
}

interface ShareFault extends FaultMatch {
  share: number;
  /** The first this many matching requests fire, whatever the share. */
  first?: number;
  seen: number;
  fired: number;
}

/** A pod as a mutating webhook gets it: plain JSON, changed in place. */
export interface MutablePod {
  metadata: Record<string, unknown>;
  spec: Record<string, unknown> & { containers: Record<string, unknown>[]; initContainers?: Record<string, unknown>[] };
}

/** Faults that a test can turn on and off while the sandbox runs. */
export class Faults {
  #dropAfterEvents: number | undefined;
  #dropAfterSeconds: number | undefined;
  #dropMode: 'end' | 'reset' = 'end';
  #throttle: (ShareFault & { retryAfterSeconds: number }) | undefined;
  #errors: ShareFault | undefined;
  #latencyMs = 0;
  #cutLogsAfterBytes: number | undefined;
  #lose: (ShareFault & { then503: number; retryAfterSeconds: number | undefined }) | undefined;
  /** 503s still to answer after a lost answer. */
  #burst = 0;
  #silence: { left: number; afterEvents: number } | undefined;
  #mutatePod: ((pod: MutablePod) => void) | undefined;
  #forget: () => void;

  constructor(forgetHistory: () => void) {
    this.#forget = forgetHistory;
  }

  /**
   * Ends every watch (open ones at their next event, and new ones) after it delivered `afterEvents`
   * events or was open `afterSeconds`; `mode: 'reset'` destroys the connection instead of ending
   * the chunked response cleanly.
   */
  dropWatches(opts: { afterEvents?: number; afterSeconds?: number; mode?: 'end' | 'reset' }): void {
    this.#dropAfterEvents = opts.afterEvents;
    this.#dropAfterSeconds = opts.afterSeconds;
    this.#dropMode = opts.mode ?? 'end';
  }

  /**
   * The next `count` watches opened (every one when not given) go silent after `afterEvents`
   * events (0: from the start): they stay open and send nothing more, no events, no bookmarks, not
   * even their end at timeoutSeconds, as a connection a NAT or load balancer dropped without a FIN
   * or RST, or a server that hangs mid-stream. Only the client can end them.
   */
  silenceWatches(opts: { count?: number; afterEvents?: number } = {}): void {
    this.#silence = { left: opts.count ?? Infinity, afterEvents: opts.afterEvents ?? 0 };
  }

  /** Answers `share` (0..1) of matching requests with 429 TooManyRequests and Retry-After. */
  throttle(opts: { share: number; retryAfterSeconds?: number } & FaultMatch): void {
    this.#throttle = { ...opts, retryAfterSeconds: opts.retryAfterSeconds ?? 1, seen: 0, fired: 0 };
  }

  /** Answers `share` (0..1) of matching requests with 500 InternalError. */
  serverErrors(opts: { share: number } & FaultMatch): void {
    this.#errors = { ...opts, seen: 0, fired: 0 };
  }

  /**
   * Handles `share` (0..1) of matching requests to their end (a pod is created, a state written)
   * but loses the answer: the connection is destroyed instead of answering, as when a proxy or
   * the network drops it. Each loss is then followed by a burst: the next `then503` requests,
   * whatever they are, are answered 503 ServiceUnavailable (with Retry-After when given), as an
   * API server that restarts or sheds load answers for a few seconds. `first`: the first this
   * many matching requests lose their answer, whatever the share.
   */
  loseAnswers(opts: { share: number; first?: number; then503?: number; retryAfterSeconds?: number } & FaultMatch): void {
    this.#lose = { ...opts, then503: opts.then503 ?? 0, retryAfterSeconds: opts.retryAfterSeconds, seen: 0, fired: 0 };
  }

  /** Delays every request by `ms` before it is handled. */
  latency(ms: number): void {
    this.#latencyMs = ms;
  }

  /** Ends every pods/log response after `afterBytes` bytes, mid-line if need be. */
  cutLogs(opts: { afterBytes: number }): void {
    this.#cutLogsAfterBytes = opts.afterBytes;
  }

  /**
   * A mutating admission webhook on pod create (dry runs too): `mutate` changes the pod as sent,
   * after the built-in mutating admission and before validation, as kube-apiserver calls webhooks.
   * E.g. `p => { p.spec.restartPolicy = 'OnFailure' }`, as a policy engine's mutate rule might.
   */
  mutatePods(mutate: (pod: MutablePod) => void): void {
    this.#mutatePod = mutate;
  }

  /** Forgets the change history: a watch from any earlier resourceVersion gets 410 Expired. */
  forgetHistory(): void {
    this.#forget();
  }

  /** Turns every fault off. */
  clear(): void {
    this.#dropAfterEvents = undefined;
    this.#dropAfterSeconds = undefined;
    this.#silence = undefined;
    this.#throttle = undefined;
    this.#errors = undefined;
    this.#latencyMs = 0;
    this.#cutLogsAfterBytes = undefined;
    this.#lose = undefined;
    this.#burst = 0;
    this.#mutatePod = undefined;
  }

  /** @internal The mutating webhook now in force, if any. */
  get podMutation(): ((pod: MutablePod) => void) | undefined {
    return this.#mutatePod;
  }

  /** @internal The watch drop settings now in force. */
  get watchDrop(): { afterEvents?: number; afterSeconds?: number; mode: 'end' | 'reset' } {
    return { afterEvents: this.#dropAfterEvents, afterSeconds: this.#dropAfterSeconds, mode: this.#dropMode };
  }

  /** @internal For a watch being opened: after how many events it goes silent, or undefined if it does not (counts it against `silenceWatches`' count). */
  takeWatchSilence(): number | undefined {
    if (!this.#silence || this.#silence.left <= 0) return undefined;
    this.#silence.left--;
    return this.#silence.afterEvents;
  }

  /** @internal */
  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** @internal */
  get cutLogsAfterBytes(): number | undefined {
    return this.#cutLogsAfterBytes;
  }

  static #fires(f: ShareFault | undefined, verb: string, resource: string): boolean {
    if (!f) return false;
    if (f.verbs?.length && !f.verbs.includes(verb)) return false;
    if (f.resources?.length && !f.resources.includes(resource)) return false;
    f.seen++;
    if (f.first !== undefined && f.seen <= f.first) return true;
    // Fire when the running share crosses the next whole request: deterministic, evenly spread.
    if (Math.floor(f.seen * f.share) > f.fired) {
      f.fired++;
      return true;
    }
    return false;
  }

  /** @internal Whether this request gets a 429; returns Retry-After seconds. */
  throttled(verb: string, resource: string): number | undefined {
    return Faults.#fires(this.#throttle, verb, resource) ? this.#throttle!.retryAfterSeconds : undefined;
  }

  /** @internal Whether this request's answer is lost (it is handled, then its connection destroyed). */
  loses(verb: string, resource: string): boolean {
    if (!Faults.#fires(this.#lose, verb, resource)) return false;
    this.#burst += this.#lose!.then503;
    return true;
  }

  /** @internal Whether this request is answered 503 (a burst after a lost answer); returns its Retry-After, or null without one. */
  unavailable(): { retryAfterSeconds: number | undefined } | undefined {
    if (this.#burst <= 0) return undefined;
    this.#burst--;
    return { retryAfterSeconds: this.#lose?.retryAfterSeconds };
  }

  /** @internal Whether this request gets a 500. */
  failed(verb: string, resource: string): boolean {
    return Faults.#fires(this.#errors, verb, resource);
  }
}

/** Counts requests by verb and resource ("watch pods", "get pods/log"). */
export class Counters {
  #counts = new Map<string, number>();
  #waiters = new Set<() => void>();

  /** @internal Counts one request (before it is handled, so a waiter runs once the handler has started). */
  add(verb: string, resource: string): void {
    const key = `${verb} ${resource}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    for (const w of [...this.#waiters]) w();
  }

  /**
   * Resolves once `get(verb, resource)` reaches `count` (e.g. "a client has opened its watch"),
   * or rejects after `timeoutMs`. Event-driven: no polling.
   */
  waitFor(verb: string, resource: string, count: number, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.get(verb, resource) < count) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        // After the handler that counted this request has run synchronously (watch registered).
        setImmediate(resolve);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`sandbox: ${count} "${verb} ${resource}" requests expected within ${timeoutMs} ms, saw ${this.get(verb, resource)}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Every count, keyed "verb resource". */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts].sort());
  }

  /** Requests with this verb on this resource ("pods/log" for a subresource). */
  get(verb: string, resource: string): number {
    return this.#counts.get(`${verb} ${resource}`) ?? 0;
  }

  /** All requests counted. */
  total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }

  /** Starts counting from zero. */
  reset(): void {
    this.#counts.clear();
  }
}
