/**
 * "Did you mean" suggestions: the closest candidate by Damerau-Levenshtein distance
 * (optimal string alignment: insert, delete, substitute, swap two neighbours), so both
 * `need` → `needs` and `retires` → `retries` are one edit away.
 */

/**
 * The edit distance between two strings, counting a swap of neighbours as one edit. Past `max`
 * it stops early and returns `max + 1`: a suggestion only needs to know that a word is far.
 * Three rows of numbers, not a matrix: thousands of comparisons stay cheap.
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  // No distance is more than the longer length: a finite bound the rows can hold.
  max = Math.min(max, Math.max(a.length, b.length));
  const cols = b.length + 1;
  let before = new Int32Array(cols);
  let prev = Int32Array.from({ length: cols }, (_, j) => j);
  let row = new Int32Array(cols);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let least = i;
    // Only cells within `max` of the diagonal can be within `max`: the others are left at max + 1.
    const from = Math.max(1, i - max);
    const to = Math.min(cols - 1, i + max);
    if (from > 1) row[from - 1] = max + 1;
    if (to + 1 < cols) row[to + 1] = max + 1;
    for (let j = from; j <= to; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      row[j] = v;
      if (v < least) least = v;
    }
    if (least > max) return max + 1;
    [before, prev, row] = [prev, row, before];
  }
  return prev[b.length]!;
}

/** The longest word a suggestion is looked for. */
const MAX_SUGGESTED_LENGTH = 100;

/**
 * How many cells of edit-distance rows the suggestions for one spec may compute: about a second.
 * A spec of thousands of wrong names, each close to thousands of right ones, would otherwise
 * cost minutes; past the budget its errors come without "did you mean".
 */
const SUGGESTION_BUDGET = 100_000_000;

/** What is left of a budget for suggestions, shared by the calls that pass it. */
export interface SuggestionBudget {
  cells: number;
}

/** A fresh budget for the suggestions of one spec or input. */
export function suggestionBudget(): SuggestionBudget {
  return { cells: SUGGESTION_BUDGET };
}

/**
 * The candidate closest to `word`, or `null` when none is close enough to be a likely typo
 * (at most a third of the word's length in edits, minimum 1; case differences are free).
 */
