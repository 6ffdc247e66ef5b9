/**
 * The README tells the truth about the code: its tables of inputs and outputs are action.yml's,
 * its spec reference names exactly the fields of the JSON Schema with the schema's defaults, its
 * retry policy is the contract's, its Role is the one the action checks for, its DAG listings
 * are the example file, and its links lead somewhere.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { MINIMAL_ROLE_YAML } from '../../src/kube/auth.ts';
import { ROOT } from '../harness/action.ts';
import { anchor, code, codeBlocks, firstTable, headings, links, section } from './markdown.ts';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface ActionYml {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
}
const action = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml;

/** A JSON Schema node, as much of it as these tests read. */
interface JsonSchema {
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  patternProperties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  default?: unknown;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
}

// The committed schema is what editors read (CI checks it equals a fresh generation from the zod schema).
const schema = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'pod-dag.schema.json'), 'utf8')) as JsonSchema;

/** Follows `$ref`s (local ones only) and unwraps a single object alternative of an `anyOf`. */
function resolve(node: JsonSchema): JsonSchema {
  let n = node;
  for (let hops = 0; n.$ref !== undefined; hops++) {
    if (hops > 20) throw new Error(`$ref loop at ${n.$ref}`);
    const ref = n.$ref;
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are expected in the schema, found ${ref}`);
    let target: unknown = schema;
    for (const part of ref.slice(2).split('/')) target = (target as Record<string, unknown>)[decodeURIComponent(part)];
    if (target === undefined) throw new Error(`$ref ${ref} points at nothing`);
    n = target as JsonSchema;
  }
  if (n.properties === undefined && n.anyOf !== undefined) {
    const objects = n.anyOf.map(resolve).filter((a) => a.properties !== undefined);
    if (objects.length === 1) return objects[0]!;
  }
  return n;
}

/** The properties of an object node of the schema, by a path of property names. */
function nodeAt(...names: string[]): JsonSchema {
  let n = resolve(schema);
  for (const name of names) {
    const next = name === '*' ? n.additionalProperties : n.properties?.[name];
    if (next === undefined || typeof next === 'boolean') throw new Error(`the schema has no object at ${names.join('.')}`);
    n = resolve(next);
  }
  return n;
}

function propsAt(...names: string[]): Record<string, JsonSchema> {
  const n = nodeAt(...names);
  if (n.properties === undefined) throw new Error(`the schema node at ${names.join('.') || '(root)'} has no properties`);
  return n.properties;
}

/** The README's reference table under a heading: field name → default cell. */
function referenceTable(title: string): Map<string, string> {
  const { header, rows } = firstTable(section(readme, title).body);
  expect(header).toEqual(['field', 'default', 'meaning']);
  return new Map(
    rows.map((r) => {
      const name = code(r[0]!);
      if (name === null) throw new Error(`a row of "${title}" does not start with a \`field\` cell: ${r.join(' | ')}`);
      return [name, r[1]!];
    }),
  );
}

/** How the README writes a schema default: `10s`, `2`, `[failed]`. */
function asReadmeDefault(value: unknown): string {
  if (Array.isArray(value)) return `\`[${value.join(', ')}]\``;
  return `\`${String(value)}\``;
}

