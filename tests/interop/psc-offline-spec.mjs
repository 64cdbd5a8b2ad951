// Loaded with `node --import` before the Pinning Service compliance CLI. The suite fetches the spec
// (ipfs/pinning-services-api-spec v1.0.0, ipfs-pinning-service.yaml) from raw.githubusercontent.com on
// every run; on a machine without internet access that fails every schema check. When
// PSC_SPEC_FILE names a local copy of that same file, this hook makes the suite read it instead.
// Nothing else of the suite is changed.
import { register } from 'node:module';

if (process.env.PSC_SPEC_FILE) {
  register(
    'data:text/javascript,' +
      encodeURIComponent(`
const url = ${JSON.stringify(new URL(`file://${process.env.PSC_SPEC_FILE}`).pathname)};
export async function load(specifier, context, next) {
  const out = await next(specifier, context);
  if (!specifier.endsWith('/pinning-service-compliance/dist/src/utils/constants.js')) return out;
  const source = String(out.source).replace(/const specLocation = [^;]+;/, 'const specLocation = ' + JSON.stringify(url) + ';');
  return { ...out, source };
}`)
  );
}
