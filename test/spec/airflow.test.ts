/**
 * An Airflow user's first spec: KubernetesPodOperator's argument names and Airflow's template
 * variables get a hint naming what does that here, at the key's line and column; `retries: 2`
 * means `{limit: 2}`.
 */
import { describe, expect, test } from 'vitest';
import { parseSpec } from '../../src/spec/index.ts';

/** The issues of a one-task spec whose task has `extra` (YAML lines at the task's indent). */
function issuesOf(extra: string, top = ''): string[] {
  const yaml = `version: 1\nname: sync\n${top}tasks:\n  load:\n    image: busybox\n${extra}\n`;
  return parseSpec(yaml, 'dag.yaml').issues.map((i) => `${i.line}:${i.col} ${i.message}`);
}

describe('KubernetesPodOperator argument names get "did you mean"', () => {
  test.each([
    ['cmds: [clickhouse-client]', '6:5 unknown key "cmds" in task "load"; did you mean "command"? Here, Airflow\'s cmds is command'],
    ['arguments: [--query, x]', '6:5 unknown key "arguments" in task "load"; did you mean "args"? Here, Airflow\'s arguments is args'],
    ['env_vars: {MODE: full}', '6:5 unknown key "env_vars" in task "load"; did you mean "env"? Here, Airflow\'s env_vars is env'],
    ['retry_delay: 3m', '6:5 unknown key "retry_delay" in task "load"; did you mean "retries"? Here, Airflow\'s retry_delay is retries: {delay: 3m, backoff: 1}'],
    ['image_pull_secrets: [regcred]', '6:5 unknown key "image_pull_secrets" in task "load"; did you mean "pod"? Here, Airflow\'s image_pull_secrets is pod: {imagePullSecrets: [{name: SECRET}]}'],
    ['node_selector: {org: locale}', '6:5 unknown key "node_selector" in task "load"; did you mean "pod"? Here, Airflow\'s node_selector is pod: {nodeSelector: {key: value}}'],
    ['execution_timeout: 1h', '6:5 unknown key "execution_timeout" in task "load"; did you mean "timeout"? Here, Airflow\'s execution_timeout is timeout'],
    ['startup_timeout_seconds: 120', '6:5 unknown key "startup_timeout_seconds" in task "load"; did you mean "startTimeout"? Here, Airflow\'s startup_timeout_seconds is startTimeout: 5m (a duration)'],
    ['container_resources: {}', '6:5 unknown key "container_resources" in task "load"; did you mean "resources"? Here, Airflow\'s container_resources is resources'],
    ['trigger_rule: all_done', '6:5 unknown key "trigger_rule" in task "load"; did you mean "if"? Here, Airflow\'s trigger_rule is if: (all_done is always(), one_failed is failure())'],
    ['service_account_name: etl', '6:5 unknown key "service_account_name" in task "load"; did you mean "pod"? Here, Airflow\'s service_account_name is pod: {serviceAccountName: NAME}'],
    ['do_xcom_push: true', '6:5 unknown key "do_xcom_push" in task "load"; Airflow\'s do_xcom_push has no key here: a task writes name=value lines'],
    ['working_dir: /app', '6:5 unknown key "working_dir" in task "load"; did you mean "workingDir"?'],
    ['pod:\n      node_selector: {org: locale}', '7:7 unknown key "node_selector" in tasks.load.pod; did you mean "nodeSelector"?'],
  ])('%s', (extra, want) => {
    const got = issuesOf(`    ${extra}`);
    expect(got).toHaveLength(1);
    expect(got[0]).toContain(want);
  });

  test('in defaults too (Airflow\'s default_args)', () => {
    const yaml = 'version: 1\nname: sync\ndefaults:\n  cmds: [x]\ntasks:\n  load:\n    image: busybox\n';
    expect(parseSpec(yaml, 'dag.yaml').issues.map((i) => i.message)).toEqual(['unknown key "cmds" in defaults; did you mean "command"? Here, Airflow\'s cmds is command']);
  });

  test.each([
    ['dag_id: sync', 'did you mean "name"? Here, Airflow\'s dag_id is name'],
    ['default_args: {}', 'did you mean "defaults"? Here, Airflow\'s default_args is defaults'],
    ['schedule: "0 2 * * *"', "Airflow's schedule has no key here: the schedule lives in the workflow file"],
    ['dagrun_timeout: 6h', 'did you mean "timeout"? Here, Airflow\'s dagrun_timeout is timeout'],
  ])('DAG argument %s', (top, want) => {
    const got = issuesOf('', `${top}\n`);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^3:1 unknown key/);
    expect(got[0]).toContain(want);
  });

  test('a typo still gets the plain suggestion, and an unknown key the list', () => {
    expect(issuesOf('    retires: 2')[0]).toBe('6:5 unknown key "retires" in task "load"; did you mean "retries"?');
    expect(issuesOf('    owner: data')[0]).toMatch(/unknown key "owner" in task "load"; expected one of: needs, if, .*image/);
  });
});

