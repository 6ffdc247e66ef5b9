/** Runs callbacks on the next turn of the event loop until `close()`, which drops those still pending. */
export class Later {
  #pending = new Set<NodeJS.Immediate>();
  #closed = false;

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` on the next turn, unless closed by then. */
  run(fn: () => void): void {
    if (this.#closed) return;
    const h = setImmediate(() => {
      this.#pending.delete(h);
      if (!this.#closed) fn();
    });
    this.#pending.add(h);
  }

  /** Drops every pending callback; later `run` calls do nothing. */
  close(): void {
    this.#closed = true;
    for (const h of this.#pending) clearImmediate(h);
    this.#pending.clear();
  }
}
