/**
 * The preflight's one admission check that is cheap and exact: every ServiceAccount the spec names
 * (`pod.serviceAccountName`) exists in the namespace. The ServiceAccount admission plugin refuses
 * a pod whose ServiceAccount is missing (403), so a run would otherwise start, create the pods of
 * the tasks before it, and fail that task only when its turn comes.
 *
 * It costs one read per distinct ServiceAccount named (none for a spec that names none: the
 * namespace's `default` is Kubernetes' own), once per run, whatever the number of tasks. It runs
 * only when the rules the preflight already read show `get serviceaccounts` granted: no request is
 * spent on a 403, and a Role without that rule (the minimal Role) hears nothing of it. A read that
 * fails for any other reason says nothing either: the create still meets the plugin.
 */
import type { DagSpec } from '../spec/types.ts';
import type { KubeClient } from './client.ts';
import { classifyError } from './errors.ts';

/** A ServiceAccount the spec names, and the tasks that name it (with where each is in the spec). */
export interface ServiceAccountUse {
  name: string;
  tasks: { id: string; line: number; col: number }[];
}

/** The permission the check needs; granted by `{apiGroups: [""], resources: [serviceaccounts], verbs: [get]}`. */
export const SERVICE_ACCOUNT_READ = { verb: 'get', resource: 'serviceaccounts' } as const;

/** Every ServiceAccount the spec's tasks name, in the order first named. */
export function serviceAccountUses(spec: Pick<DagSpec, 'tasks'>): ServiceAccountUse[] {
  const uses = new Map<string, ServiceAccountUse>();
  for (const task of spec.tasks) {
    const name = task.pod.serviceAccountName;
    if (name === undefined || name === '') continue;
    const use = uses.get(name) ?? { name, tasks: [] };
    use.tasks.push({ id: task.id, line: task.pos.line, col: task.pos.col });
    uses.set(name, use);
  }
  return [...uses.values()];
}

/**
 * The ServiceAccounts of `uses` that do not exist in `namespace`, each as a sentence naming the
 * tasks and what to do; `[]` when all exist, or when the check cannot run (see the module's
 * comment). `canRead` says whether the credentials may get ServiceAccounts there.
 */
export async function missingServiceAccounts(client: KubeClient, namespace: string, uses: ServiceAccountUse[], canRead: boolean, file: string): Promise<string[]> {
  if (!canRead || uses.length === 0) return [];
  const found = await Promise.all(
    uses.map(async (use) => {
      try {
        await client.request(`get serviceaccount ${use.name}`, () => client.core.readNamespacedServiceAccount({ name: use.name, namespace }));
        return null;
      } catch (err) {
        return classifyError(err).kind === 'not-found' ? use : null;
      }
    }),
  );
  return found
    .filter((use): use is ServiceAccountUse => use !== null)
    .map((use) => {
      const tasks = use.tasks.map((t) => `"${t.id}" (${file}:${t.line}:${t.col})`).join(', ');
      return `ServiceAccount "${use.name}" does not exist in namespace "${namespace}", and pod.serviceAccountName of task${use.tasks.length > 1 ? 's' : ''} ${tasks} names it: the cluster's ServiceAccount admission would refuse ${use.tasks.length > 1 ? 'their pods' : 'its pod'}. Create it (kubectl -n ${namespace} create serviceaccount ${use.name}) or correct pod.serviceAccountName in the spec.`;
    });
}
