#!/usr/bin/env node
// Releases the action: checks, builds, tests, bumps the version, dates the changelog, commits,
// tags vX.Y.Z and moves the major tag (v1) to it.
//
//   node scripts/release.mjs <X.Y.Z | major | minor | patch> [--dry-run] [--push]
//       --dry-run  run every check (clean tree, types, lint, build, dist/ and schema in sync,
//                  tests) and print what would change; change nothing
//       --push     push the release commit, the new tag and the moved major tag to origin
//   node scripts/release.mjs notes <X.Y.Z>     print that version's changelog section (release notes)
//   node scripts/release.mjs verify <vX.Y.Z>   check a tag is releasable: it names package.json's
//                                              version, the changelog has its section, dist/ is in
//                                              sync with a fresh build (used by release.yml)
//
// Pure helpers (version arithmetic, changelog editing) are exported for the tests; nothing runs
// on import.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_URL = 'https://github.com/org/pod-dag-action';
const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/;

/** A release problem the user can fix; printed without a stack trace. */
export class ReleaseError extends Error {
  name = 'ReleaseError';
}

/** Parses `X.Y.Z` (with an optional `-pre` part) into numbers; throws a ReleaseError otherwise. */
export function parseVersion(text) {
  const m = SEMVER.exec(text);
  if (!m) throw new ReleaseError(`"${text}" is not a version: expected X.Y.Z (e.g. 1.4.0), or major, minor or patch.`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? null };
}

/** Orders two versions (-1, 0, 1); a pre-release comes before its release. */
export function compareVersions(a, b) {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (const k of ['major', 'minor', 'patch']) if (x[k] !== y[k]) return x[k] < y[k] ? -1 : 1;
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** The version to release: `wanted` as given, or the bump of `current` it names. Must be newer. */
export function nextVersion(current, wanted) {
  const c = parseVersion(current);
  const next =
    wanted === 'major' ? `${c.major + 1}.0.0` : wanted === 'minor' ? `${c.major}.${c.minor + 1}.0` : wanted === 'patch' ? `${c.major}.${c.minor}.${c.pre ? c.patch : c.patch + 1}` : wanted.replace(/^v/, '');
  parseVersion(next);
  if (compareVersions(next, current) <= 0) throw new ReleaseError(`Version ${next} is not newer than the current ${current}.`);
  return next;
}

/** The moving major tag of a version: `v1` for 1.4.0. */
export function majorTag(version) {
  return `v${parseVersion(version).major}`;
}

const UNRELEASED = /^## \[Unreleased\][^\n]*\n/m;
const NEXT_SECTION = /^## \[/m;

/**
 * The changelog with its Unreleased section turned into the section of `version` (dated `date`,
 * YYYY-MM-DD), a fresh empty Unreleased section above it, and the comparison links at the bottom
 * updated. Throws when there is no Unreleased section or it lists nothing.
 */
export function releaseChangelog(text, version, date, previousVersion) {
  const head = UNRELEASED.exec(text);
  if (!head) throw new ReleaseError('CHANGELOG.md has no "## [Unreleased]" section: add one that lists the changes of this release.');
  const bodyStart = head.index + head[0].length;
  const rest = text.slice(bodyStart);
  const nextAt = rest.search(NEXT_SECTION);
  const linksAt = rest.search(/^\[[^\]]+\]: /m);
  const bodyEnd = bodyStart + Math.min(nextAt < 0 ? rest.length : nextAt, linksAt < 0 ? rest.length : linksAt);
  const body = text.slice(bodyStart, bodyEnd).trim();
  if (!/^- /m.test(body)) throw new ReleaseError('The "Unreleased" section of CHANGELOG.md lists no change: write what this release changes first.');
  if (new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\]`, 'm').test(text)) throw new ReleaseError(`CHANGELOG.md already has a section for ${version}.`);

  let out = `${text.slice(0, head.index)}## [Unreleased]\n\n## [${version}] - ${date}\n\n${body}\n\n${text.slice(bodyEnd).replace(/^\n+/, '')}`;
  // Comparison links (Keep a Changelog): Unreleased compares the new tag with HEAD.
  const unreleasedLink = `[Unreleased]: ${REPO_URL}/compare/v${version}...HEAD`;
  const versionLink = previousVersion ? `[${version}]: ${REPO_URL}/compare/v${previousVersion}...v${version}` : `[${version}]: ${REPO_URL}/releases/tag/v${version}`;
  if (/^\[Unreleased\]: .*$/m.test(out)) out = out.replace(/^\[Unreleased\]: .*$/m, `${unreleasedLink}\n${versionLink}`);
  else out = `${out.trimEnd()}\n\n${unreleasedLink}\n${versionLink}\n`;
  return out.replace(/\n{3,}/g, '\n\n');
}

