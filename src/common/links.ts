/**
 * The one link builder: the workflow run's URL as the pod annotation, the summary and the
 * `outputs` output give it, so they always agree.
 */
import type { RunContext } from './run.ts';

/** A URL path segment, with the characters that end a Markdown link destination encoded too. */
export function urlSegment(text: string): string {
  return encodeURIComponent(text).replace(/[()!*']/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The URL of the workflow run (and its attempt, after the first), or null outside a workflow. */
export function runUrl(context: Pick<RunContext, 'repository' | 'runId' | 'runAttempt' | 'serverUrl'>): string | null {
  const { repository, runId, runAttempt, serverUrl } = context;
  if (!repository || !runId) return null;
  const repo = repository.split('/').map(urlSegment).join('/');
  const base = `${serverUrl.replace(/\/+$/, '')}/${repo}/actions/runs/${urlSegment(runId)}`;
  return runAttempt > 1 ? `${base}/attempts/${runAttempt}` : base;
}
