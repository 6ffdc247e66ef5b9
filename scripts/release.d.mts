// Types of the pure helpers of scripts/release.mjs, for its tests (test/docs/release.test.ts).

/** A release problem the user can fix; printed without a stack trace. */
export declare class ReleaseError extends Error {}
/** Parses `X.Y.Z` (with an optional `-pre` part); throws a ReleaseError otherwise. */
export declare function parseVersion(text: string): { major: number; minor: number; patch: number; pre: string | null };
/** Orders two versions (-1, 0, 1); a pre-release comes before its release. */
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
/** The version to release: `wanted` as given, or the bump of `current` it names (major, minor, patch). */
export declare function nextVersion(current: string, wanted: string): string;
/** The moving major tag of a version: `v1` for 1.4.0. */
export declare function majorTag(version: string): string;
/** The changelog with its Unreleased section released as `version` on `date`. */
export declare function releaseChangelog(text: string, version: string, date: string, previousVersion: string | null): string;
/** The text of one version's changelog section, for the release notes. */
export declare function releaseNotes(text: string, version: string): string;
