/**
 * How V8 sizes the heap of a run. A run allocates a few hundred kilobytes per task that live for
 * milliseconds (HTTP requests and responses, watch events, log chunks), and V8 sizes its young
 * generation by the machine's memory: on a runner with 16 GB it grows to 128 MB of semi-spaces,
 * and the old generation is let grow to about three times what it holds before it is collected.
 * That is most of the peak RSS of a wide DAG (BENCHMARKS.md, row 2), memory a runner shares with
 * the job's other steps. The action cannot pass V8 flags at start-up (`runs.using: node24` runs
 * dist/index.js as it is), but these two are read by V8 each time it resizes, so setting them
 * once the process runs takes effect: the young generation stays at its first size (scavenges
 * are then frequent and cheap), and the old one is collected when it grew by a quarter.
 */
import v8 from 'node:v8';

/** The V8 flags `boundHeapGrowth` sets. */
export const HEAP_FLAGS = '--semi-space-growth-factor=1 --heap-growing-percent=25';

let bounded = false;

/** Sets HEAP_FLAGS once per process (a run calls it before its first request). */
export function boundHeapGrowth(): void {
  if (bounded) return;
  bounded = true;
  v8.setFlagsFromString(HEAP_FLAGS);
}
