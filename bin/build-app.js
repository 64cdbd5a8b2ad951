#!/usr/bin/env node
// `npm start`'s first step: builds the app (vite build) unless build/ was already made from these exact
// sources, so a restart serves the same files the browsers' service workers have cached.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { appSourceHash, builtAppVersion } from './app-sources.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const wanted = appSourceHash();
if (builtAppVersion() === wanted) {
  process.stdout.write(`The app in build/ is up to date (version ${wanted}): not rebuilding.\n`);
} else {
  process.stdout.write(`Building the app (version ${wanted})…\n`);
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit'
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
