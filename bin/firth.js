#!/usr/bin/env node
// The `firth` command. Node 24 runs the TypeScript sources directly (type stripping).
import { main } from '../server/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
