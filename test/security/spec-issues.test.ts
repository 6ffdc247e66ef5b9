/**
 * Issue 13, item 7: every problem of a spec reaches the user: all of them in the step's log and
 * the job summary, the first ones as annotations (GitHub shows ten error annotations per step,
 * the step's own failure included), and the overflow note says where the rest truly are.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStep } from '../harness/action.ts';
import { parseCommands } from '../helpers/runner-commands.ts';

/** A spec with `n` problems: one unknown key per task, on lines 5, 6, … */
function specWith(n: number): string {
  const tasks = Array.from({ length: n }, (_, i) => `  t${i}: {image: busybox, bogus${i}: 1}`);
  return ['version: 1', 'name: many-problems', 'tasks:', '  ok: {image: busybox}', ...tasks].join('\n');
}

async function planOf(yaml: string) {
  const cwd = await mkdtemp(path.join(tmpdir(), 'pod-dag-issues-'));
  await writeFile(path.join(cwd, 'dag.yaml'), yaml);
  const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan' } });
  const errors = parseCommands(step.stdout).filter((c) => c.command === 'error');
  return { step, errors };
}

describe('a spec with more problems than GitHub shows annotations', () => {
  it('lists all 25 in the log and the summary, annotates 9 and says truly where the other 16 are', async () => {
    const { step, errors } = await planOf(specWith(25));
    expect(step.exitCode).toBe(1);
    for (let i = 0; i < 25; i++) {
      const line = `dag.yaml:${5 + i}:`;
      expect(step.stdout, `log, problem ${i}`).toContain(`  ${line}`);
      expect(step.summary, `summary, problem ${i}`).toContain(`unknown key "bogus${i}"`);
    }
    expect(step.summary).toContain('25 problems; nothing was run.');
    // Ten error annotations in all, the step's failure included: GitHub would drop an eleventh.
    expect(errors).toHaveLength(10);
    expect(errors.slice(0, 9).map((e) => e.properties['line'])).toEqual(['5', '6', '7', '8', '9', '10', '11', '12', '13']);
    expect(errors[9]).toMatchObject({
      properties: { title: '16 more errors not shown' },
      data: "GitHub shows at most 10 error annotations per step; the other 16 are listed in the step's log and the job summary.",
    });
    expect(step.stdout).toContain('Error: The DAG spec dag.yaml has 25 problems (listed above, as annotations and in the job summary); nothing was run.');
  });

  it('annotates each of exactly ten problems, and the failure adds no eleventh', async () => {
    const { step, errors } = await planOf(specWith(10));
    expect(step.exitCode).toBe(1);
    expect(errors).toHaveLength(10);
    expect(errors.every((e) => e.properties['title']?.startsWith('Invalid DAG spec'))).toBe(true);
  });
});
