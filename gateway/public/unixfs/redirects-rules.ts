/**
 * The `_redirects` file format (specs: http-gateways/web-redirects-file): one `from to [status]`
 * rule a line, `#` comment lines, `\n` or `\r\n` endings, `:name` placeholders and a trailing `*`
 * splat in `from`, substituted (`:name`, `:splat`) in `to`. Pure parsing and matching; reading the
 * file and serving the outcome live in `redirects-file.ts`.
 */

/** The spec's cap on the file, in bytes. */
export const MAX_REDIRECTS_BYTES = 64 * 1024;

/** 200 rewrites, 3xx redirects, and the custom error pages the spec allows. */
const STATUSES = new Set([200, 301, 302, 303, 307, 308, 404, 410, 451]);
const DEFAULT_STATUS = 301;

export interface RedirectRule {
  /** `from` split on `/`, without the leading empty segment and without the splat. */
  from: string[];
  /** `from` ended with `/*`: the rest of the path is `:splat`. */
  splat: boolean;
  to: string;
  status: number;
}

export class RedirectsSyntaxError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'RedirectsSyntaxError';
  }
}

const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

export function parseRedirects(text: string): RedirectRule[] {
  const rules: RedirectRule[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/\s+/);
    const n = i + 1;
    if (fields.length < 2) throw new RedirectsSyntaxError(n, `missing "to" in "${trimmed}"`);
    if (fields.length > 3)
      throw new RedirectsSyntaxError(n, `too many fields in "${trimmed}": from to [status]`);
    const [from, to, code] = fields as [string, string, string | undefined];
    if (!from.startsWith('/')) throw new RedirectsSyntaxError(n, `"from" must start with "/": "${from}"`);
    if (!to.startsWith('/') && !ABSOLUTE_URL.test(to)) {
      throw new RedirectsSyntaxError(n, `"to" must be a path starting with "/" or a URL: "${to}"`);
    }
    let status = DEFAULT_STATUS;
    if (code != null) {
      if (code.endsWith('!')) {
        throw new RedirectsSyntaxError(
          n,
          `forced redirects ("${code}") are not supported: rules apply only to missing paths`
        );
      }
      if (!/^\d{3}$/.test(code) || !STATUSES.has(Number(code))) {
        throw new RedirectsSyntaxError(
          n,
          `unsupported redirect status "${code}": one of ${[...STATUSES].join(', ')}`
        );
      }
      status = Number(code);
    }
    if (
      status !== 301 &&
      status !== 302 &&
      status !== 303 &&
      status !== 307 &&
      status !== 308 &&
      !to.startsWith('/')
    ) {
      throw new RedirectsSyntaxError(n, `a ${status} rule serves a path of this root, not "${to}"`);
    }
    const splat = from === '/*' || from.endsWith('/*');
    const segments = (splat ? from.slice(0, -2) : from).split('/').filter((s) => s !== '');
    const names = segments.filter((s) => s.startsWith(':'));
    const repeated = names.find((name, k) => names.indexOf(name) !== k);
    if (repeated != null)
      throw new RedirectsSyntaxError(n, `placeholder ${repeated} appears twice in "${from}"`);
    rules.push({ from: segments, splat, to, status });
  }
  return rules;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The first rule matching `rawPath` (percent-encoded, as requested; a trailing `/` ignored), with
 * its placeholders filled in `to`; `undefined` when none matches.
 */
export function matchRedirect(
  rules: RedirectRule[],
  rawPath: string
): { to: string; status: number } | undefined {
  const path = rawPath.split('/').filter((s) => s !== '');
  for (const rule of rules) {
    if (rule.splat ? path.length < rule.from.length : path.length !== rule.from.length) continue;
    const values = new Map<string, string>();
    const matches = rule.from.every((segment, i) => {
      if (segment.startsWith(':')) {
        values.set(segment, path[i]!);
        return true;
      }
      return decoded(segment) === decoded(path[i]!);
    });
    if (!matches) continue;
    if (rule.splat) values.set(':splat', path.slice(rule.from.length).join('/'));
    const to = rule.to.replace(/:[A-Za-z0-9_]+/g, (token) => values.get(token) ?? token);
    return { to, status: rule.status };
  }
  return undefined;
}
