/**
 * One attempt's pod, rendered from its TaskSpec: the manifest, its deterministic name and labels,
 * and the parsing of the outputs the task leaves in its termination message.
 *
 * Pure: no I/O. Templates are rendered by a function the caller passes in, so the engine renders
 * with real upstream outputs and `plan` renders with placeholders.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvFromSource, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { runUrl } from '../common/links.ts';
import { canonicalJson } from '../common/canonical-json.ts';
import { effectiveRunId, runScope, type RunContext } from '../common/run.ts';
import { renderTemplate, type TemplateContext } from '../spec/template.ts';
import type { DagSpec, Template, TaskSpec } from '../spec/types.ts';
import { reservedNameProblem } from '../spec/names.ts';

/** The value of `app.kubernetes.io/managed-by` on every pod we create. */
export const MANAGED_BY = 'pod-dag-action';

/** Label keys put on every pod. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  dag: 'pod-dag.io/dag',
  task: 'pod-dag.io/task',
  runId: 'pod-dag.io/run-id',
  runAttempt: 'pod-dag.io/run-attempt',
  /**
   * The run's scope (src/common/run.ts `runScope`): a hash of the job, the step, the matrix leg
   * and the `run-key`, so legs and steps of one workflow run running the same DAG stay apart.
   * Absent on the CLI's runs.
   */
  runScope: 'pod-dag.io/run-scope',
  taskAttempt: 'pod-dag.io/task-attempt',
  repository: 'pod-dag.io/repository',
  /** On a matrix instance's pod: the id of its matrix task (`pod-dag.io/task` is the instance id). */
  matrixTask: 'pod-dag.io/matrix-task',
  /** On a sensor's pod: which poke of the attempt it is. */
  poke: 'pod-dag.io/poke',
} as const;

/** Annotation keys put on every pod. */
export const ANNOTATIONS = {
  runUrl: 'pod-dag.io/run-url',
  repository: 'pod-dag.io/repository',
  sha: 'pod-dag.io/sha',
  workflow: 'pod-dag.io/workflow',
  /** The job's id (`GITHUB_JOB`). */
  job: 'pod-dag.io/job',
  /** The step's id (`GITHUB_ACTION`). */
  step: 'pod-dag.io/step',
  /** The matrix leg's values, as JSON with sorted keys. */
  matrixLeg: 'pod-dag.io/matrix-leg',
  /** The `run-key` input. */
  runKey: 'pod-dag.io/run-key',
  /** The hash of the pod as rendered (src/kube/pod-proof.ts): which spec its proof is for. */
  proofHash: 'pod-dag.io/proof-hash',
  /** The signature that proves this run created the pod (src/kube/pod-proof.ts). */
  proof: 'pod-dag.io/proof',
  /**
   * The fingerprint of the task the pod runs (src/dag/rerun.ts `taskFingerprint`, as JSON; env
   * values only as hashes): what a re-run compares with the spec it runs, for a pod whose end its
   * runner never recorded (src/kube/earlier-attempts.ts).
   */
  fingerprint: 'pod-dag.io/task-fingerprint',
} as const;

/** The name of the task's container in its pod. */
export const CONTAINER = 'main';

/** Where the task writes its outputs; Kubernetes' default termination message path. */
export const OUTPUT_PATH = '/dev/termination-log';

/** Kubernetes keeps at most this many bytes of a container's termination message. */
export const OUTPUT_LIMIT_BYTES = 4096;

/** What identifies one attempt's pod. */
export interface PodIdentity {
  dag: string;
  /** The GitHub run id (or the CLI's local run id). */
  runId: string;
  runAttempt: number;
  /** The run's scope (`runScope`: job, step, matrix leg, run-key), or null on the CLI. */
  scope?: string | null;
  /** The task id, or a matrix instance id (`<task>.<slug>-<hash>`). */
  task: string;
  attempt: number;
  /** A sensor's poke (1-based): each poke is a pod of its own, named `…-<attempt>-p<poke>`. */
  poke?: number;
}

const MAX_NAME = 63;

/**
 * The pod's name: `<dag>-<runId>-<scope>-<runAttempt>-<task>-<attempt>` (no `<scope>` on the
 * CLI; a sensor's poke adds `-p<poke>`), a valid DNS-1123 label of at
 * most 63 characters. When too long it is cut and ends with 8 hex digits of a hash of the full
 * name, so the same inputs always give the same name and different inputs (almost surely)
 * different names. The run attempt is in the name so that re-running a failed GitHub run never
 * adopts a kept pod of the earlier run attempt; the scope, so that two matrix legs (or two steps)
 * running the same DAG never share a pod.
 */
