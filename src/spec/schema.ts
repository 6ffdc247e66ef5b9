/**
 * The zod schema of a spec file as the user writes it (before defaults are merged and
 * durations converted). It is the single source of truth for the file format: `parseSpec`
 * validates with it, and scripts/gen-schema.mjs turns it into schema/pod-dag.schema.json so
 * editors complete and check specs.
 *
 * Every object is strict (an unknown key is an error: a typo like `need:` must not pass
 * silently), but for the top level's `x-` extension fields (`EXTENSION_KEY`). Each leaf schema
 * carries an `error` that states what was expected; parse.ts adds the path, the position and
 * what was found.
 *
 * Defaults such as `retries.limit: 0` are NOT applied here: the `defaults:` section must be
 * able to set them, so they are applied after merging (see normalize.ts). They still appear as
 * `default` in the JSON Schema, for editors.
 */
import * as z from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';

/** An `error` option for a zod schema: the text says what was expected. */
function expected(what: string) {
  return { error: `expected ${what}` };
}

/** A duration string (`90s`, `3m`, `1h30m`); a bare number is refused with a hint. */
function duration(description: string, options: { positive?: 'ms' | 's' } = {}) {
  const want = 'expected a duration string like "90s", "3m" or "1h30m"';
  return z
    .string({
      error: (iss) =>
        typeof iss.input === 'number' ? `${want}, found ${iss.input} (a number has no unit: write "${iss.input}s" for seconds or "${iss.input}m" for minutes)` : want,
    })
    .superRefine((text, ctx) => {
      const parsed = parseDuration(text);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `${want}, found ${JSON.stringify(text)}: ${parsed.reason}` });
      // A limit of 0 would end at once; a pod's deadline counts whole seconds (0.5s would become 1s).
      else if (options.positive === 's' && parsed.ms < 1000) ctx.addIssue({ code: 'custom', message: `${want}, found ${JSON.stringify(text)}: it must be at least 1s` });
      else if (options.positive === 'ms' && parsed.ms === 0) ctx.addIssue({ code: 'custom', message: `${want}, found ${JSON.stringify(text)}: a limit of 0s would end at once` });
    })
    .meta({ pattern: DURATION_PATTERN, description });
}

/** A Kubernetes quantity such as `500m`, `4Gi`, `2`; numbers are accepted and kept as written. */
const QUANTITY = /^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;
const quantity = z
  .union(
    [z.string().regex(QUANTITY, expected('a Kubernetes quantity like "500m", "4Gi" or 2')), z.number().nonnegative(expected('a quantity >= 0'))],
    expected('a Kubernetes quantity like "500m", "4Gi" or 2'),
  )
  .meta({ id: 'Quantity', description: 'A Kubernetes quantity: "500m" (CPU), "4Gi" (memory), 2.' });

const stringMap = (what: string) => z.record(z.string(), z.string(expected(`a string (quote numbers and booleans)`)), expected(`a map of ${what}`));
const looseObject = (what: string) => z.record(z.string(), z.unknown(), expected(`a map (${what})`));

