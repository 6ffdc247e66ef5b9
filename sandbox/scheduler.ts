/**
 * The scheduler's filter step for the plugins a pod runner meets: node selector, required node
 * affinity, taints and tolerations, and resource fit. The message for a pod that fits nowhere
 * is assembled as kube-scheduler assembles it (counts per reason, sorted).
 */
import { parseQuantity } from './quantity.ts';

/** A node of the sandbox cluster. */
export interface NodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  /**
   * Allocatable resources, as quantities: cpu, memory, pods (default 64 cores, 256Gi, 10000 pods),
   * and any extended resource (e.g. "nvidia.com/gpu": "1"; none unless given).
   */
  allocatable?: { cpu?: string; memory?: string; pods?: string; [extended: string]: string | undefined };
}

interface Toleration { key?: string; operator?: string; value?: string; effect?: string }
interface Expr { key: string; operator: string; values?: string[] }
interface Term { matchExpressions?: Expr[]; matchFields?: Expr[] }

/** The parts of a pod spec the scheduler reads. */
export interface SchedPod {
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Term[] } } };
  tolerations?: Toleration[];
  containers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
  initContainers?: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
}

const BASIC = new Set(['cpu', 'memory', 'pods', 'ephemeral-storage']);

/** A container's extended resources (e.g. nvidia.com/gpu): requests, which default to limits as the API server defaults them. */
function extendedOf(c: { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }): [string, number][] {
  const all = { ...c.resources?.limits, ...c.resources?.requests };
  return Object.entries(all).filter(([k]) => !BASIC.has(k) && !k.startsWith('hugepages-')).map(([k, v]) => [k, parseQuantity(v) ?? 0]);
}

/** Resources a pod asks for: the larger of the sum over containers and the largest init container. */
export function podRequests(spec: SchedPod): { cpu: number; memory: number; extended: Record<string, number> } {
  const sum = { cpu: 0, memory: 0, extended: {} as Record<string, number> };
  for (const c of spec.containers ?? []) {
    sum.cpu += parseQuantity(c.resources?.requests?.cpu) ?? 0;
    sum.memory += parseQuantity(c.resources?.requests?.memory) ?? 0;
    for (const [k, n] of extendedOf(c)) sum.extended[k] = (sum.extended[k] ?? 0) + n;
  }
  for (const c of spec.initContainers ?? []) {
    sum.cpu = Math.max(sum.cpu, parseQuantity(c.resources?.requests?.cpu) ?? 0);
    sum.memory = Math.max(sum.memory, parseQuantity(c.resources?.requests?.memory) ?? 0);
    for (const [k, n] of extendedOf(c)) sum.extended[k] = Math.max(sum.extended[k] ?? 0, n);
  }
  return sum;
}

function exprMatches(e: Expr, value: string | undefined): boolean {
  const values = e.values ?? [];
  switch (e.operator) {
    case 'In': return value !== undefined && values.includes(value);
    case 'NotIn': return value === undefined || !values.includes(value);
    case 'Exists': return value !== undefined;
    case 'DoesNotExist': return value === undefined;
    case 'Gt': return value !== undefined && Number(value) > Number(values[0]);
    case 'Lt': return value !== undefined && Number(value) < Number(values[0]);
    default: return false;
  }
}

function affinityMatches(spec: SchedPod, node: NodeSpec): boolean {
  const labels = node.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!terms || terms.length === 0) return true;
  return terms.some((t) =>
    (t.matchExpressions ?? []).every((e) => exprMatches(e, labels[e.key])) &&
    (t.matchFields ?? []).every((e) => exprMatches(e, e.key === 'metadata.name' ? node.name : undefined)),
  );
}

function tolerates(tolerations: Toleration[], taint: NonNullable<NodeSpec['taints']>[number]): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/** What is already placed on a node. */
export interface NodeUsage { cpu: number; memory: number; pods: number; extended?: Record<string, number> }

/** A node's extended resources (e.g. nvidia.com/gpu), as given: its capacity and allocatable beside cpu, memory and pods. */
export function extendedAllocatable(node: NodeSpec): Record<string, string> {
  return Object.fromEntries(Object.entries(node.allocatable ?? {}).filter((e): e is [string, string] => !BASIC.has(e[0]) && e[1] !== undefined));
}

/** The node's allocatable resources as numbers. */
export function allocatable(node: NodeSpec): { cpu: number; memory: number; pods: number } {
  return {
    cpu: parseQuantity(node.allocatable?.cpu ?? '64') ?? 64,
    memory: parseQuantity(node.allocatable?.memory ?? '256Gi') ?? 256 * 2 ** 30,
    pods: parseQuantity(node.allocatable?.pods ?? '10000') ?? 10000,
  };
}

/** The node the pod goes to, or the scheduler's "0/N nodes are available" message. */
export function schedule(
  spec: SchedPod,
  nodes: NodeSpec[],
  usage: (node: string) => NodeUsage,
  neverFits: boolean,
): { node: string } | { message: string } {
  const reasons = new Map<string, number>();
  let resourceFailures = 0;
  const add = (r: string): void => {
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  };
  const want = podRequests(spec);
  for (const node of nodes) {
    if (neverFits || !affinityMatches(spec, node)) {
      add("node(s) didn't match Pod's node affinity/selector");
      continue;
    }
    const taint = (node.taints ?? []).find((t) => t.effect !== 'PreferNoSchedule' && !tolerates(spec.tolerations ?? [], t));
    if (taint) {
      add(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`);
      continue;
    }
    const used = usage(node.name);
    const cap = allocatable(node);
    const insufficient: string[] = [];
    if (used.pods + 1 > cap.pods) insufficient.push('Too many pods');
    if (want.cpu > 0 && used.cpu + want.cpu > cap.cpu + 1e-9) insufficient.push('Insufficient cpu');
    if (want.memory > 0 && used.memory + want.memory > cap.memory) insufficient.push('Insufficient memory');
    for (const [k, n] of Object.entries(want.extended)) {
      if (n > 0 && (used.extended?.[k] ?? 0) + n > (parseQuantity(node.allocatable?.[k]) ?? 0)) insufficient.push(`Insufficient ${k}`);
    }
    if (insufficient.length) {
      insufficient.forEach(add);
      resourceFailures++;
      continue;
    }
    return { node: node.name };
  }
  const parts = [...reasons].map(([r, n]) => `${n} ${r}`).sort();
  const total = nodes.length;
  const pre: string[] = [];
  if (resourceFailures) pre.push(`${resourceFailures} No preemption victims found for incoming pod`);
  if (total - resourceFailures) pre.push(`${total - resourceFailures} Preemption is not helpful for scheduling`);
  pre.sort();
  const head = total === 0 ? `0/0 nodes are available: no nodes available to schedule pods.` : `0/${total} nodes are available: ${parts.join(', ')}.`;
  return { message: total === 0 ? head : `${head} preemption: 0/${total} nodes are available: ${pre.join(', ')}.` };
}