export function podName(id: PodIdentity): string {
  const scope = id.scope ? `-${id.scope}` : '';
  const full = sanitizeDnsLabel(`${id.dag}-${id.runId}${scope}-${id.runAttempt}-${id.task}-${id.attempt}${id.poke === undefined ? '' : `-p${id.poke}`}`);
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  const head = full.slice(0, MAX_NAME - hash.length - 1).replace(/-+$/, '');
  return `${head}-${hash}`;
}

function sanitizeDnsLabel(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * A valid label value from any string: at most 63 characters of `[A-Za-z0-9._-]`, starting and
 * ending with an alphanumeric. `owner/repo` becomes `owner_repo`. A value longer than 63 is cut
 * and ends with 8 hex digits of a hash of the whole, so two long values never share a label.
 */
export function labelValue(s: string): string {
  let v = s.replace(/[^A-Za-z0-9._-]+/g, '_');
  if (v.length > 63) v = `${v.slice(0, 54)}-${createHash('sha256').update(s).digest('hex').slice(0, 8)}`;
  v = v.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  return v;
}

/**
 * The label selector that matches every pod of one run attempt of a DAG (the watch's selector),
 * or, without `runAttempt`, of every attempt of the run; `scope` is the run's (`runScope`), null
 * on the CLI.
 */
export function runSelector(dag: string, runId: string, scope: string | null, runAttempt?: number): string {
  let run = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.dag}=${labelValue(dag)},${LABELS.runId}=${labelValue(runId)}`;
  if (scope) run += `,${LABELS.runScope}=${scope}`;
  return runAttempt === undefined ? run : `${run},${LABELS.runAttempt}=${runAttempt}`;
}

/** The label selector of one run attempt's pods (what the post step's sweep is given). */
export function runPodSelector(spec: Pick<DagSpec, 'name'>, context: RunContext, runId?: string): string {
  return runSelector(spec.name, effectiveRunId(context, runId), runScope(context), context.runAttempt);
}

/** The labels and annotations that say which job, step, matrix leg and run-key a pod (or the run's state) is of. */
export function scopeMetadata(context: RunContext): { labels: Record<string, string>; annotations: Record<string, string> } {
  const scope = runScope(context);
  const labels: Record<string, string> = scope === null ? {} : { [LABELS.runScope]: scope };
  const annotations: Record<string, string> = {};
  if (context.job) annotations[ANNOTATIONS.job] = context.job;
  if (context.step) annotations[ANNOTATIONS.step] = context.step;
  if (context.leg) annotations[ANNOTATIONS.matrixLeg] = canonicalJson(context.leg);
  if (context.runKey) annotations[ANNOTATIONS.runKey] = context.runKey;
  return { labels, annotations };
}

/** The URL of the GitHub run (src/common/links.ts: the summary gives the same), or null outside a workflow. */
export { runUrl };

/** Everything `renderPod` needs besides the task. */
export interface PodContext {
  spec: DagSpec;
  namespace: string;
  runId: string;
  context: RunContext;
  /** Renders a template with the params and upstream outputs known when the attempt starts. */
  render: (t: Template) => string;
  /** A matrix instance: its id (the pod's task) and its matrix task's id. */
  instance?: { id: string; group: string } | null;
  /** A sensor's poke (1-based). */
  poke?: number;
}

/**
 * The pod of one attempt. `restartPolicy: Never` (a retry is a new pod, decided by us, never
 * a kubelet restart); `activeDeadlineSeconds` from the task's timeout; the termination message
 * file is where outputs go (`POD_DAG_OUTPUT`), with policy `File` so a crash's log tail is not
 * mistaken for outputs.
 */
export function renderPod(task: TaskSpec, attempt: number, ctx: PodContext): V1Pod {
  const { spec, context } = ctx;
  const id = ctx.instance?.id ?? task.id;
  const scope = scopeMetadata(context);
  const name = podName({ dag: spec.name, runId: ctx.runId, scope: runScope(context), runAttempt: context.runAttempt, task: id, attempt, poke: ctx.poke });
  const labels: Record<string, string> = {
    ...(task.pod.labels ?? {}),
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.dag]: labelValue(spec.name),
    [LABELS.task]: labelValue(id),
    [LABELS.runId]: labelValue(ctx.runId),
    [LABELS.runAttempt]: String(context.runAttempt),
    [LABELS.taskAttempt]: String(attempt),
    ...scope.labels,
  };
  if (ctx.instance) labels[LABELS.matrixTask] = labelValue(ctx.instance.group);
  if (ctx.poke !== undefined) labels[LABELS.poke] = String(ctx.poke);
  if (context.repository) labels[LABELS.repository] = labelValue(context.repository);
  const annotations: Record<string, string> = { ...(task.pod.annotations ?? {}) };
  const url = runUrl(context);
  if (url) annotations[ANNOTATIONS.runUrl] = url;
  if (context.repository) annotations[ANNOTATIONS.repository] = context.repository;
  if (context.sha) annotations[ANNOTATIONS.sha] = context.sha;
  if (context.workflow) annotations[ANNOTATIONS.workflow] = context.workflow;
  Object.assign(annotations, scope.annotations);

  const env: V1EnvVar[] = task.env.map((e): V1EnvVar => {
    if ('value' in e) return { name: e.name, value: ctx.render(e.value) };
    if ('secret' in e) return { name: e.name, valueFrom: { secretKeyRef: { name: e.secret, key: e.key, optional: e.optional } } };
    return { name: e.name, valueFrom: { configMapKeyRef: { name: e.configMap, key: e.key, optional: e.optional } } };
  });
  // Ours last: a task cannot point POD_DAG_OUTPUT elsewhere by accident.
  env.push({ name: 'POD_DAG_OUTPUT', value: OUTPUT_PATH });
  const envFrom: V1EnvFromSource[] = task.envFrom.map((e): V1EnvFromSource => {
    const prefix = e.prefix ?? undefined;
    if ('secret' in e) return { prefix, secretRef: { name: e.secret, optional: e.optional } };
    return { prefix, configMapRef: { name: e.configMap, optional: e.optional } };
  });

  const container: V1Container = {
    name: CONTAINER,
    image: ctx.render(task.image),
    env,
    terminationMessagePath: OUTPUT_PATH,
    terminationMessagePolicy: 'File',
  };
  if (task.command) container.command = task.command.map(ctx.render);
  if (task.args) container.args = task.args.map(ctx.render);
  if (envFrom.length) container.envFrom = envFrom;
  if (task.workingDir) container.workingDir = task.workingDir;
  const { requests, limits } = task.resources;
  if (Object.keys(requests).length || Object.keys(limits).length) {
    container.resources = {};
    if (Object.keys(requests).length) container.resources.requests = { ...requests };
    if (Object.keys(limits).length) container.resources.limits = { ...limits };
  }
  if (task.pod.volumeMounts) container.volumeMounts = task.pod.volumeMounts as unknown as V1Container['volumeMounts'];
  if (task.pod.containerSecurityContext) container.securityContext = task.pod.containerSecurityContext as V1Container['securityContext'];

  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ctx.namespace, labels, annotations },
    spec: { restartPolicy: 'Never', containers: [container] },
  };
  const ps = pod.spec!;
  if (task.timeoutMs !== null) ps.activeDeadlineSeconds = Math.max(1, Math.ceil(task.timeoutMs / 1000));
  const o = task.pod;
  if (o.nodeSelector) ps.nodeSelector = { ...o.nodeSelector };
  if (o.affinity) ps.affinity = o.affinity as NonNullable<V1Pod['spec']>['affinity'];
  if (o.tolerations) ps.tolerations = o.tolerations as NonNullable<V1Pod['spec']>['tolerations'];
  if (o.serviceAccountName) ps.serviceAccountName = o.serviceAccountName;
  if (o.imagePullSecrets) ps.imagePullSecrets = o.imagePullSecrets.map((s) => ({ name: s.name }));
  if (o.volumes) ps.volumes = o.volumes as unknown as NonNullable<V1Pod['spec']>['volumes'];
  if (o.securityContext) ps.securityContext = o.securityContext as NonNullable<V1Pod['spec']>['securityContext'];
  if (o.priorityClassName) ps.priorityClassName = o.priorityClassName;
  return pod;
}

/** How templates are rendered: `renderTemplate` from src/spec/template.ts, or a stand-in. */
export type RenderFn = (t: Template, values: TemplateContext) => string;

/**
 * A render function for pods whose upstream outputs are not known yet (`plan`, `dry-run`): each
 * `{{ }}` that reads an upstream task (or a matrix not expanded yet) shows as `<its expression>`,
 * e.g. `<tasks.x.outputs.y>`; params, run dates and known matrix values are substituted.
 */
export function placeholderRender(
  params: Record<string, string>,
  render: RenderFn = renderTemplate,
  extra: Pick<TemplateContext, 'matrix' | 'run'> = {},
): (t: Template) => string {
  return (t) => render(t, { params, outputs: {}, placeholders: true, ...extra });
}

/**
 * The pods of attempt 1 of every task, for `plan` mode: upstream outputs are not known, so each
 * reference to one shows as `<tasks.x.outputs.y>`. A matrix written out shows one pod per
 * combination; a computed one, one pod whose matrix values show as `<matrix.key>`.
 */
export function renderPlanPods(
  spec: DagSpec,
  params: Record<string, string>,
  context: RunContext & { namespace?: string | null },
  render: RenderFn = renderTemplate,
  run: Record<string, string> | null = null,
): V1Pod[] {
  const runId = context.runId ?? 'plan';
  const namespace = context.namespace ?? spec.namespace ?? 'default';
  return spec.tasks.flatMap((task) => {
    const poke = task.sensor ? 1 : undefined;
    const matrix = task.strategy?.matrix;
    if (matrix?.kind === 'static') {
      return matrix.instances.map((i) =>
        renderPod(task, 1, { spec, namespace, runId, context, poke, instance: { id: i.id, group: task.id }, render: placeholderRender(params, render, { matrix: i.values, run }) }),
      );
    }
    return [renderPod(task, 1, { spec, namespace, runId, context, poke, render: placeholderRender(params, render, { run }) })];
  });
}

/** The result of reading a termination message as outputs. */
export type ParsedOutputs = { ok: true; outputs: Record<string, string> } | { ok: false; error: string };

/**
 * Parses the `name=value` lines a task wrote to POD_DAG_OUTPUT, and GitHub's multi-line form:
 *
 *     name<<EOF
 *     line 1
 *     line 2
 *     EOF
 *
 * Blank lines are ignored. A message of 4 KiB or more is an error: Kubernetes cuts the file at
 * 4096 bytes, so such outputs may have been truncated and must not be trusted.
 */
export function parseOutputs(message: string | null | undefined, task: string): ParsedOutputs {
  if (!message) return { ok: true, outputs: {} };
  const bytes = Buffer.byteLength(message, 'utf8');
  if (bytes >= OUTPUT_LIMIT_BYTES) {
    return {
      ok: false,
      error: `task "${task}" wrote ${bytes} bytes to POD_DAG_OUTPUT; Kubernetes keeps at most ${OUTPUT_LIMIT_BYTES} bytes of a termination message, so its outputs may be cut off. Keep outputs small (names, ids, paths) and pass large data through storage.`,
    };
  }
  const outputs: Record<string, string> = {};
  const lines = message.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const heredoc = /^([A-Za-z_][A-Za-z0-9_.-]*)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const body: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delim) {
          closed = true;
          break;
        }
        body.push(lines[i]!);
      }
      const reserved = reservedOutput(task, name!);
      if (reserved !== null) return reserved;
      if (!closed) {
        return { ok: false, error: `task "${task}" wrote output "${name}" in the ${name}<<${delim} form to POD_DAG_OUTPUT, but no line "${delim}" ends it.` };
      }
      outputs[name!] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      return {
        ok: false,
        error: `task "${task}" wrote line ${i + 1} of POD_DAG_OUTPUT as ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}; expected name=value (a name of letters, digits, '_', '-', '.') or name<<DELIMITER for a multi-line value.`,
      };
    }
    const reserved = reservedOutput(task, name);
    if (reserved !== null) return reserved;
    outputs[name] = line.slice(eq + 1);
  }
  return { ok: true, outputs };
}

/** A task error for an output name JavaScript reserves (it would be dropped, or worse, if stored). */
function reservedOutput(task: string, name: string): ParsedOutputs | null {
  const problem = reservedNameProblem(name);
  return problem === null ? null : { ok: false, error: `task "${task}" wrote output ${problem.replace('choose another name', 'write it under another name')} to POD_DAG_OUTPUT.` };
}
