/**
 * The validated DAG spec: what `parseSpec` returns when a spec file is valid.
 *
 * This is the contract between the spec layer (which builds it from YAML), the scheduler
 * (which decides what runs), the pod builder (which renders pods) and the reports. Everything
 * here is plain data: no classes, no functions, so it can be snapshotted and compared.
 *
 * Defaults are already merged into every task (the task's own fields win), durations are in
 * milliseconds, and every task carries the source position of its definition so an annotation
 * can point at it.
 */

/** A 1-based line and column in the spec file. */
export interface SourcePos {
  line: number;
  col: number;
}

/** Every way an attempt can end. See DESIGN.md, "Failure classes". */
export type AttemptClass = 'succeeded' | 'failed' | 'infrastructure' | 'configuration' | 'timeout' | 'cancelled';

/** The classes that are failures, i.e. every class but `succeeded`. */
export type FailureClass = Exclude<AttemptClass, 'succeeded'>;

/** The failure classes a user may list in `retries.on`; the others have fixed rules. */
export type RetryableClass = 'failed' | 'timeout';

/**
 * A string that may contain `{{ }}` expressions (`{{ params.x }}`, `{{ tasks.<id>.outputs.<name> }}`,
 * `{{ matrix.<key> }}`, `{{ run.date }}`, any GitHub expression).
 * It is kept as written; `renderTemplate` in src/spec/template.ts substitutes the values when a
 * task starts. Validation has already checked that every reference names a known param or an
 * output of an upstream task.
 */
export type Template = string;

/** One environment variable of a task. */
export type EnvVar =
  | { name: string; value: Template }
  | { name: string; secret: string; key: string; optional: boolean }
  | { name: string; configMap: string; key: string; optional: boolean };

/** One `envFrom` source: every key of a Secret or ConfigMap becomes a variable. */
export type EnvFromSource =
  | { secret: string; prefix: string | null; optional: boolean }
  | { configMap: string; prefix: string | null; optional: boolean };

