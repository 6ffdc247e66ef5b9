/** Reading a spec file from disk: the only I/O of src/spec. */
import { constants } from 'node:fs';
import { open, readdir, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../common/errors.ts';
import { parseSpec } from './parse.ts';
import { positionAfter } from './position.ts';
import { closestMatch } from './suggest.ts';
import type { DagSpec, SpecIssue } from './types.ts';

/** The spec file could not be read (missing, a directory, no permission, outside the root, too large). */
export class SpecFileError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SpecFileError';
  }
}

/**
 * The largest spec file read: 1 MiB. A DAG of 2,000 tasks written out is about 250 KB; anything
 * larger is not a spec someone wrote, and reading it would only cost the runner memory.
 */
export const MAX_SPEC_BYTES = 1024 * 1024;

/** Options of `loadSpec` and `readSpecFile`. */
export interface LoadOptions {
  /** In a workflow (the default) a missing file hints at a missing checkout step. */
  inWorkflow?: boolean;
  /**
   * The folder the file must be inside once symlinks are resolved: the workspace for the action,
   * the current directory for the CLI. `null` reads any path (the CLI's `--allow-outside`).
   */
  root?: string | null;
}

/**
 * Reads the spec at `path` (relative to `cwd`) as text. It must be a regular file (no device,
 * FIFO, socket or directory), inside `root` (default `cwd`) once every symlink is resolved, and at
 * most MAX_SPEC_BYTES long. Every refusal is a SpecFileError that names the path and never shows
 * any of the file's content.
 */
export async function readSpecFile(path: string, cwd: string = process.cwd(), options: LoadOptions = {}): Promise<string> {
  return (await readSpecBytes(path, cwd, options)).toString('utf8');
}

/** The names of the .yaml and .yml files in `dir`, sorted; none when it cannot be read. */
async function yamlFilesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && /\.ya?ml$/i.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** The bytes of the spec at `path`, read under the rules of `readSpecFile`. */
async function readSpecBytes(path: string, cwd: string, options: LoadOptions): Promise<Buffer> {
  const abs = resolve(cwd, path);
  const root = options.root === undefined ? cwd : options.root;
  let real: string;
  try {
    real = await realpath(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // A typo in the name: the YAML files beside it, the closest first. Else, in a workflow, the
      // usual cause is a missing checkout step.
      // Only inside the root: the names of files elsewhere on the runner are none of the log's business.
      const inside = root === null || !relative(resolve(root), dirname(abs)).split(sep).includes('..');
      const beside = inside ? await yamlFilesIn(dirname(abs)) : [];
      const close = closestMatch(basename(abs), beside);
      const shown = close === null ? beside : [close, ...beside.filter((f) => f !== close)];
      const hint =
        beside.length > 0
          ? ` ${close === null ? 'The' : `Did you mean '${join(dirname(path), close)}'? The`} YAML files in ${dirname(abs)}: ${shown.slice(0, 10).join(', ')}${shown.length > 10 ? ` and ${shown.length - 10} more` : ''}.`
          : options.inWorkflow === false
            ? ''
            : ' Did you run actions/checkout before this step?';
      throw new SpecFileError(`DAG spec not found at '${path}' (resolved to ${abs}).${hint}`);
    }
    throw new SpecFileError(`cannot read DAG spec '${path}' (resolved to ${abs}): ${describeCode(code)}`);
  }
  if (root !== null) {
    const realRoot = await realpath(resolve(root)).catch(() => resolve(root));
    const rel = relative(realRoot, real);
    // The folder itself (`.`, the workspace's path) is inside it, and is a directory.
    if (rel === '') throw new SpecFileError(`DAG spec '${path}' (resolved to ${real}) is a directory; expected a YAML file`);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      const where = options.inWorkflow === false ? 'the current directory' : 'the workspace (the repository checkout)';
      const via = real === abs ? '' : ` (it resolves to ${real} through a symlink)`;
      throw new SpecFileError(
        `DAG spec '${path}' is outside ${where}, ${realRoot}${via}. The spec must be a file of the repository; give its path relative to ${options.inWorkflow === false ? 'the current directory (or pass --allow-outside)' : 'the workspace'}.`,
      );
    }
  }
  // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the path checked above is
  // the one opened (a symlink swapped in since would fail here rather than be followed).
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    throw new SpecFileError(`cannot read DAG spec '${path}' (resolved to ${real}): ${describeCode((err as NodeJS.ErrnoException).code)}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new SpecFileError(`DAG spec '${path}' (resolved to ${real}) is a directory; expected a YAML file`);
    if (!stat.isFile()) {
      throw new SpecFileError(`DAG spec '${path}' (resolved to ${real}) is ${kindOf(stat)}, not a regular file; expected a YAML file`);
    }
    if (stat.size > MAX_SPEC_BYTES) {
      throw new SpecFileError(`DAG spec '${path}' is ${stat.size} bytes; the limit is ${MAX_SPEC_BYTES} bytes (1 MiB). A spec that large is not a DAG spec; check the path.`);
    }
    // Read at most one byte past the limit: a file that grows after the check is still refused.
    const buffer = Buffer.alloc(MAX_SPEC_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_SPEC_BYTES) {
        throw new SpecFileError(`DAG spec '${path}' is more than ${MAX_SPEC_BYTES} bytes (1 MiB); check the path.`);
      }
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function kindOf(stat: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Words for a file system error code; never the file's content. */
function describeCode(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symlinks';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return code ?? 'unknown error';
  }
}

/**
 * Reads and parses the spec at `path` (relative to `cwd`). Throws SpecFileError when the file
 * cannot or may not be read (see `readSpecFile`); a file that reads but is invalid returns
 * `spec: null` and its issues.
 */
export async function loadSpec(path: string, cwd: string = process.cwd(), options: LoadOptions = {}): Promise<{ spec: DagSpec | null; issues: SpecIssue[] }> {
  const bytes = await readSpecBytes(path, cwd, options);
  const bad = firstInvalidUtf8(bytes);
  if (bad !== null) {
    // Decoding would put U+FFFD in its place, and a value would reach a pod changed.
    const before = bytes.subarray(0, bad).toString('utf8');
    const { line, col } = positionAfter(before);
    const byte = bytes[bad]!.toString(16).toUpperCase().padStart(2, '0');
    return {
      spec: null,
      issues: [{ file: path, line, col, path: '', message: `the file is not UTF-8 text: byte 0x${byte} here does not start a UTF-8 character (was it saved as Latin-1 or UTF-16?); save it as UTF-8` }],
    };
  }
  return parseSpec(bytes.toString('utf8'), path);
}

/** The offset of the first byte that is not part of a valid UTF-8 sequence, or null. */
export function firstInvalidUtf8(bytes: Uint8Array): number | null {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The length of the sequence and the range of its second byte (no overlongs, no surrogates, <= U+10FFFF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n > bytes.length) return i;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k]!;
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n;
  }
  return null;
}
