/**
 * How V8 sizes the heap of a run. A run allocates a few hundred kilobytes per task that live for
 * milliseconds (HTTP requests and responses, watch events, log chunks), and V8 sizes its young
 * generation by the machine's memory: on a runner with 16 GB it grows to 128 MB of semi-spaces,
 * and the old generation is let grow to about three times what it holds before it is collected.
 * That is most of the peak RSS of a wide DAG (BENCHMARKS.md, row 2), memory a runner shares with
 * the job's other steps. The action cannot pass V8 flags at start-up (`runs.using: node24` runs
 * dist/index.js as it is), but these two are read by V8 each time it resizes, so setting them
 * once the process runs takes effect: the young generation stays at its size (scavenges are
 * then frequent and cheap), and the old one is collected when it grew by a quarter.
 *
 * The young generation has already grown by then: loading the run path (client-node and the
 * action, megabytes of source and code) takes it from 1 MB to tens of MB of semi-spaces before
 * the run starts, and a run of many tasks fills it all between scavenges, so it stays in RSS
 * (measured: a 2,000-task run peaks ~60 MB lower with `--max-semi-space-size=4`, at the same
 * speed). So the run starts with one collection that gives memory back (V8's `LowMemoryNotification`,
 * the "last-resort" flavour of `gc()`): it shrinks the young generation to its first size and
 * compacts the old one. The semi-spaces then double only while they are below a few MB.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

const OLD_GENERATION_FLAG = '--heap-growing-percent=25';
const YOUNG_GENERATION_FLAG = '--semi-space-growth-factor=1';
/** The V8 flags `boundHeapGrowth` sets: the second once the young generation reached YOUNG_BYTES. */
export const HEAP_FLAGS = `${OLD_GENERATION_FLAG} ${YOUNG_GENERATION_FLAG}`;

/**
 * The young generation's size (`new_space`, as `v8.getHeapSpaceStatistics` reports it) at which
 * its growth stops: 4 MB semi-spaces, as `--max-semi-space-size=4`, which the wide DAG runs as
 * fast with as with 16 MB (fewer scavenges save less than the larger space costs in cache misses).
 */
export const YOUNG_BYTES = 4 * 2 ** 20;

let bounded = false;

/** The young generation's size now, in bytes. */
function youngBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * A collection that gives memory back to the system (shrinks the young generation to its first
 * size). V8 offers it to JS only through `gc()`, which `--expose-gc` installs in contexts created
 * after it is set: one such context is made to fetch it, and the flag is unset again.
 */
function collectGivingMemoryBack(): void {
  v8.setFlagsFromString('--expose-gc');
  let gc: unknown;
  try {
    gc = vm.runInNewContext('gc');
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc === 'function') (gc as (o: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Stops the young generation's growth once it reached `bytes`. */
function stopGrowthAt(bytes: number): void {
  if (youngBytes() >= bytes) {
    v8.setFlagsFromString(YOUNG_GENERATION_FLAG);
    return;
  }
  // Scavenges grow it: look after each, and stop looking once it is big enough.
  const observer = new PerformanceObserver(() => {
    if (youngBytes() < bytes) return;
    v8.setFlagsFromString(YOUNG_GENERATION_FLAG);
    observer.disconnect();
  });
  observer.observe({ entryTypes: ['gc'] });
}

/**
 * Once per process (a run calls it before its first request): gives back the young generation
 * that loading the modules grew, and bounds the heap's growth from then on (see above).
 */
export function boundHeapGrowth(): void {
  if (bounded) return;
  bounded = true;
  v8.setFlagsFromString(OLD_GENERATION_FLAG);
  collectGivingMemoryBack();
  stopGrowthAt(YOUNG_BYTES);
}