describe('Airflow template variables say what to use instead', () => {
  test.each([
    ['{{ ds }}', "Airflow's {{ ds }} is {{ run.date }} here"],
    ['{{ ds_nodash }}', "Airflow's {{ ds_nodash }} is {{ run.dateNodash }} here"],
    ['{{ data_interval_start }}', "Airflow's {{ data_interval_start }} is {{ run.intervalStart }} here"],
    ['{{ logical_date }}', "Airflow's {{ logical_date }} is {{ run.ts }} here"],
    ["{{ ti.xcom_pull(task_ids='extract') }}", "this looks like an Airflow template: a task's outputs are {{ tasks.<id>.outputs.<name> }}"],
    ['{{ var.value.bucket }}', 'this looks like an Airflow template: Airflow Variables are params here'],
    ['{{ conn.clickhouse.password }}', "this looks like an Airflow template: a connection's credentials come from a Secret"],
    ['{{ run_id }}', "this looks like an Airflow template: pass ${{ github.run_id }} in the action's params input"],
    ['{{ macros.ds_add(ds, 1) }}', 'this looks like an Airflow template: there are no Airflow macros'],
  ])('%s', (template, want) => {
    const got = issuesOf(`    args: [--date, "${template}"]`);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^6:\d+ tasks\.load\.args\[1\]: /);
    expect(got[0]).toContain(`; ${want}`);
  });

  test('the hinted replacement is itself valid', () => {
    expect(issuesOf('    args: [--date, "{{ run.date }}", "{{ run.dateNodash }}", "{{ run.intervalStart }}", "{{ run.ts }}"]')).toEqual([]);
  });

  test('a template that is no Airflow variable gets no Airflow hint', () => {
    expect(issuesOf('    args: ["{{ param.x }}"]')[0]).not.toContain('Airflow');
  });
});

describe('retries: N is {limit: N}', () => {
  function retriesOf(task: string, defaults = ''): unknown {
    const yaml = `version: 1\nname: sync\n${defaults}tasks:\n  load:\n    image: busybox\n    ${task}\n`;
    const { spec, issues } = parseSpec(yaml, 'dag.yaml');
    if (spec === null) return issues.map((i) => `${i.line}:${i.col} ${i.message}`);
    return spec.tasks[0]!.retries;
  }

  test('a bare count is the limit, with the other fields at their defaults', () => {
    expect(retriesOf('retries: 2')).toEqual({ limit: 2, delayMs: 10_000, backoff: 2, maxDelayMs: 600_000, on: ['failed'], infrastructure: 3 });
  });

  test('it merges with defaults field by field, as a map does', () => {
    expect(retriesOf('retries: 0', 'defaults:\n  retries: {limit: 2, delay: 3m}\n')).toMatchObject({ limit: 0, delayMs: 180_000 });
    expect(retriesOf('retries: {delay: 1m}', 'defaults:\n  retries: 3\n')).toMatchObject({ limit: 3, delayMs: 60_000 });
  });

  test('a negative, fractional or quoted count is an error that says what is expected', () => {
    expect(retriesOf('retries: -1')).toEqual(['6:14 tasks.load.retries: expected a whole number >= 0, found -1']);
    expect(retriesOf('retries: "2"')).toEqual([
      '6:14 tasks.load.retries: expected a whole number (retries: 2 is {limit: 2}) or a map with limit, delay, backoff, maxDelay, on, infrastructure, found "2" (write it without quotes: 2)',
    ]);
  });
});
