/**
 * Peak memory of a process tree, sampled from /proc: every `intervalMs` it finds the roots'
 * descendants (every process whose parent chain reaches a root) and adds up their resident set
 * (VmRSS) and their proportional share (Pss, from smaps_rollup: pages shared between forked
 * processes counted once in all). Airflow's scheduler forks its executor's workers and each task's
 * processes, so RSS summed over them counts shared pages many times; PSS does not.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Peaks seen by a sampler, in MB. */
export interface MemoryPeak {
  rssMB: number;
  pssMB: number;
  /** The most processes seen at once. */
  processes: number;
  samples: number;
}

function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.set(Number(d), ppid);
    } catch {
      // Exited between the listing and the read.
    }
  }
  return out;
}

function kB(file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The roots and all their descendants that are alive now. */
export function processTree(roots: number[]): number[] {
  const pp = parents();
  const inTree = new Set(roots.filter((r) => pp.has(r)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of pp) {
      if (!inTree.has(pid) && inTree.has(ppid)) {
        inTree.add(pid);
        grew = true;
      }
    }
  }
  return [...inTree];
}

/** Samples the trees of `roots()` until `stop()`, which returns the peaks. */
export function sampleMemory(roots: () => number[], intervalMs = 500): { stop(): MemoryPeak } {
  const peak: MemoryPeak = { rssMB: 0, pssMB: 0, processes: 0, samples: 0 };
  const sample = (): void => {
    const pids = processTree(roots());
    let rss = 0;
    let pss = 0;
    for (const pid of pids) {
      rss += kB(`/proc/${pid}/status`, 'VmRSS');
      pss += kB(`/proc/${pid}/smaps_rollup`, 'Pss');
    }
    peak.rssMB = Math.max(peak.rssMB, rss / 1024);
    peak.pssMB = Math.max(peak.pssMB, pss / 1024);
    peak.processes = Math.max(peak.processes, pids.length);
    peak.samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
