import { createHash } from 'node:crypto';
import type { UnixFSDirectoryEntry } from 'ipfs-unixfs-exporter';
import type { CID } from 'multiformats/cid';
import { escapeHtml, escapePath, escapeSegment } from '../url.ts';

/**
 * The generated HTML index of a UnixFS directory without index.html. The markup follows Kubo's
 * (boxo `gateway/assets/directory.html`) where the gateway-conformance suite checks it: "Index of",
 * breadcrumbs into `/ipfs/`, the `..` backlink (hidden at the root), name links to the content path,
 * and `class="ipfs-hash" translate="no"` links to each CID with `?filename=`.
 */

/** Cache-Control of generated listings: they change with the gateway, so not immutable. */
export const LISTING_CACHE_CONTROL = 'public, max-age=604800, stale-while-revalidate=2678400';

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#34373f;background:#fbfbfb}
main{max-width:1000px;margin:2em auto;padding:0 1em}
header{display:flex;flex-wrap:wrap;gap:.5em;align-items:baseline;padding:1em;background:#0b3a53;color:#fff;border-radius:4px 4px 0 0}
header a{color:#6bc4ce}
.ipfs-hash{font-family:ui-monospace,Menlo,Consolas,monospace;color:#7f8491;word-break:break-all}
header .ipfs-hash{color:#cfd2d8;flex-basis:100%}
.size{margin-left:auto;white-space:nowrap}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #ddd}
td{padding:.5em 1em;border-top:1px solid #eee}
td a{color:#117eb3;text-decoration:none;word-break:break-all}
td a:hover{text-decoration:underline}
.nowrap{white-space:nowrap}
.formats{padding:.5em 1em;font-size:.9em;color:#7f8491}`;

export interface ListingInit {
  /** The directory being listed. */
  cid: CID;
  /** Cumulative DAG size: the directory block plus every link's Tsize. */
  dagSize: number;
  /** The listed directory's content path, e.g. `/ipfs/{root}/a/b/` (the page title). */
  contentPath: string;
  /** The root as requested (`/ipfs/{root}`), shown first in the breadcrumbs. */
  rootText: string;
  /** Decoded path segments from the root to this directory. */
  segments: readonly string[];
  /** `/ipfs/{root}` on the path gateway, `` on a subdomain: the prefix of content-path links. */
  linkBase: string;
  /** `` on the path gateway; `//{domain}` on a subdomain, where `/ipfs/…` links must leave the root's origin. */
  gatewayPrefix: string;
  entries: AsyncIterable<UnixFSDirectoryEntry>;
}

/** `Etag` of a listing: the markup's version and the directory (gateway.md §1.4). */
export function listingEtag(cid: CID): string {
  return `"DirIndex-${LISTING_VERSION}_CID-${cid}"`;
}

/** Shortened CID as Kubo shows it: `bafy…wxyz`. */
function shortHash(cid: string): string {
  return cid.length <= 8 ? cid : `${cid.slice(0, 4)}\u2026${cid.slice(-4)}`;
}

/** Sizes in SI units, as Kubo's listing (go-humanize `Bytes`) shows them. */
export function humanSize(bytes: number): string {
  if (bytes < 10) return `${bytes} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.min(Math.floor(Math.log(bytes) / Math.log(1000)), units.length - 1);
  const value = Math.floor((bytes / 1000 ** e) * 10 + 0.5) / 10;
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${units[e]}`;
}

function breadcrumbs(init: ListingInit): string {
  const crumbs = ['/ipfs'];
  let path = `/ipfs/${escapeSegment(init.rootText)}`;
  crumbs.push(`<a href="${escapeHtml(init.gatewayPrefix + path)}">${escapeHtml(init.rootText)}</a>`);
  for (const segment of init.segments) {
    path += `/${escapeSegment(segment)}`;
    crumbs.push(`<a href="${escapeHtml(init.gatewayPrefix + path)}">${escapeHtml(segment)}</a>`);
  }
  return crumbs.join('/');
}

function header(init: ListingInit): string {
  const here = init.linkBase + escapePath(init.segments);
  const backlink =
    init.segments.length === 0
      ? ''
      : `<tr><td><a href="${escapeHtml(`${here}/..`)}">..</a></td><td></td><td></td></tr>\n`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="description" content="A directory of content-addressed files hosted on IPFS.">
<title>${escapeHtml(init.contentPath)}</title>
<style>${STYLE}</style>
</head>
<body>
<main id="main">
<header>
<strong>Index of ${breadcrumbs(init)}</strong>
<span class="size" title="Cumulative size of IPFS DAG (data + metadata)">${humanSize(init.dagSize)}</span>
<div class="ipfs-hash" translate="no">${init.cid}</div>
</header>
<table>
${backlink}`;
}

function row(init: ListingInit, entry: UnixFSDirectoryEntry): string {
  const href = `${init.linkBase}${escapePath(init.segments)}/${escapeSegment(entry.name)}`;
  const cid = entry.cid.toString();
  // Kubo escapes the name for the path and then again as a query value: `file-%25C5%25BA….txt`.
  const hashHref = `${init.gatewayPrefix}/ipfs/${cid}?filename=${encodeURIComponent(escapeSegment(entry.name))}`;
  return (
    `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(entry.name)}</a></td>` +
    `<td class="nowrap"><a class="ipfs-hash" translate="no" href="${escapeHtml(hashHref)}">${shortHash(cid)}</a></td>` +
    `<td class="nowrap" title="Cumulative size of IPFS DAG (data + metadata)">${humanSize(Number(entry.size))}</td></tr>\n`
  );
}

function footer(): string {
  return `</table>
<p class="formats">Also available as <a href="?format=car">CAR</a> or the directory's <a href="?format=raw">raw block</a>.</p>
</main>
</body>
</html>
`;
}

/** Rows are sent in batches as the entries arrive (a HAMT lists shard by shard). */
const ROWS_PER_CHUNK = 256;

/**
 * Streams the listing. Entries come from the directory's links (or its HAMT shards): their sizes
 * are the links' Tsize and no child block is fetched, so 10k entries stay cheap.
 */
export async function* renderListing(init: ListingInit): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let html = header(init);
  let rows = 0;
  for await (const entry of init.entries) {
    html += row(init, entry);
    if (++rows % ROWS_PER_CHUNK === 0) {
      yield encoder.encode(html);
      html = '';
    }
  }
  yield encoder.encode(html + footer());
}

/** Changes whenever the markup does, so cached listings are revalidated after an upgrade. */
const LISTING_VERSION = createHash('sha256')
  .update(STYLE)
  .update(header.toString())
  .update(row.toString())
  .update(breadcrumbs.toString())
  .update(footer.toString())
  .digest('hex')
  .slice(0, 12)
  .toUpperCase();
