/**
 * The release script's pure parts (version arithmetic, changelog editing), and the repository's
 * own changelog and workflows: the changelog can be released, and the workflows are valid YAML
 * that set Node up from .node-version and run what they say.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { compareVersions, majorTag, nextVersion, parseVersion, releaseChangelog, releaseNotes, ReleaseError } from '../../scripts/release.mjs';
import { ROOT } from '../harness/action.ts';

const CHANGELOG = `# Changelog

Intro.

## [Unreleased]

### Added

- Retries per failure class.

### Fixed

- A typo.

## [1.1.0] - 2026-10-01

### Added

- Dry run.

[Unreleased]: https://github.com/org/pod-dag-action/compare/v1.1.0...HEAD
[1.1.0]: https://github.com/org/pod-dag-action/compare/v1.0.0...v1.1.0
`;

describe('release versions', () => {
  it.each([
    ['1.1.0', 'patch', '1.1.1'],
    ['1.1.0', 'minor', '1.2.0'],
    ['1.1.0', 'major', '2.0.0'],
    ['1.1.0', '1.3.0', '1.3.0'],
    ['1.1.0', 'v1.3.0', '1.3.0'],
    ['1.2.0-rc.1', 'patch', '1.2.0'],
    ['1.1.0', '1.2.0-rc.1', '1.2.0-rc.1'],
  ])('from %s, "%s" releases %s', (current, wanted, expected) => {
    expect(nextVersion(current, wanted)).toBe(expected);
  });

  it.each([
    ['1.1.0', '1.1.0', 'not newer'],
    ['1.1.0', '1.0.9', 'not newer'],
    ['1.1.0', '1.2', 'is not a version'],
    ['1.1.0', 'next', 'is not a version'],
  ])('from %s, "%s" is refused (%s)', (current, wanted, message) => {
    expect(() => nextVersion(current, wanted)).toThrow(ReleaseError);
    expect(() => nextVersion(current, wanted)).toThrow(message);
  });

  it('orders a pre-release before its release', () => {
    expect(compareVersions('1.2.0-rc.1', '1.2.0')).toBe(-1);
    expect(compareVersions('1.10.0', '1.9.0')).toBe(1);
    expect(parseVersion('2.0.1')).toEqual({ major: 2, minor: 0, patch: 1, pre: null });
  });

  it('moves the tag of the major version', () => {
    expect(majorTag('1.4.2')).toBe('v1');
    expect(majorTag('2.0.0')).toBe('v2');
  });
});

describe('releasing the changelog', () => {
  const released = releaseChangelog(CHANGELOG, '1.2.0', '2026-11-24', '1.1.0');

  it('moves the Unreleased entries under the new version, dated, and leaves Unreleased empty', () => {
    expect(released).toContain('## [Unreleased]\n\n## [1.2.0] - 2026-11-24\n\n### Added\n\n- Retries per failure class.\n\n### Fixed\n\n- A typo.\n\n## [1.1.0] - 2026-10-01');
  });

  it('updates the comparison links', () => {
    expect(released).toContain(
      '[Unreleased]: https://github.com/org/pod-dag-action/compare/v1.2.0...HEAD\n[1.2.0]: https://github.com/org/pod-dag-action/compare/v1.1.0...v1.2.0\n[1.1.0]:',
    );
  });

  it('gives the notes of one version, without its heading or the next section', () => {
    expect(releaseNotes(released, '1.2.0')).toBe('### Added\n\n- Retries per failure class.\n\n### Fixed\n\n- A typo.\n');
    expect(releaseNotes(released, '1.1.0')).toBe('### Added\n\n- Dry run.\n');
  });

  it('links the first release to its tag', () => {
    const first = releaseChangelog('# Changelog\n\n## [Unreleased]\n\n- First.\n', '1.0.0', '2026-11-24', null);
    expect(first).toBe(
      '# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-11-24\n\n- First.\n\n[Unreleased]: https://github.com/org/pod-dag-action/compare/v1.0.0...HEAD\n[1.0.0]: https://github.com/org/pod-dag-action/releases/tag/v1.0.0\n',
    );
  });

  it('refuses a release with nothing listed, or a version already there', () => {
    expect(() => releaseChangelog(released, '1.3.0', '2026-11-25', '1.2.0')).toThrow('lists no change');
    expect(() => releaseChangelog(CHANGELOG, '1.1.0', '2026-11-25', '1.0.0')).toThrow('already has a section for 1.1.0');
    expect(() => releaseChangelog('# Changelog\n', '1.0.0', '2026-11-25', null)).toThrow('no "## [Unreleased]" section');
  });

  it("accepts the project's own CHANGELOG.md: it has Unreleased entries to release", () => {
    const own = readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8');
    const next = releaseChangelog(own, '1.0.0', '2026-11-24', null);
    expect(releaseNotes(next, '1.0.0')).toMatch(/^### Added\n\n- /);
  });
});

describe('workflows', () => {
  const read = (name: string) => readFileSync(path.join(ROOT, '.github', 'workflows', name), 'utf8');
  type Step = { uses?: string; run?: string; with?: Record<string, string> };
  const stepsOf = (text: string) => Object.values((parse(text) as { jobs: Record<string, { steps: Step[] }> }).jobs).flatMap((j) => j.steps);

  it.each(['e2e.yml', 'release.yml'])('%s is valid YAML and sets Node up from .node-version', (name) => {
    const doc = parseDocument(read(name), { uniqueKeys: true });
    expect(doc.errors.map((e) => e.message)).toEqual([]);
    const setup = stepsOf(read(name)).find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(setup?.with?.['node-version-file']).toBe('.node-version');
  });

  it('e2e creates a kind cluster, runs the real-cluster tests with a kubeconfig, and runs the action itself', () => {
    const steps = stepsOf(read('e2e.yml'));
    expect(steps.some((s) => s.uses?.startsWith('helm/kind-action@'))).toBe(true);
    // The one test-cluster switch (test/helpers/cluster.ts) names the kind cluster's kubeconfig.
    expect(read('e2e.yml')).toContain('POD_DAG_TEST_CLUSTER=kubeconfig:$kubeconfig');
    expect(steps.some((s) => s.run === 'npx vitest run -t @real-cluster')).toBe(true);
    expect(steps.filter((s) => s.uses === './').length).toBeGreaterThanOrEqual(3);
  });

  it('release verifies the tag, runs CI on it, publishes and moves the major tag', () => {
    const runs = stepsOf(read('release.yml')).map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('node scripts/release.mjs verify');
    expect(runs).toContain('bash .ci/run');
    expect(runs).toContain('gh release create');
    expect(runs).toContain('git push -f origin "refs/tags/$MAJOR"');
  });
});

describe('scripts/release.mjs, run in a scratch repository', () => {
  // A repository with the project's release script and npm scripts that only record that they
  // ran, so the whole flow (checks, bump, changelog, commit, tags) runs for real in seconds.
  const SCRIPTS = ['typecheck', 'lint', 'build', 'schema', 'test'];
  let dir: string;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  const release = (...args: string[]) =>
    spawnSync(process.execPath, ['scripts/release.mjs', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, GITHUB_OUTPUT: '' } });

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pod-dag-release-'));
    mkdirSync(path.join(dir, 'scripts'));
    mkdirSync(path.join(dir, 'dist'));
    copyFileSync(path.join(ROOT, 'scripts', 'release.mjs'), path.join(dir, 'scripts', 'release.mjs'));
    const scripts = Object.fromEntries(SCRIPTS.map((s) => [s, `node -e "require('fs').appendFileSync('ran.log', '${s}\\\\n')"`]));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.1.0', private: true, scripts }, null, 2) + '\n');
    writeFileSync(path.join(dir, 'CHANGELOG.md'), CHANGELOG);
    writeFileSync(path.join(dir, 'dist', 'index.js'), '// bundle\n');
    writeFileSync(path.join(dir, '.gitignore'), 'ran.log\n');
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    git('config', 'user.email', 'release-test@example.com');
    git('config', 'user.name', 'release test');
    git('add', '-A');
    git('commit', '-q', '-m', 'initial');
    git('tag', '-a', 'v1.1.0', '-m', 'v1.1.0');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--dry-run runs every check and changes nothing', () => {
    const r = release('minor', '--dry-run');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(path.join(dir, 'ran.log'), 'utf8').trim().split('\n')).toEqual(['typecheck', 'lint', 'build', 'schema', 'test']);
    expect(r.stdout).toContain('tag v1.2.0, and move v1 to it');
    expect(git('status', '--porcelain')).toBe('');
    expect(git('tag', '--list')).toBe('v1.1.0');
  });

  it('releases: bumps the version, dates the changelog, commits, tags vX.Y.Z and moves v1', () => {
    const r = release('1.2.0');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version).toBe('1.2.0');
    expect(readFileSync(path.join(dir, 'CHANGELOG.md'), 'utf8')).toMatch(/## \[Unreleased\]\n\n## \[1\.2\.0\] - \d{4}-\d\d-\d\d\n\n### Added\n\n- Retries per failure class\./);
    expect(git('log', '-1', '--format=%s')).toBe('Release v1.2.0');
    expect(git('rev-parse', 'v1.2.0^{commit}')).toBe(git('rev-parse', 'HEAD'));
    expect(git('rev-parse', 'v1^{commit}')).toBe(git('rev-parse', 'HEAD'));
    expect(git('status', '--porcelain')).toBe('');
  });

  it('refuses a dirty tree, before touching anything', () => {
    writeFileSync(path.join(dir, 'stray.txt'), 'x\n');
    const r = release('1.2.0');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('uncommitted changes');
    expect(r.stderr).toContain('stray.txt');
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version).toBe('1.1.0');
  });

  it('refuses a dist/ that a fresh build changes', () => {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    pkg.scripts.build = `node -e "require('fs').writeFileSync('dist/index.js', '// rebuilt\\\\n')"`;
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    git('commit', '-q', '-am', 'a build that changes dist');
    const r = release('1.2.0', '--dry-run');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('dist/ or schema/ differs from a fresh build');
  });

  it('verify accepts the tag of a release and refuses one that is not package.json\'s version', () => {
    expect(release('1.2.0').status).toBe(0);
    const ok = release('verify', 'v1.2.0');
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('v1.2.0 is releasable');
    const bad = release('verify', 'v1.3.0');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("does not match package.json's version 1.2.0");
  });
});