/** Compute resources, as Kubernetes quantities (`"500m"`, `"4Gi"`, `"1"` for `nvidia.com/gpu`). */
export interface Resources {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

/**
 * When and how a failed attempt is tried again.
 *
 * - `limit` retries after the first attempt for failures whose class is in `on`
 *   (default `['failed']`; `timeout` may be added).
 * - Infrastructure failures (evicted, preempted, node lost, pod deleted by someone else) are
 *   always retried, on their own budget of `infrastructure` retries that does not use up `limit`.
 * - Configuration failures and cancellation are never retried.
 * - Retry n (1-based, counting every retry of the task whatever its class) waits
 *   `min(delayMs * backoff^(n-1), maxDelayMs)`.
 */
export interface RetryPolicy {
  limit: number;
  delayMs: number;
  backoff: number;
  maxDelayMs: number;
  on: RetryableClass[];
  infrastructure: number;
}

/**
 * Pod-spec fields merged into the task's pod. They are Kubernetes objects and are passed
 * through as written: the spec's schema checks their outer shape, src/spec/k8s/check.ts every
 * field against the pinned release's OpenAPI schema, the cluster the rest (which `dry-run`
 * exercises). `labels` and `annotations` go on the pod's metadata.
 */
export interface PodOverrides {
  nodeSelector?: Record<string, string>;
  affinity?: Record<string, unknown>;
  tolerations?: Record<string, unknown>[];
  serviceAccountName?: string;
  imagePullSecrets?: { name: string }[];
  volumes?: Record<string, unknown>[];
  volumeMounts?: Record<string, unknown>[];
  securityContext?: Record<string, unknown>;
  containerSecurityContext?: Record<string, unknown>;
  priorityClassName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * A task's `if:` condition, as written (optionally in `${{ }}`). It is a GitHub expression
 * (src/spec/expression.ts parses it with `@actions/expressions`); validation has checked that it
 * parses and that every reference names a declared param or a task upstream.
 */
export interface Condition {
  source: string;
}

/** A JSON value, as a matrix holds them. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One combination of a matrix: its instance id and its values (`{{ matrix.<key> }}`). */
export interface MatrixInstance {
  /**
   * `<task>.<slug>-<hash>`: deterministic from the task id and the values, at most 63 characters
   * of `a-z 0-9 - .` (a valid label value; the "." keeps it apart from every task id).
   */
  id: string;
  values: Record<string, JsonValue>;
}

/** A matrix written out in the spec, expanded as GitHub expands `strategy.matrix`. */
export interface StaticMatrix {
  kind: 'static';
  /** The combinations in GitHub's order (the first key varies slowest; new `include` entries last). */
  instances: MatrixInstance[];
}

/** A matrix computed when the task's upstream has finished: `"{{ fromJSON(tasks.plan.outputs.m) }}"`. */
export interface DynamicMatrix {
  kind: 'dynamic';
  /** One `{{ }}` whose value is a matrix map (lists per key, `include`, `exclude`). */
  template: Template;
}

/** `strategy:` of a task, as on a GitHub job. */
export interface Strategy {
  matrix: StaticMatrix | DynamicMatrix;
  /** At most this many instances of the task run at once; 0: no limit of its own. */
  maxParallel: number;
  /** When an instance fails, cancel the instances that run and start no more (default true, as on GitHub). */
  failFast: boolean;
}

/** `sensor:` of a task: its container is run every `intervalMs` until it exits 0 or `timeoutMs` passes. */
export interface SensorSpec {
  intervalMs: number;
  /** Counted from the task's first poke; retries do not extend it. */
  timeoutMs: number;
  /** `fail`: the task fails with class `timeout`; `skip`: it is `skipped` (Airflow's soft_fail). */
  onTimeout: 'fail' | 'skip';
  /** Exit codes that mean "not yet": poke again later (default [75], EX_TEMPFAIL). */
  notYetExitCodes: number[];
}

/** One task, defaults merged in. */
export interface TaskSpec {
  /** The task's key under `tasks:`; a valid Kubernetes label value (lowercase DNS label, <= 40 chars). */
  id: string;
  /** Direct upstream tasks, in the order written. */
  needs: string[];
  /** The `if:` condition; `null` means the default, `success()`. */
  if: Condition | null;
  image: Template;
  /** The container's entrypoint override; `null` keeps the image's ENTRYPOINT. */
  command: Template[] | null;
  /** The container's arguments; `null` keeps the image's CMD. */
  args: Template[] | null;
  env: EnvVar[];
  envFrom: EnvFromSource[];
  workingDir: string | null;
  resources: Resources;
  retries: RetryPolicy;
  /** Wall-clock limit of one attempt once it runs (the pod's activeDeadlineSeconds); `null`: none. */
  timeoutMs: number | null;
  /** How long an attempt may stay Pending (unschedulable, pulling) before it is a `timeout`. */
  startTimeoutMs: number;
  pod: PodOverrides;
  /** `strategy:` (matrix, max-parallel, fail-fast); absent or `null`: one instance. */
  strategy?: Strategy | null;
  /** `sensor:`; absent or `null`: an ordinary task. */
  sensor?: SensorSpec | null;
  /** Where the task's key is in the spec file. */
  pos: SourcePos;
}

/** A declared param. `default: null` with `required: true` means the caller must give it. */
export interface ParamSpec {
  name: string;
  default: string | null;
  required: boolean;
  description: string | null;
}

/** A whole validated spec. */
export interface DagSpec {
  version: 1;
  /** The DAG's name; a lowercase DNS label (<= 40 chars), used in pod names and labels. */
  name: string;
  /** The namespace from the spec, or `null` to take it from the action's input or the kubeconfig. */
  namespace: string | null;
  params: ParamSpec[];
  /** Tasks in the order they are written in the file. */
  tasks: TaskSpec[];
  /** Limit for the whole run; `null`: none. */
  timeoutMs: number | null;
  /** The path the spec was read from, as given (used in annotations). */
  file: string;
}

/** One problem found in a spec, with where it is. */
export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  /** A path into the document, e.g. `tasks.migrate-data.retries.limit`. */
  path: string;
  /** What was wrong, what was expected and what was found, and (where possible) what to do. */
  message: string;
}
