/**
 * The post step's sweep: whatever happened to the main step (cancelled, crashed, killed), the
 * pods of its run attempt that keep-pods does not keep are deleted, except finished pods whose
 * ends the main step may not have recorded yet (it records them in batches, just before their
 * pods are deleted): such a pod is the only record of its task's end, and a re-run of the job
 * records and reuses it (src/kube/earlier-attempts.ts), so it stays.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { KeepPods } from '../common/run.ts';
import { containerTerminated } from './classify.ts';
import { classifyError, describeError } from './errors.ts';
import type { PodApi } from './pod-api.ts';
import type { PodProof } from './pod-proof.ts';

/**
 * The post step's sweep: deletes every pod matching `selector` (this run's pods) in `namespace`
 * (with `keepPods`, the ended pods that policy keeps stay). With `proof`, a pod that has the
 * labels but not the proof of the run (src/kube/pod-proof.ts) is not the run's: it is left alone
 * and named in `foreign`, with why. Unless `recorded` (the main step ended and recorded every
 * attempt), ended pods stay and are named in `unrecorded`.
 * Never throws: problems come back as warnings for the caller to print.
 */
export async function cleanupRun(
  api: PodApi,
  namespace: string,
  selector: string,
  options: { keepPods?: KeepPods; proof?: PodProof; recorded?: boolean } = {},
): Promise<{ deleted: string[]; warnings: string[]; foreign: { name: string; problem: string }[]; unrecorded: string[] }> {
  const deleted: string[] = [];
  const unrecorded: string[] = [];
  const warnings: string[] = [];
  const foreign: { name: string; problem: string }[] = [];
  let pods: V1Pod[];
  try {
    pods = (await api.list(namespace, selector)).items;
  } catch (err) {
    return { deleted, foreign, unrecorded, warnings: [describeError(err, `list the run's pods (${selector}) in namespace ${namespace}`, api.server)] };
  }
  await Promise.all(
    pods.map(async (p) => {
      const name = p.metadata?.name ?? '';
      if (p.metadata?.deletionTimestamp) return;
      const proven = options.proof?.verify(p);
      if (proven !== undefined && !proven.ok) {
        foreign.push({ name, problem: proven.problem });
        return;
      }
      // Pods kept on purpose have ended: failed ones with keep-pods on-failure, every ended one
      // with always. Live leftovers (and, with on-failure, succeeded pods a crash left) go.
      const phase = p.status?.phase;
      // `recorded`: the main step ended having written every attempt's end into the run's state.
      // Otherwise (killed, crashed) an ended pod may be all that says how its task ended: deleting
      // it would make a re-run run a task that succeeded. It stays for the re-run to record.
      if (options.recorded !== true && (phase === 'Succeeded' || phase === 'Failed' || containerTerminated(p))) {
        unrecorded.push(name);
        return;
      }
      if (options.keepPods === 'always' && (phase === 'Succeeded' || phase === 'Failed')) return;
      if (options.keepPods === 'on-failure' && phase === 'Failed') return;
      try {
        await api.delete(namespace, name, { gracePeriodSeconds: 2 });
        deleted.push(name);
      } catch (err) {
        if (classifyError(err).kind !== 'not-found') warnings.push(describeError(err, `delete pod ${name} in namespace ${namespace}`, api.server));
      }
    }),
  );
  return { deleted: deleted.sort(), unrecorded: unrecorded.sort(), warnings, foreign: foreign.sort((a, b) => (a.name < b.name ? -1 : 1)) };
}
