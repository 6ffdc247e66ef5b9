/**
 * The `pod-dag` commands. Side effects go through `CliIO`, so tests run them in process and
 * compare what they print.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { renderPlanPods } from '../kube/pod.ts';
import { loadSpec, renderTemplate, resolveParams, SpecFileError, templateProblems } from '../spec/index.ts';
import type { DagSpec, SpecIssue } from '../spec/types.ts';
import { namespaceProblem } from '../spec/names.ts';
import { terminalText } from '../report/workflow-commands.ts';
import { KEEP_PODS, type KeepPods, type RunContext } from '../common/run.ts';
import { parseApiBurst, parseApiQps, parseWholeNumber, wholeNumberExpected, type Parsed } from '../common/input-values.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from '../kube/rate-limit.ts';
import { EXIT, localContext, type CliIO } from './io.ts';

export { EXIT, localContext, type CliIO };

const USAGE = `usage:
  pod-dag validate FILE [--allow-outside]
  pod-dag plan FILE [--params YAML|JSON] [--namespace NS] [-o yaml|json] [--allow-outside]
  pod-dag run FILE [--params YAML|JSON] [--namespace NS] [--context NAME] [--max-parallel N] [--keep-pods never|on-failure|always]
                   [--api-qps N] [--api-burst N] [--allow-outside]

validate  checks the spec and prints every problem as FILE:LINE:COL: message
plan      renders the pod of every task, as 'kubectl --dry-run=client -o yaml' would print them
run       runs the DAG against the cluster of the current kubeconfig (KUBECONFIG or ~/.kube/config)

FILE must be a regular file inside the current directory (symlinks resolved), at most 1 MiB;
--allow-outside reads a FILE anywhere. --max-parallel (default 0: no limit), --api-qps (default
${DEFAULT_QPS} requests/s; 0: no client-side limit) and --api-burst (default ${DEFAULT_BURST}) are as the action's inputs.
`;

/** Formats spec issues the way compilers do, so terminals and editors make them clickable. */
export function formatIssues(issues: SpecIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}\n`).join('');
}

/** Runs one `pod-dag` command line; resolves to the process's exit code. */
export async function runCli(argv: string[], raw: CliIO): Promise<number> {
  // The one choke point for the terminal: a task's log or a cluster's message cannot move the
  // cursor, rewrite lines, retitle the window or hide text.
  const io: CliIO = { ...raw, stdout: (text) => raw.stdout(terminalText(text)), stderr: (text) => raw.stderr(terminalText(text)) };
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout)(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        params: { type: 'string', default: '' },
        namespace: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'yaml' },
        context: { type: 'string' },
        'max-parallel': { type: 'string' },
        'api-qps': { type: 'string' },
        'api-burst': { type: 'string' },
        'keep-pods': { type: 'string', default: 'on-failure' },
        'allow-outside': { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    io.stderr(`pod-dag ${command}: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.namespace !== undefined && namespaceProblem(values.namespace) !== null) {
    io.stderr(`pod-dag ${command}: --namespace ${JSON.stringify(values.namespace.slice(0, 100))} is not valid: ${namespaceProblem(values.namespace)!}\n`);
    return EXIT.usage;
  }
  if (positionals.length !== 1) {
    io.stderr(`pod-dag ${command}: expected exactly one spec FILE, found ${positionals.length}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const file = positionals[0]!;

  if (!['validate', 'plan', 'run'].includes(command)) {
    io.stderr(`pod-dag: unknown command '${command}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  let loaded;
  try {
    loaded = await loadSpec(file, io.cwd, { inWorkflow: false, root: values['allow-outside'] ? null : io.cwd });
  } catch (err) {
    if (!(err instanceof SpecFileError)) throw err;
    io.stderr(`pod-dag ${command}: ${err.message}\n`);
    return EXIT.usage;
  }
  if (!loaded.spec) {
    io.stderr(formatIssues(loaded.issues));
    io.stderr(`${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'} in ${file}\n`);
    return EXIT.usage;
  }
  const spec: DagSpec = loaded.spec;
  if (command === 'validate') {
    io.stdout(`${file}: valid (${spec.tasks.length} task${spec.tasks.length === 1 ? '' : 's'})\n`);
    return EXIT.ok;
  }

  const { params, issues } = resolveParams(spec, values.params ?? '', '--params');
  if (issues.length > 0) {
    io.stderr(issues.map((i) => `--params: ${i}\n`).join(''));
    return EXIT.usage;
  }
  // Before any pod: a {{ }} that cannot be rendered with these params.
  const renderIssues = templateProblems(spec, params);
  if (renderIssues.length > 0) {
    io.stderr(formatIssues(renderIssues));
    io.stderr(`${renderIssues.length} problem${renderIssues.length === 1 ? '' : 's'} in ${file}\n`);
    return EXIT.usage;
  }

  if (command === 'plan') {
    const output = values.output;
    if (output !== 'yaml' && output !== 'json') {
      io.stderr(`pod-dag plan: -o must be yaml or json, found '${output}'\n`);
      return EXIT.usage;
    }
    const context: RunContext & { namespace: string | null } = { ...localContext(io.env), namespace: values.namespace ?? null };
    const pods = renderPlanPods(spec, params, context, renderTemplate);
    if (output === 'json') {
      io.stdout(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }, null, 2) + '\n');
    } else {
      io.stdout(pods.map((pod) => stringify(pod, { lineWidth: 0 })).join('---\n'));
    }
    return EXIT.ok;
  }

  // Numbers are read as the action reads its inputs (src/action/settings.ts): plain digits, so
  // `1e3` or `0x10` is refused rather than taken as 1000 or 16.
  const flag = <T>(name: string, raw: string | undefined, fallback: T, parse: (raw: string) => Parsed<T>): T | undefined => {
    if (raw === undefined) return fallback;
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    io.stderr(`pod-dag run: --${name} must be ${parsed.expected}, found '${raw.slice(0, 100)}'\n`);
    return undefined;
  };
  const wholeNumber = (raw: string): Parsed<number> => {
    const n = parseWholeNumber(raw);
    return n === null ? { ok: false, expected: wholeNumberExpected(raw) } : { ok: true, value: n };
  };
  const maxParallel = flag('max-parallel', values['max-parallel'], 0, wholeNumber);
  const qps = flag('api-qps', values['api-qps'], DEFAULT_QPS as number | null, parseApiQps);
  const burst = flag('api-burst', values['api-burst'], DEFAULT_BURST, (raw) => parseApiBurst(raw, '--api-qps'));
  if (maxParallel === undefined || qps === undefined || burst === undefined) return EXIT.usage;
  const keepPods = values['keep-pods'];
  if (!isKeepPods(keepPods)) {
    io.stderr(`pod-dag run: --keep-pods must be ${KEEP_PODS.slice(0, -1).join(', ')} or ${KEEP_PODS.at(-1)}, found '${keepPods}'\n`);
    return EXIT.usage;
  }
  // Loaded only now: the run brings in the Kubernetes client, which validate and plan do without.
  const { runLocal } = await import('./run.ts');
  return runLocal({ spec, params, namespace: values.namespace ?? null, context: values.context ?? null, maxParallel, keepPods, api: { qps, burst } }, io);
}

function isKeepPods(s: string | undefined): s is KeepPods {
  return (KEEP_PODS as readonly (string | undefined)[]).includes(s);
}