/** An `env` value: a plain value, or a reference to a key of a Secret or ConfigMap. */
const envRef = z
  .strictObject(
    {
      secret: z.string(expected('the name of a Secret')).optional().describe('Name of the Secret holding the value.'),
      configMap: z.string(expected('the name of a ConfigMap')).optional().describe('Name of the ConfigMap holding the value.'),
      key: z.string(expected('the key inside the Secret or ConfigMap')).describe('Key inside the Secret or ConfigMap.'),
      optional: z.boolean(expected('true or false')).optional().describe('Start the container even if the key or object is missing (default false).'),
    },
    expected('a map'),
  )
  .superRefine((ref, ctx) => {
    if ((ref.secret === undefined) === (ref.configMap === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of "secret" or "configMap" next to "key", e.g. {secret: db-creds, key: password}' });
    }
  })
  .describe('A value read from a key of a Secret ({secret, key}) or a ConfigMap ({configMap, key}).');

const envValue = z
  .union([z.string(), z.number(), z.boolean(), envRef], expected('a string, a number, true/false, {secret, key} or {configMap, key}'))
  .meta({ id: 'EnvValue', description: 'A plain value (may use {{ }} templates), or {secret, key} / {configMap, key}.' });

const envFromSource = z
  .strictObject(
    {
      secret: z.string(expected('the name of a Secret')).optional().describe('Every key of this Secret becomes a variable.'),
      configMap: z.string(expected('the name of a ConfigMap')).optional().describe('Every key of this ConfigMap becomes a variable.'),
      prefix: z.string(expected('a string')).optional().describe('Prefix added to every variable name.'),
      optional: z.boolean(expected('true or false')).optional().describe('Start the container even if the object is missing (default false).'),
    },
    expected('a map with "secret" or "configMap"'),
  )
  .superRefine((src, ctx) => {
    if ((src.secret === undefined) === (src.configMap === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of "secret" or "configMap"' });
    }
  });

const retries = z
  .strictObject(
    {
      limit: z.int(expected('a whole number >= 0')).min(0, expected('a whole number >= 0')).meta({ default: 0, description: 'Retries after the first attempt for failures whose class is in `on`.' }),
      delay: duration('Wait before the first retry.').meta({ default: '10s' }),
      backoff: z.number(expected('a number >= 1')).min(1, expected('a number >= 1')).meta({ default: 2, description: 'Each further retry waits this many times longer than the previous one.' }),
      maxDelay: duration('The longest wait between two attempts.').meta({ default: '10m' }),
      on: z
        .array(z.enum(['failed', 'timeout'], expected('"failed" or "timeout"')), expected('a list of "failed" and "timeout"'))
        .meta({ default: ['failed'], description: 'Failure classes that use up `limit`: failed (non-zero exit, OOMKilled) and timeout.' }),
      infrastructure: z
        .int(expected('a whole number >= 0'))
        .min(0, expected('a whole number >= 0'))
        .meta({ default: 3, description: 'Separate retry budget for infrastructure failures (evicted, preempted, node lost).' }),
    },
    expected('a map with limit, delay, backoff, maxDelay, on, infrastructure'),
  )
  .partial()
  .meta({ id: 'Retries', description: 'When and how a failed attempt is tried again.' });

const pod = z
  .strictObject(
    {
      nodeSelector: stringMap('node label → value').optional().describe('Node labels the pod must match.'),
      affinity: looseObject('a Kubernetes Affinity').optional().describe('A Kubernetes Affinity (nodeAffinity, podAffinity, podAntiAffinity).'),
      tolerations: z.array(looseObject('a Kubernetes Toleration'), expected('a list of Kubernetes Tolerations')).optional().describe('Kubernetes Tolerations.'),
      serviceAccountName: z.string(expected('a string')).optional().describe('The ServiceAccount the pod runs as.'),
      imagePullSecrets: z
        .array(z.strictObject({ name: z.string(expected('a string')) }, expected('a map {name: <secret>}')), expected('a list of {name: <secret>}'))
        .optional()
        .describe('Secrets used to pull the image.'),
      volumes: z.array(looseObject('a Kubernetes Volume'), expected('a list of Kubernetes Volumes')).optional().describe('Kubernetes Volumes of the pod.'),
      volumeMounts: z.array(looseObject('a Kubernetes VolumeMount'), expected('a list of Kubernetes VolumeMounts')).optional().describe('VolumeMounts of the task container.'),
      securityContext: looseObject('a Kubernetes PodSecurityContext').optional().describe('The pod-level security context.'),
      containerSecurityContext: looseObject('a Kubernetes SecurityContext').optional().describe('The security context of the task container.'),
      priorityClassName: z.string(expected('a string')).optional().describe('The pod priority class.'),
      labels: stringMap('label → value').optional().describe('Extra labels on the pod.'),
      annotations: stringMap('annotation → value').optional().describe('Extra annotations on the pod.'),
    },
    expected('a map of pod fields'),
  )
  .meta({ id: 'PodOverrides', description: 'Pod-spec fields merged into the task pod.' });

const stringList = (what: string) =>
  z.array(z.string(expected('a string (quote numbers: "4")')), expected(`a list of strings (${what}); values are never passed through a shell`));

/** The fields a task and `defaults:` share. */
const taskFields = {
  image: z.string(expected('a container image reference')).optional().describe('Container image; may use {{ }} templates.'),
  command: stringList('the entrypoint').optional().describe("Overrides the image's ENTRYPOINT; each item may use {{ }} templates."),
  args: stringList('the arguments').optional().describe("Overrides the image's CMD; each item may use {{ }} templates."),
  env: z.record(z.string(), envValue, expected('a map of variable name → value')).optional().describe('Environment variables of the container.'),
  envFrom: z.array(envFromSource, expected('a list of {secret} or {configMap}')).optional().describe('Secrets and ConfigMaps whose keys all become variables.'),
  workingDir: z.string(expected('a path')).optional().describe('Working directory of the container.'),
  resources: z
    .strictObject(
      {
        requests: z.record(z.string(), quantity, expected('a map of resource → quantity')).optional().describe('Guaranteed resources.'),
        limits: z.record(z.string(), quantity, expected('a map of resource → quantity')).optional().describe('Resource limits.'),
      },
      expected('a map with requests and limits'),
    )
    .optional()
    .describe('Compute resources of the container.'),
  retries: z
    .union(
      [
        // Airflow's `retries=2`: a bare count is the same as `{limit: 2}`.
        z.int(expected('a whole number >= 0 or a map')).min(0, expected('a whole number >= 0')).describe('Shorthand for {limit: N}.'),
        retries,
      ],
      expected('a whole number (retries: 2 is {limit: 2}) or a map with limit, delay, backoff, maxDelay, on, infrastructure'),
    )
    .optional(),
  timeout: duration('Wall-clock limit of one attempt once it runs (none by default).', { positive: 's' }).optional(),
  startTimeout: duration('How long an attempt may stay Pending (unschedulable, pulling the image).', { positive: 'ms' }).meta({ default: '5m' }).optional(),
  pod: pod.optional(),
};

/** `strategy:` of a task, as on a GitHub job. */
const strategy = z
  .strictObject(
    {
      matrix: z
        .union(
          [
            z.string(),
            z.record(z.string(), z.array(z.unknown(), expected('a list of values (include and exclude: a list of maps)')), expected('a map of key → list of values')),
          ],
          expected('a map of key → list of values (with optional include and exclude), or one {{ }} expression such as "{{ fromJSON(tasks.plan.outputs.matrix) }}"'),
        )
        .describe(
          'Lists per key (the task runs once per combination of their values), with optional include and exclude, as on a GitHub job; or "{{ fromJSON(tasks.<id>.outputs.<name>) }}", computed when that upstream task has finished. Each combination reads {{ matrix.<key> }}.',
        ),
      'max-parallel': z.int(expected('a whole number >= 1')).min(1, expected('a whole number >= 1')).optional().describe('At most this many combinations run at once (default: no limit of its own).'),
      'fail-fast': z.boolean(expected('true or false')).optional().meta({ default: true, description: 'When a combination fails, cancel the running ones and start no more (default true, as on GitHub).' }),
    },
    expected('a map with matrix, max-parallel and fail-fast'),
  )
  .meta({ id: 'Strategy', description: 'Run the task once per combination of a matrix, as strategy.matrix on a GitHub job.' });

/** `sensor:` of a task: poke until a condition holds. */
const sensor = z
  .strictObject(
    {
      interval: duration('Wait between two pokes (each poke is a new pod; none is kept between pokes).'),
      timeout: duration('How long to wait for the condition, counted from the first poke; retries do not extend it.', { positive: 'ms' }),
      onTimeout: z
        .enum(['fail', 'skip'], expected('"fail" or "skip"'))
        .optional()
        .meta({ default: 'fail', description: 'On timeout: fail (class timeout) or skip the task (Airflow\'s soft_fail).' }),
      notYetExitCodes: z
        .array(z.int(expected('an exit code from 1 to 255')).min(1, expected('an exit code from 1 to 255')).max(255, expected('an exit code from 1 to 255')), expected('a list of exit codes'))
        .min(1, expected('at least one exit code'))
        .optional()
        .meta({ default: [75], description: 'Exit codes that mean "not yet, poke again later" (75 is EX_TEMPFAIL). Exit 0 means the condition holds; any other code is a failure, retried by retries.' }),
    },
    expected('a map with interval, timeout, onTimeout, notYetExitCodes'),
  )
  .meta({ id: 'Sensor', description: 'Run the container every interval until it exits 0 (the condition holds) or the timeout passes.' });

/** One task under `tasks:`. */
export const taskSchema = z
  .strictObject(
    {
      needs: z
        .union([z.string(), z.array(z.string(expected('a task id')))], expected('a task id or a list of task ids'))
        .optional()
        .describe('Tasks that must finish first, as in GitHub jobs.'),
      if: z
        .union([z.string(), z.boolean()], expected('an expression like "always()" or "success() && params.env == \'prod\'"'))
        .optional()
        .describe(
          "Run condition, a GitHub expression: success() (default), failure(), always(), cancelled(), operators (! && || == != < <= > >=), functions (contains, startsWith, endsWith, format, join, toJSON, fromJSON, case), params.*, tasks.<id>.result, tasks.<id>.outputs.*, run.*.",
        ),
      strategy: strategy.optional(),
      sensor: sensor.optional(),
      ...taskFields,
    },
    expected('a map of task fields'),
  )
  .meta({ id: 'Task', description: 'A task: one container run as a Kubernetes pod.' });

/** `defaults:`: every task field but `needs`, `if`, `strategy` and `sensor`. */
export const defaultsSchema = z.strictObject(taskFields, expected('a map of task fields')).describe("Applied to every task; a task's own fields win (pod, env and resources merge key by key, retries field by field).");

const param = z
  .union(
    [
      z.string(),
      z.number(),
      z.boolean(),
      z.strictObject(
        {
          default: z.union([z.string(), z.number(), z.boolean()], expected('a string, number or boolean')).optional().describe('Value used when the caller gives none.'),
          required: z.boolean(expected('true or false')).optional().describe('The caller must give a value (when there is no default).'),
          description: z.string(expected('a string')).optional().describe('What the param is for.'),
        },
        expected('a map with default, required, description'),
      ),
    ],
    expected('a default value, or a map {default, required, description}'),
  )
  .describe('A default value, or {default, required, description}.');

/**
 * Top-level keys starting with `x-` are extension fields, ignored (Docker Compose's convention):
 * a place to define YAML anchors that tasks then use (`x-base: &base …`, `<<: *base`). Only at
 * the top level: anywhere else a key is a field, and a typo must not pass silently.
 */
export const EXTENSION_KEY = /^x-/;

/** The whole spec file. */
export const specSchema = z
  .strictObject(
    {
      version: z
        .literal(1, {
          // `version: "1"` is what Compose files taught many users; say how to fix it.
          error: (iss) =>
            typeof iss.input === 'string' && iss.input.trim() !== '' && Number(iss.input) === 1
              ? `expected the number 1 (the only spec version), found the string ${JSON.stringify(iss.input)}; drop the quotes: version: 1`
              : 'expected 1 (the only spec version)',
        })
        .describe('Spec format version; always 1.'),
      name: z.string(expected('the DAG name (a lowercase DNS label)')).describe('The DAG name: lowercase letters, digits and "-", at most 40 characters. Used in pod names and labels.'),
      namespace: z.string(expected('a namespace name')).optional().describe("Namespace of the pods; else the action's input or the kubeconfig's."),
      params: z.record(z.string(), param, expected('a map of param name → default or {default, required, description}')).optional().describe("Values substituted by {{ params.<name> }}; overridable by the action's params input."),
      defaults: defaultsSchema.optional(),
      tasks: z.record(z.string(), taskSchema, expected('a map of task id → task')).describe('The tasks, by id (lowercase letters, digits and "-", at most 40 characters).'),
      timeout: duration('Limit for the whole run (none by default).', { positive: 'ms' }).optional(),
    },
    expected('a map with version, name, tasks…'),
  )
  .meta({
    description: 'A DAG of container tasks run as Kubernetes pods by pod-dag-action.',
    // The zod object stays strict: parse.ts sets the extension fields aside before it validates.
    patternProperties: { [EXTENSION_KEY.source]: { description: 'An extension field, ignored: a place for YAML anchors (x-defaults: &d …), as in Docker Compose.' } },
  });

/** The spec as written, as zod parsed it. */
export type RawSpec = z.infer<typeof specSchema>;
/** One task as written. */
export type RawTask = z.infer<typeof taskSchema>;
/** `defaults:` as written. */
export type RawDefaults = z.infer<typeof defaultsSchema>;