export function closestMatch(word: string, candidates: Iterable<string>, budget?: SuggestionBudget): string | null {
  // A name someone typed is short (names are at most 63 characters): a longer word is no typo of
  // one, and comparing it with thousands of candidates would cost time quadratic in its length.
  if (word.length > MAX_SUGGESTED_LENGTH) return null;
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // The distance is at least the difference in length.
    if (c === word || Math.abs(c.length - word.length) > limit) continue;
    if (budget !== undefined) {
      budget.cells -= (lower.length + 1) * (2 * limit + 1);
      if (budget.cells < 0) return best;
    }
    const dist = editDistance(lower, c.toLowerCase(), Math.min(limit, bestDistance - 1));
    if (dist <= limit && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** `; did you mean "x"?` when there is a close match, else the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>, budget?: SuggestionBudget): string {
  const match = closestMatch(word, candidates, budget);
  return match === null ? '' : `; did you mean "${match}"?`;
}

/** Where in a spec an unknown key was found, for `airflowKeyHint`. */
export type KeyLevel = 'top' | 'task' | 'pod' | 'other';

/** One Airflow name: the field that does that here, or words saying where it went instead. */
type AirflowName = { field: string; as?: string } | { say: string };

/**
 * Argument names of Airflow's KubernetesPodOperator (and of BaseOperator, which every operator
 * takes) that users bring to a first spec, at the task level (`tasks.<id>` and `defaults`).
 */
const AIRFLOW_TASK_NAMES: Record<string, AirflowName> = {
  cmds: { field: 'command' },
  arguments: { field: 'args' },
  env_vars: { field: 'env' },
  env_from: { field: 'envFrom' },
  secrets: { say: 'a Secret becomes env: {VAR: {secret: NAME, key: KEY}}, or envFrom: [{secret: NAME}] for all its keys' },
  container_resources: { field: 'resources' },
  retry_delay: { field: 'retries', as: 'retries: {delay: 3m, backoff: 1} (backoff: 1 keeps the delay fixed; by default each wait doubles)' },
  retry_exponential_backoff: { field: 'retries', as: 'retries: {backoff: 2} (the default: each wait doubles)' },
  max_retry_delay: { field: 'retries', as: 'retries: {maxDelay: 30m}' },
  execution_timeout: { field: 'timeout' },
  startup_timeout_seconds: { field: 'startTimeout', as: 'startTimeout: 5m (a duration)' },
  image_pull_secrets: { field: 'pod', as: 'pod: {imagePullSecrets: [{name: SECRET}]}' },
  node_selector: { field: 'pod', as: 'pod: {nodeSelector: {key: value}}' },
  affinity: { field: 'pod', as: 'pod: {affinity: …}' },
  tolerations: { field: 'pod', as: 'pod: {tolerations: […]}' },
  volumes: { field: 'pod', as: 'pod: {volumes: […]}' },
  volume_mounts: { field: 'pod', as: 'pod: {volumeMounts: […]}' },
  labels: { field: 'pod', as: 'pod: {labels: {…}}' },
  annotations: { field: 'pod', as: 'pod: {annotations: {…}}' },
  service_account_name: { field: 'pod', as: 'pod: {serviceAccountName: NAME}' },
  security_context: { field: 'pod', as: 'pod: {securityContext: …}' },
  container_security_context: { field: 'pod', as: 'pod: {containerSecurityContext: …}' },
  priority_class_name: { field: 'pod', as: 'pod: {priorityClassName: NAME}' },
  trigger_rule: { field: 'if', as: 'if: (all_done is always(), one_failed is failure())' },
  depends_on: { field: 'needs' },
  upstream: { field: 'needs' },
  upstream_task_ids: { field: 'needs' },
  task_id: { say: "a task's id is its key under tasks:" },
  name: { say: 'pod names are set by the action, from the DAG, the run and the task' },
  namespace: { say: 'the namespace is set once, at the top level (namespace:) or by the action\'s namespace input' },
  get_logs: { say: 'logs always stream into the step log' },
  do_xcom_push: { say: 'a task writes name=value lines to the file named by $POD_DAG_OUTPUT; others read {{ tasks.<id>.outputs.<name> }}' },
  on_finish_action: { say: "what happens to finished pods is the action's keep-pods input" },
  is_delete_operator_pod: { say: "what happens to finished pods is the action's keep-pods input" },
  reattach_on_restart: { say: 'a restarted run always finds and adopts its pods' },
};

/** Arguments of Airflow's `DAG(...)`, at the top level of a spec. */
const AIRFLOW_DAG_NAMES: Record<string, AirflowName> = {
  dag_id: { field: 'name' },
  default_args: { field: 'defaults' },
  dagrun_timeout: { field: 'timeout' },
  schedule: { say: 'the schedule lives in the workflow file: on: {schedule: [{cron: "17 2 * * *"}]}' },
  schedule_interval: { say: 'the schedule lives in the workflow file: on: {schedule: [{cron: "17 2 * * *"}]}' },
  start_date: { say: "GitHub's cron starts runs; there is no start date" },
  catchup: { say: 'there is no catch-up: start a missed run by hand with workflow_dispatch and params' },
  max_active_runs: { say: "one run at a time is the action's concurrency input" },
};

/** `node_selector` → `nodeSelector`. */
function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A hint for a key Airflow users write (`cmds`, `retry_delay`, `node_selector`, `dag_id`…), or
 * for a snake_case spelling of a field here (`working_dir` → `workingDir`); `null` when the key
 * is none of those. The hint starts with "did you mean" or says where the thing lives instead.
 */
export function airflowKeyHint(key: string, level: KeyLevel, allowed: readonly string[]): string | null {
  const table = level === 'task' ? AIRFLOW_TASK_NAMES : level === 'top' ? AIRFLOW_DAG_NAMES : {};
  const known = Object.hasOwn(table, key) ? table[key] : undefined;
  if (known !== undefined) {
    if ('say' in known) return `Airflow's ${key} has no key here: ${known.say}`;
    if (allowed.includes(known.field)) return `did you mean "${known.field}"? Here, Airflow's ${key} is ${known.as ?? known.field}`;
  }
  const camel = camelCase(key);
  if (camel !== key && allowed.includes(camel)) return `did you mean "${camel}"?`;
  return null;
}

/** Airflow's date variables and the `run` field that holds the same date here (README, "Run dates"). */
const AIRFLOW_DATES: Record<string, string> = {
  ds: 'run.date',
  ds_nodash: 'run.dateNodash',
  ts: 'run.ts',
  logical_date: 'run.ts',
  execution_date: 'run.ts',
  data_interval_start: 'run.intervalStart',
  data_interval_end: 'run.intervalEnd',
  prev_ds: 'run.intervalStartDate',
  prev_data_interval_start_success: 'run.intervalStart',
  prev_data_interval_end_success: 'run.intervalEnd',
};

/** Template variables of Airflow (Jinja) that users bring into `{{ }}`, and what to write here. */
const AIRFLOW_MACROS: { match: RegExp; instead: string }[] = [
  { match: /^(ti|task_instance)\b.*xcom_pull/, instead: "a task's outputs are {{ tasks.<id>.outputs.<name> }} (the task writes name=value lines to $POD_DAG_OUTPUT)" },
  { match: /^(var)\b/, instead: "Airflow Variables are params here: pass the value in the action's params input (from ${{ vars.NAME }} in the workflow) and write {{ params.<name> }}" },
  { match: /^(conn)\b/, instead: "a connection's credentials come from a Secret: env: {VAR: {secret: NAME, key: KEY}}" },
  { match: /^(run_id|dag_run)\b/, instead: "pass ${{ github.run_id }} in the action's params input and write {{ params.<name> }}" },
  {
    match: /^(macros|dag|task|ti|task_instance|conf|inlets|outlets|triggering_dataset_events|ts_nodash|next_ds|tomorrow_ds|yesterday_ds)\b/,
    instead: "there are no Airflow macros: templates read params, tasks, matrix and run (the run's dates), with GitHub's functions (format, toJSON…); compute anything else in a workflow step and pass it as a param",
  },
];

/** What to write instead of an Airflow template variable (`{{ ds }}`), or `null`. */
export function airflowMacroHint(inner: string): string | null {
  const text = inner.trim();
  const name = /^[A-Za-z_]+/.exec(text)?.[0] ?? '';
  const date = Object.hasOwn(AIRFLOW_DATES, name) ? AIRFLOW_DATES[name] : undefined;
  if (date !== undefined) return `Airflow's {{ ${name} }} is {{ ${date} }} here (see "Run dates" in the README)`;
  for (const m of AIRFLOW_MACROS) if (m.match.test(text)) return `this looks like an Airflow template: ${m.instead}`;
  return null;
}
