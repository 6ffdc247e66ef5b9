/**
 * The release script's pure parts (version arithmetic, changelog editing), and the repository's
 * own changelog and workflows: the changelog can be released, and the workflows are valid YAML
 * that set Node up from .node-version and run what they say.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
    expect(read('e2e.yml')).toContain('POD_DAG_E2E_KUBECONFIG=');
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
