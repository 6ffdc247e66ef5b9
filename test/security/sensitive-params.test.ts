/**
 * Params named like credentials (`db_password`, `api_token`…, as Airflow's sensitive field names)
 * are treated as the action's own credentials: masked in the step log, `***` in the job summary
 * (the params table and the rendered pods of a plan), in the `summary-json` file and the `outputs`
 * output. Other params are shown as they are.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSensitiveName, sensitiveValues, shownParams } from '../../src/common/sensitive.ts';
import { summaryJson } from '../../src/report/outputs.ts';
import { renderRunSummary } from '../../src/report/summary.ts';
import { runStep } from '../harness/action.ts';
import * as f from '../report/fixtures.ts';
import { workspace } from '../helpers/e2e.ts';

describe('sensitive param names', () => {
  it('are those that name a credential', () => {
    for (const n of ['db_password', 'PASSWD', 'api_token', 'apiKey', 'API-KEY', 'client_secret', 'private_key', 'aws_access_key_id', 'passphrase', 'credentials']) expect(isSensitiveName(n), n).toBe(true);
    for (const n of ['region', 'source_db', 'partition_key', 'keys', 'destination_host', 'tokens_per_batch_size'.replace('tokens', 'items')]) expect(isSensitiveName(n), n).toBe(false);
    expect(shownParams({ db_password: 'hunter2!', region: 'eu', api_token: '' })).toEqual({ db_password: '***', region: 'eu', api_token: '' });
    expect(sensitiveValues({ db_password: 'hunter2!', api_token: 'no', region: 'eu-west-1' })).toEqual(['hunter2!']);
  });
});

describe('a run summary and its summary-json', () => {
  it('show a sensitive param as ***, and the others as they are', () => {
    const info = f.info();
    info.params = { db_password: 'Hunter2-db-Passw0rd', region: 'us-east-2' };
    const text = renderRunSummary(info, f.successState(), {}, { logTailLines: 50 });
    expect(text).not.toContain('Hunter2');
    expect(text).toMatch(/`db_password` \| `\*\*\*`/);
    expect(text).toContain('`us-east-2`');
    expect(summaryJson(info, f.successState()).params).toEqual({ db_password: '***', region: 'us-east-2' });
  });
});

describe('a plan with a credential in its params (dist/index.js)', () => {
  it('masks it in the log and shows it nowhere: summary, rendered pods, summary-json, outputs', async () => {
    const password = 'Hunter2-db-Passw0rd';
    const cwd = await workspace(
      [
        'version: 1',
        'name: sensitive',
        'params: {db_password: x, region: eu}',
        'tasks:',
        '  load:',
        '    image: busybox',
        '    command: [load, --password, "{{ params.db_password }}", --region, "{{ params.region }}"]',
        '',
      ].join('\n'),
    );
    const temp = await mkdtemp(path.join(tmpdir(), 'pod-dag-sensitive-tmp-'));
    const step = await runStep({ cwd, inputs: { dag: 'dag.yaml', mode: 'plan', params: JSON.stringify({ db_password: password, region: 'us-east-2' }) }, env: { RUNNER_TEMP: temp } });
    expect(step.exitCode, step.stdout).toBe(0);
    expect(step.masks).toContain(password);
    const summaryJson = await readFile(step.outputs['summary-json']!, 'utf8');
    for (const [where, text] of Object.entries({ summary: step.summary, summaryJson, outputs: JSON.stringify(step.outputs), log: step.maskedLog })) {
      expect(text, where).not.toContain(password);
    }
    // The other param is shown, in the table and in the rendered command.
    expect(step.summary).toContain('`us-east-2`');
    expect(step.summary).toMatch(/`db_password` \| `\*\*\*`/);
  });
});
