/**
 * The object store: one resourceVersion counter for everything (as etcd has), objects replaced
 * whole on every change (never mutated in place, so history and watchers can share them), and
 * a bounded history of changes from which watches resume.
 *
 * Invariant: every change bumps the counter by one and is appended to the history and delivered
 * to listeners synchronously, so a watch that replays history and then subscribes, in the same
 * tick, misses nothing and sees nothing twice.
 */
import type { KObject } from './selectors.ts';
import type { ResourceInfo } from './resources.ts';
import { qualifiedName } from './status.ts';

/** The kinds of change a watch reports. */
export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change to one object. `prev` is the object before a MODIFIED or DELETED change. */
export interface Change {
  type: ChangeType;
  resource: string;
  rv: number;
  object: KObject;
  prev?: KObject;
}

/** Listener for changes. */
export type ChangeListener = (change: Change) => void;

/** Key of a resource in the store: "pods" or "leases.coordination.k8s.io". */
export function resourceKey(res: Pick<ResourceInfo, 'plural' | 'group'>): string {
  return qualifiedName(res);
}

/** Thrown by the store on a stale resourceVersion; the server turns it into 409 Conflict. */
export class StaleResourceVersion extends Error {}

/** Holds every object the sandbox serves. */
export class Store {
  #rv = 0;
  #objects = new Map<string, Map<string, KObject>>();
  #history: Change[] = [];
  /** Watches may resume from any resourceVersion >= #floor. */
  #floor = 0;
  #historyLimit: number;
  #listeners = new Set<ChangeListener>();

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit;
  }

  /** The current resourceVersion (of the last change). */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** The oldest resourceVersion a watch can still resume from. */
  get oldestResumable(): number {
    return this.#floor;
  }

  #bucket(resource: string): Map<string, KObject> {
    let b = this.#objects.get(resource);
    if (!b) {
      b = new Map();
      this.#objects.set(resource, b);
    }
    return b;
  }

  /** Gets one object, or undefined. */
  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    return this.#bucket(resource).get(`${namespace ?? ''}/${name}`);
  }

  /** Lists objects of a resource, in one namespace or all, sorted by namespace and name. */
  list(resource: string, namespace?: string): KObject[] {
    const out: KObject[] = [];
    for (const obj of this.#bucket(resource).values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(obj);
    }
    out.sort((a, b) => {
      const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
      const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return out;
  }

  /** Every object of a resource, unsorted (cheap: for the agent's bookkeeping). */
  values(resource: string): IterableIterator<KObject> {
    return this.#bucket(resource).values();
  }

  /** Stores a new object (the caller checked it does not exist) and returns it with its resourceVersion. */
  create(resource: string, obj: KObject): KObject {
    const rv = ++this.#rv;
    const stored: KObject = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    this.#bucket(resource).set(`${stored.metadata.namespace ?? ''}/${stored.metadata.name}`, stored);
    this.#record({ type: 'ADDED', resource, rv, object: stored });
    return stored;
  }

  /**
   * Replaces an object. With `expectedRv`, throws StaleResourceVersion unless it is the stored
   * one (optimistic concurrency, as etcd's compare-and-swap).
   */
  update(resource: string, obj: KObject, expectedRv?: string): KObject {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const bucket = this.#bucket(resource);
    const prev = bucket.get(key);
    if (!prev) throw new Error(`sandbox: update of missing ${resource} ${key}`);
    if (expectedRv !== undefined && expectedRv !== prev.metadata.resourceVersion) throw new StaleResourceVersion();
    const rv = ++this.#rv;
    const stored: KObject = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
    bucket.set(key, stored);
    this.#record({ type: 'MODIFIED', resource, rv, object: stored, prev });
    return stored;
  }

  /** Removes an object; the DELETED change carries it with a new resourceVersion, as etcd reports it. */
  remove(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const key = `${namespace ?? ''}/${name}`;
    const bucket = this.#bucket(resource);
    const prev = bucket.get(key);
    if (!prev) return undefined;
    bucket.delete(key);
    const rv = ++this.#rv;
    const object: KObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.#record({ type: 'DELETED', resource, rv, object, prev });
    return object;
  }

  #record(change: Change): void {
    this.#history.push(change);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#floor = dropped[dropped.length - 1]!.rv;
    }
    for (const l of [...this.#listeners]) l(change);
  }

  /** Changes after `rv`, or 'expired' when the history no longer reaches back that far. */
  changesSince(rv: number): Change[] | 'expired' {
    if (rv < this.#floor) return 'expired';
    // History is sorted by rv: find the first change after rv.
    let lo = 0;
    let hi = this.#history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return this.#history.slice(lo);
  }

  /** Drops all history: a watch resuming from any earlier resourceVersion gets 410 Expired. */
  forgetHistory(): void {
    this.#history = [];
    this.#floor = this.#rv;
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
