/** A short hex hash of every build input's path and bytes (under `root`, the repository by default). */
export function appSourceHash(root?: string): string;
/** The version the built app in `buildDir` (build/) was made from, if there is one. */
export function builtAppVersion(buildDir?: string): string | null;