describe('the README', () => {
  it('opens with the two commands for a fresh machine: the demo, then the tests', () => {
    const first = codeBlocks(readme)[0]!;
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n## '));
    const commands = first.content.split('\n').map((l) => l.replace(/#.*$/, '').trim());
    expect(commands).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
  });

  it("lists every input of action.yml, in its order, with its required flag and default", () => {
    const { header, rows } = firstTable(section(readme, 'Inputs').body);
    expect(header).toEqual(['input', 'required', 'default', 'description']);
    const documented = rows.map((r) => ({ name: code(r[0]!), required: r[1], default: r[2] === '—' ? '' : code(r[2]!) }));
    const actual = Object.entries(action.inputs).map(([name, i]) => ({
      name,
      required: i.required === true ? 'yes' : 'no',
      default: i.default ?? '',
    }));
    expect(documented).toEqual(actual);
  });

  it('lists every output of action.yml, in its order', () => {
    const { header, rows } = firstTable(section(readme, 'Outputs').body);
    expect(header).toEqual(['output', 'description']);
    expect(rows.map((r) => code(r[0]!))).toEqual(Object.keys(action.outputs));
  });

  describe('spec reference', () => {
    const cases: [title: string, schemaPath: string[]][] = [
      ['Top-level fields', []],
      ['Task fields', ['tasks', '*']],
      ['`retries`', ['tasks', '*', 'retries']],
      ['`pod`', ['tasks', '*', 'pod']],
      ['`strategy`', ['tasks', '*', 'strategy']],
      ['`sensor`', ['tasks', '*', 'sensor']],
    ];
    it.each(cases)('"%s" names exactly the fields of the schema', (title, schemaPath) => {
      // A pattern of keys (`^x-`: extension fields) is a row written as the prefix and an ellipsis.
      const patterns = Object.keys(nodeAt(...schemaPath).patternProperties ?? {}).map((p) => `${p.replace(/^\^/, '')}…`);
      expect([...referenceTable(title).keys()].sort()).toEqual([...Object.keys(propsAt(...schemaPath)), ...patterns].sort());
    });

    it.each(cases)('"%s" gives the schema\'s default wherever the schema has one', (title, schemaPath) => {
      const table = referenceTable(title);
      const withDefaults = Object.entries(propsAt(...schemaPath)).filter(([, p]) => resolve(p).default !== undefined);
      for (const [name, prop] of withDefaults) expect(`${name}: ${table.get(name)}`).toBe(`${name}: ${asReadmeDefault(resolve(prop).default)}`);
    });

    it('says that `defaults` takes every task field but `needs`, `if`, `strategy` and `sensor`, as the schema does', () => {
      const task = Object.keys(propsAt('tasks', '*')).filter((f) => !['needs', 'if', 'strategy', 'sensor'].includes(f));
      expect(Object.keys(propsAt('defaults')).sort()).toEqual(task.sort());
      expect(referenceTable('Top-level fields').get('defaults')).toBe('none');
      expect(section(readme, 'Top-level fields').body).toContain('every task field except `needs`, `if`, `strategy` and `sensor`');
    });

    it('shows the editor line with the published schema URL', () => {
      expect(readme).toContain(
        '# yaml-language-server: $schema=https://raw.githubusercontent.com/org/pod-dag-action/v1/schema/pod-dag.schema.json',
      );
    });
  });

  it("states the retry policy in the words of RetryPolicy's contract", () => {
    const types = readFileSync(path.join(ROOT, 'src', 'spec', 'types.ts'), 'utf8');
    const doc = /\/\*\*\n \* When and how a failed attempt is tried again\.\n \*\n([\s\S]*?) \*\/\nexport interface RetryPolicy/.exec(types);
    if (doc === null) throw new Error('src/spec/types.ts no longer has the RetryPolicy doc comment this test compares with');
    const words = (text: string) => text.replace(/`/g, '').replace(/\s+/g, ' ').trim();
    const contract = words(
      doc[1]!
        .replace(/^ \* ?/gm, '')
        .replace(/maxDelayMs/g, 'maxDelay')
        .replace(/delayMs/g, 'delay')
        .replace(/\['failed'\]/g, '[failed]'),
    );
    const body = section(readme, 'Failure classes and retries').body;
    const start = body.indexOf('The retry policy, exactly:');
    expect(start).toBeGreaterThanOrEqual(0);
    const bullets = body.slice(start).split('\n\n')[1]!;
    expect(words(bullets)).toBe(contract);
  });

  it('shows exactly the minimal Role and RoleBinding the action checks for', () => {
    const yamlBlocks = codeBlocks(section(readme, 'A service-account token, and the minimal Role').body).filter((b) => b.lang === 'yaml');
    expect(yamlBlocks.map((b) => b.content + '\n')).toContain(MINIMAL_ROLE_YAML);
  });

  it('lists the DAG of examples/clickhouse-db-sync as it is, in the quick start and beside the Airflow DAG', () => {
    const example = readFileSync(path.join(ROOT, 'examples', 'clickhouse-db-sync', 'dag.yaml'), 'utf8');
    const dag = example.slice(example.indexOf('version: 1')).trimEnd();
    const listed = (title: string) =>
      codeBlocks(section(readme, title).body)
        .filter((b) => b.lang === 'yaml' && b.content.includes('version: 1') && b.content.includes('name: clickhouse-db-sync'))
        .map((b) => b.content.slice(b.content.indexOf('version: 1')).trimEnd());
    expect(listed('Quick start')).toEqual([dag]);
    expect(listed('Coming from Airflow')).toEqual([dag]);
  });

  it('has only valid YAML in its yaml blocks, and every step that uses the action passes inputs it declares', () => {
    const problems: string[] = [];
    let uses = 0;
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (node === null || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (typeof o['uses'] === 'string' && o['uses'].startsWith('org/pod-dag-action')) {
        uses++;
        if (o['uses'] !== 'org/pod-dag-action@v1') problems.push(`uses ${o['uses']}`);
        const given = Object.keys((o['with'] as Record<string, unknown> | undefined) ?? {});
        for (const k of given) if (!(k in action.inputs)) problems.push(`unknown input "${k}"`);
        if (!given.includes('dag')) problems.push('a step without the required input "dag"');
      }
      Object.values(o).forEach(visit);
    };
    for (const block of codeBlocks(readme).filter((b) => b.lang === 'yaml')) {
      for (const doc of parseAllDocuments(block.content)) {
        if (doc.errors.length > 0) problems.push(`invalid YAML: ${doc.errors[0]!.message.split('\n')[0]} in\n${block.content.slice(0, 120)}`);
        else visit(doc.toJS());
      }
    }
    expect(problems).toEqual([]);
    expect(uses).toBeGreaterThanOrEqual(7); // quick start, forks, kubeconfig, token, EKS, GKE, AKS
  });

  it('maps every KubernetesPodOperator argument the migration guide promises', () => {
    const { rows } = firstTable(section(readme, 'Coming from Airflow').body.split('What each `KubernetesPodOperator` argument becomes:')[1]!);
    const mapped = rows.map((r) => r[0]!).join(' ');
    const args = ['retries', 'retry_delay', 'affinity', 'tolerations', 'node_selector', 'env_vars', 'secrets', 'get_logs', 'on_finish_action', 'reattach_on_restart', 'do_xcom_push', 'startup_timeout_seconds', 'trigger_rule'];
    for (const arg of args) expect(mapped).toContain(`\`${arg}=`);
  });

  it('links every example folder, and only folders that exist', () => {
    const folders = ['hello', 'clickhouse-db-sync', 'gpu-training', 'branching', 'fan-out', 'data-pipeline'];
    const { rows } = firstTable(section(readme, 'Quick start').body);
    expect(rows.map((r) => /\]\(examples\/([^)]+)\)/.exec(r[0]!)?.[1])).toEqual(folders);
    for (const f of folders) expect(existsSync(path.join(ROOT, 'examples', f, 'dag.yaml'))).toBe(true);
  });

  it.each(['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)])(
    '%s has no link to a missing file or heading',
    (doc) => {
      const text = readFileSync(path.join(ROOT, doc), 'utf8');
      const broken: string[] = [];
      for (const target of links(text)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const [file, hash] = target.split('#') as [string, string | undefined];
        const resolved = file === '' ? path.join(ROOT, doc) : path.resolve(path.dirname(path.join(ROOT, doc)), file);
        if (!existsSync(resolved)) broken.push(target);
        else if (hash !== undefined && resolved.endsWith('.md')) {
          const anchors = new Set(headings(readFileSync(resolved, 'utf8')).map((h) => anchor(h.title)));
          if (!anchors.has(hash)) broken.push(target);
        }
      }
      expect(broken).toEqual([]);
    },
  );
});
