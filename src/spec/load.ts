/** Reading a spec file from disk: the only I/O of src/spec. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError } from '../common/errors.ts';
import { parseSpec } from './parse.ts';
import type { DagSpec, SpecIssue } from './types.ts';

/** The spec file could not be read (missing, a directory, no permission). */
export class SpecFileError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SpecFileError';
  }
}

/**
 * Reads and parses the spec at `path` (relative to `cwd`). Throws SpecFileError when the file
 * cannot be read; a file that reads but is invalid returns `spec: null` and its issues.
 */
export async function loadSpec(
  path: string,
  cwd: string = process.cwd(),
  options: { inWorkflow?: boolean } = {},
): Promise<{ spec: DagSpec | null; issues: SpecIssue[] }> {
  const abs = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // In a workflow the usual cause is a missing checkout step; from a terminal, a typo.
      const hint = options.inWorkflow === false ? '' : ' Did you run actions/checkout before this step?';
      throw new SpecFileError(`DAG spec not found at '${path}' (resolved to ${abs}).${hint}`);
    }
    if (code === 'EISDIR') throw new SpecFileError(`DAG spec '${path}' (resolved to ${abs}) is a directory; expected a YAML file`);
    throw new SpecFileError(`cannot read DAG spec '${path}' (resolved to ${abs}): ${(err as Error).message}`);
  }
  return parseSpec(text, path);
}
