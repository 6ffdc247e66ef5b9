/**
 * Server-side printing: the meta.k8s.io/v1 Table that kubectl asks for (Accept: ...;as=Table)
 * to show `kubectl get` columns. Cells follow kubectl's printers for the kinds served.
 */
import type { ResourceInfo } from './resources.ts';
import type { KObject } from './selectors.ts';

interface Column { name: string; type: string; format?: string; priority?: number; description?: string }

/** Go's duration.HumanDuration, as kubectl prints AGE. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  return `${Math.floor(h / 24 / 365)}y`;
}

function age(o: KObject): string {
  const t = Date.parse(String(o.metadata.creationTimestamp ?? ''));
  return Number.isNaN(t) ? '<unknown>' : humanDuration(Date.now() - t);
}

interface CS { ready?: boolean; restartCount?: number; state?: { waiting?: { reason?: string }; running?: unknown; terminated?: { reason?: string; exitCode?: number; signal?: number } } }

/** kubectl's STATUS column for a pod. */
export function podStatus(pod: KObject): { ready: string; status: string; restarts: number } {
  const status = (pod.status ?? {}) as { phase?: string; reason?: string; containerStatuses?: CS[]; initContainerStatuses?: CS[] };
  const spec = pod.spec as { containers?: unknown[]; initContainers?: unknown[] };
  let reason = status.reason || status.phase || '';
  let restarts = 0;
  let initializing = false;
  (status.initContainerStatuses ?? []).forEach((c, i) => {
    restarts += c.restartCount ?? 0;
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) return;
    if (t) reason = t.reason ? `Init:${t.reason}` : `Init:ExitCode:${t.exitCode}`;
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${spec.initContainers?.length ?? 0}`;
    initializing = true;
  });
  let ready = 0;
  let hasRunning = false;
  if (!initializing) {
    for (const c of [...(status.containerStatuses ?? [])].reverse()) {
      restarts += c.restartCount ?? 0;
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
      else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata.deletionTimestamp) reason = 'Terminating';
  return { ready: `${ready}/${spec.containers?.length ?? 0}`, status: reason, restarts };
}

function columnsFor(res: ResourceInfo): { columns: Column[]; cells: (o: KObject) => unknown[] } {
  const name: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
  const ageCol: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };
  switch (res.plural) {
    case 'pods':
      return {
        columns: [name, { name: 'Ready', type: 'string' }, { name: 'Status', type: 'string' }, { name: 'Restarts', type: 'string' }, ageCol,
          { name: 'IP', type: 'string', priority: 1 }, { name: 'Node', type: 'string', priority: 1 }, { name: 'Nominated Node', type: 'string', priority: 1 }, { name: 'Readiness Gates', type: 'string', priority: 1 }],
        cells: (o) => {
          const s = podStatus(o);
          const st = (o.status ?? {}) as { podIP?: string };
          return [o.metadata.name, s.ready, s.status, String(s.restarts), age(o), st.podIP || '<none>', (o.spec as { nodeName?: string }).nodeName || '<none>', '<none>', '<none>'];
        },
      };
    case 'namespaces':
      return { columns: [name, { name: 'Status', type: 'string' }, ageCol], cells: (o) => [o.metadata.name, (o.status as { phase?: string })?.phase ?? '', age(o)] };
    case 'nodes':
      return { columns: [name, { name: 'Status', type: 'string' }, { name: 'Roles', type: 'string' }, ageCol, { name: 'Version', type: 'string' }], cells: (o) => [o.metadata.name, 'Ready', '<none>', age(o), 'v1.32.0-sandbox'] };
    case 'configmaps':
      return { columns: [name, { name: 'Data', type: 'integer' }, ageCol], cells: (o) => [o.metadata.name, Object.keys((o.data ?? {}) as object).length + Object.keys((o.binaryData ?? {}) as object).length, age(o)] };
    case 'secrets':
      return { columns: [name, { name: 'Type', type: 'string' }, { name: 'Data', type: 'integer' }, ageCol], cells: (o) => [o.metadata.name, o.type ?? '', Object.keys((o.data ?? {}) as object).length, age(o)] };
    case 'leases':
      return { columns: [name, { name: 'Holder', type: 'string' }, ageCol], cells: (o) => [o.metadata.name, (o.spec as { holderIdentity?: string })?.holderIdentity ?? '', age(o)] };
    case 'events':
      return {
        columns: [{ name: 'Last Seen', type: 'string' }, { name: 'Type', type: 'string' }, { name: 'Reason', type: 'string' }, { name: 'Object', type: 'string' }, { name: 'Message', type: 'string' }],
        cells: (o) => {
          const io = o.involvedObject as { kind?: string; name?: string };
          const t = Date.parse(String(o.lastTimestamp ?? o.metadata.creationTimestamp));
          return [Number.isNaN(t) ? '<unknown>' : humanDuration(Date.now() - t), o.type, o.reason, `${(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`, o.message];
        },
      };
    default:
      return { columns: [name, ageCol], cells: (o) => [o.metadata.name, age(o)] };
  }
}

/** Whether the Accept header asks for a Table. */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept.split(',')[0] ?? '');
}

/** A Table of objects; `withColumns` false for watch events after the first. */
export function toTable(res: ResourceInfo, objects: KObject[], resourceVersion: string, includeObject: string | null, withColumns = true): unknown {
  const { columns, cells } = columnsFor(res);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    ...(withColumns ? { columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 })) } : {}),
    rows: objects.map((o) => ({
      cells: cells(o),
      object: includeObject === 'None' ? null : includeObject === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
