#!/usr/bin/env -S node --max-semi-space-size=2
// The `firth` command. Node 24 runs the TypeScript sources directly (type stripping).
//
// --max-semi-space-size=2: V8 sizes the young generation from total RAM (up to 64 MiB per
// semi-space), which on this service mostly holds short-lived upload buffers; 2 MiB measured
// faster uploads and ~100 MB less peak RSS (bench/upload.ts). It has to be a command-line flag:
// set from inside the process it no longer takes effect.
import { main } from '../server/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