/** The text of one version's section (without its heading), for the GitHub release's notes. */
export function releaseNotes(text, version) {
  const head = new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\][^\\n]*\\n`, 'm').exec(text);
  if (!head) throw new ReleaseError(`CHANGELOG.md has no section "## [${version}]".`);
  const rest = text.slice(head.index + head[0].length);
  const ends = [rest.search(NEXT_SECTION), rest.search(/^\[[^\]]+\]: /m)].filter((i) => i >= 0);
  return rest.slice(0, ends.length ? Math.min(...ends) : rest.length).trim() + '\n';
}

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: opts.inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] }) ?? '';
}

function step(title, fn) {
  process.stdout.write(`== ${title}\n`);
  return fn();
}

function npmRun(script) {
  step(`npm run ${script}`, () => sh('npm', ['run', '--silent', script], { inherit: true }));
}

/** Builds dist/ and the schema afresh and fails if either differs from what is committed. */
function checkInSync() {
  npmRun('build');
  npmRun('schema');
  const diff = sh('git', ['status', '--porcelain', '--', 'dist', 'schema']).trim();
  if (diff) throw new ReleaseError(`dist/ or schema/ differs from a fresh build:\n${diff}\nRun 'npm run build && npm run schema', commit the result, and release again.`);
}

function readJson(file) {
  return JSON.parse(readFileSync(path.join(ROOT, file), 'utf8'));
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function tagExists(tag) {
  try {
    sh('git', ['rev-parse', '-q', '--verify', `refs/tags/${tag}`]);
    return true;
  } catch {
    return false;
  }
}

function release(wanted, { dryRun, push }) {
  const pkg = readJson('package.json');
  const version = nextVersion(pkg.version, wanted);
  const tag = `v${version}`;
  // A pre-release (1.2.0-rc.1) gets its own tag; the major tag keeps pointing at the last release.
  const major = parseVersion(version).pre === null ? majorTag(version) : null;
  const changelogFile = path.join(ROOT, 'CHANGELOG.md');
  const changelog = releaseChangelog(readFileSync(changelogFile, 'utf8'), version, today(), tagExists(`v${pkg.version}`) ? pkg.version : null);

  step('the working tree is clean', () => {
    const dirty = sh('git', ['status', '--porcelain']).trim();
    if (dirty) throw new ReleaseError(`The working tree has uncommitted changes:\n${dirty}\nCommit or remove them first: a release is built from a commit, not from a working tree.`);
  });
  if (tagExists(tag)) throw new ReleaseError(`Tag ${tag} already exists. Pick another version.`);
  npmRun('typecheck');
  npmRun('lint');
  checkInSync();
  npmRun('test');

  const plan = [
    `set the version in package.json and package-lock.json to ${version} (was ${pkg.version})`,
    `move the Unreleased section of CHANGELOG.md under "## [${version}] - ${today()}"`,
    `commit "Release ${tag}"`,
    major ? `tag ${tag}, and move ${major} to it` : `tag ${tag} (a pre-release: no major tag moves)`,
    push ? `push the commit and ${[tag, major].filter(Boolean).join(' and ')} to origin` : `(not pushed: ${pushHint(tag, major)})`,
  ];
  if (dryRun) {
    process.stdout.write(`\nEverything checks out. Without --dry-run this would:\n${plan.map((p) => `  - ${p}`).join('\n')}\n`);
    return;
  }
  step(`version ${version}`, () => sh('npm', ['version', version, '--no-git-tag-version', '--allow-same-version']));
  writeFileSync(changelogFile, changelog);
  // The version may be bundled into dist/ (the CLI's --version): rebuild so the tag holds a dist/ in sync.
  npmRun('build');
  step(`commit and tag ${tag}`, () => {
    sh('git', ['add', '--', ...['package.json', 'package-lock.json', 'CHANGELOG.md', 'dist'].filter((f) => existsSync(path.join(ROOT, f)))]);
    sh('git', ['commit', '-q', '-m', `Release ${tag}`]);
    sh('git', ['tag', '-a', tag, '-m', `${tag}`]);
    if (major) sh('git', ['tag', '-f', '-a', major, '-m', `${major}: latest is ${tag}`, `${tag}^{commit}`]);
  });
  if (push) {
    step('push', () => {
      sh('git', ['push', 'origin', 'HEAD', tag], { inherit: true });
      if (major) sh('git', ['push', '-f', 'origin', `refs/tags/${major}`], { inherit: true });
    });
  }
  if (process.env.GITHUB_OUTPUT) writeFileSync(process.env.GITHUB_OUTPUT, `tag=${tag}\nversion=${version}\nmajor=${major ?? ''}\n`, { flag: 'a' });
  process.stdout.write(`\nReleased ${tag}${major ? `; ${major} points at it` : ''}.${push ? '' : ` Push with: ${pushHint(tag, major)}`}\n`);
}

/** The commands that publish a release made without --push. */
function pushHint(tag, major) {
  return `git push origin HEAD ${tag}${major ? ` && git push -f origin refs/tags/${major}` : ''}`;
}

function verify(tag) {
  const version = tag.replace(/^v/, '');
  parseVersion(version);
  const pkg = readJson('package.json');
  if (pkg.version !== version) throw new ReleaseError(`Tag ${tag} does not match package.json's version ${pkg.version}. Release with scripts/release.mjs, which sets both.`);
  releaseNotes(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'), version);
  checkInSync();
  if (process.env.GITHUB_OUTPUT) writeFileSync(process.env.GITHUB_OUTPUT, `tag=${tag}\nversion=${version}\nmajor=${majorTag(version)}\n`, { flag: 'a' });
  process.stdout.write(`${tag} is releasable.\n`);
}

function main(argv) {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const args = argv.filter((a) => !a.startsWith('--'));
  for (const f of flags) if (!['--dry-run', '--push'].includes(f)) throw new ReleaseError(`Unknown option ${f}. Options: --dry-run, --push.`);
  if (args[0] === 'notes' && args[1]) return void process.stdout.write(releaseNotes(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'), args[1].replace(/^v/, '')));
  if (args[0] === 'verify' && args[1]) return verify(args[1]);
  if (args.length !== 1) throw new ReleaseError('Usage: node scripts/release.mjs <X.Y.Z | major | minor | patch> [--dry-run] [--push] | notes <X.Y.Z> | verify <vX.Y.Z>');
  return release(args[0], { dryRun: flags.has('--dry-run'), push: flags.has('--push') });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ReleaseError) {
      process.stderr.write(`release: ${err.message}\n`);
      process.exit(1);
    }
    if (err && typeof err === 'object' && 'status' in err && 'stderr' in err) {
      // A command failed; its own output (inherited or captured) already says why.
      process.stderr.write(`release: a command failed (exit ${err.status}). ${String(err.stderr ?? '').trim()}\n`);
      process.exit(1);
    }
    throw err;
  }
}
