#!/usr/bin/env -S node --max-semi-space-size=2
// The `firth` command. Node 24 runs the TypeScript sources directly (type stripping).
//
// --max-semi-space-size=2: V8 sizes the young generation from total RAM (up to 64 MiB per
// semi-space), which on this service mostly holds short-lived upload buffers; 2 MiB measured
// faster uploads and ~100 MB less peak RSS (bench/upload.ts). It has to be a command-line flag:
// set from inside the process it no longer takes effect.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `firth needs Node 24 (this is ${process.version}). Run it through npm, which uses the project's ` +
      'own Node: npm start, npm run serve, or npx firth …\n'
  );
  process.exit(1);
}
const { main } = await import('../server/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
