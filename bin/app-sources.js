// The app's build inputs, hashed: svelte.config.js names the build after this hash (SvelteKit's
// `version.name`, which names the service worker's cache), and `npm start` rebuilds only when it changed
// (bin/build-app.js). Same sources and dependencies → same hash → same build.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Folders and files whose contents make the built app (paths relative to the repository). */
const INPUTS = [
  'src',
  'static',
  'svelte.config.js',
  'vite.config.ts',
  'tsconfig.json',
  'package.json',
  'package-lock.json',
  'bin/app-sources.js'
];

/** @param {string} root @param {string} rel @param {string[]} out */
function collect(root, rel, out) {
  const abs = path.join(root, rel);
  let stat;
  try {
    stat = fs.statSync(abs);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(abs).sort()) collect(root, path.posix.join(rel, name), out);
  } else if (stat.isFile()) {
    out.push(rel);
  }
}

/** A short hex hash of every build input's path and bytes (under `root`, the repository by default). */
export function appSourceHash(root = ROOT) {
  /** @type {string[]} */
  const files = [];
  for (const input of INPUTS) collect(root, input, files);
  const hash = createHash('sha256');
  for (const rel of files) {
    hash.update(`${rel}\0`);
    hash.update(fs.readFileSync(path.join(root, rel)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** The version the built app in `build/` was made from, if there is one (SvelteKit writes version.json). */
export function builtAppVersion(buildDir = path.join(ROOT, 'build')) {
  try {
    if (!fs.existsSync(path.join(buildDir, 'index.html'))) return null;
    const { version } = JSON.parse(fs.readFileSync(path.join(buildDir, '_app', 'version.json'), 'utf8'));
    return typeof version === 'string' ? version : null;
  } catch {
    return null;
  }
}
