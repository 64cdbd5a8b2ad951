// `npm run bench -- <name>`: runs one benchmark script from this folder and prints its table.
const BENCHES: Record<string, string> = {
  upload: './upload.ts',
  gateway: './gateway.ts',
  commp: './commp.ts',
  browser: './browser.ts',
  retrieval: './retrieval.ts',
  deals: './deals.ts',
  kubo: './kubo.ts'
};

const name = process.argv[2];
if (name == null || BENCHES[name] == null) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}>\n`);
  process.exit(2);
}
const mod = (await import(BENCHES[name])) as { main(args: string[]): Promise<void> };
await mod.main(process.argv.slice(3));
