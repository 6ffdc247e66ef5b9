/**
 * The job summary rendered as GitHub renders it (GFM, here with `marked`): whatever a task id,
 * param, log line, reason or cluster message holds, the HTML has no link but the action's own
 * (to the run and to the spec file on GitHub), no image, no raw tag, and no invisible character
 * that makes text read otherwise than it is (bidirectional overrides, zero-width spaces).
 * test/report/escape.test.ts checks the Markdown's structure; this checks what a reader gets.
 */
import { marked } from 'marked';
import { describe, expect, it } from 'vitest';
import { renderDryRunSummary, renderPlanSummary, renderRunSummary } from '../../src/report/summary.ts';
import { HOSTILE, hostileRun } from '../report/fixtures.ts';

const OURS = /^https:\/\/github\.com\/acme\/data-pipelines\/(blob|actions\/runs)\//;

function expectInert(markdown: string): void {
  const html = marked.parse(markdown, { gfm: true, async: false });
  const links = [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((m) => m[1]!);
  expect(links.filter((href) => !OURS.test(href))).toEqual([]);
  expect(html).not.toMatch(/<img|<script|<iframe|<svg|<style|<input/i);
  expect(html.match(/[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]/g) ?? []).toEqual([]);
}

describe('a summary of hostile text, as GitHub renders it', () => {
  it('links nothing but the run and the spec file, shows no image and no invisible control (run)', () => {
    const [i, state, tails] = hostileRun();
    expectInert(renderRunSummary(i, state, tails, { logTailLines: 50 }));
  });

  it('likewise for the plan and the dry run', () => {
    const [i] = hostileRun();
    const pods = Object.fromEntries(HOSTILE.map((h) => [h, { metadata: { name: h }, spec: { containers: [{ command: HOSTILE }] } }]));
    expectInert(renderPlanSummary(i, pods));
    expectInert(
      renderDryRunSummary(
        i,
        HOSTILE.map((h, n) => ({ task: h, pod: HOSTILE[(n + 1) % HOSTILE.length]!, accepted: n % 2 === 0, message: HOSTILE.join('\n'), problems: [h] })),
      ),
    );
  });

  it('still shows the URL, as text', () => {
    const [i, state, tails] = hostileRun();
    const html = marked.parse(renderRunSummary(i, state, tails, { logTailLines: 50 }), { gfm: true, async: false });
    expect(html).toContain('https&#58;//evil.example/track.png');
  });
});
