/**
 * Content-Type for deserialized UnixFS files: first by the file name's extension, then by sniffing
 * the first bytes (magic numbers, then the text heuristics of gateway.md §9.1: HTML, SVG/XML, JSON,
 * plain text). Kubo/boxo do the same with Go's `mime` table and gabriel-vasile/mimetype.
 */

/** How many leading bytes sniffing looks at (mimetype's default read limit). */
export const SNIFF_BYTES = 3072;

export const OCTET_STREAM = 'application/octet-stream';
const TEXT_PLAIN = 'text/plain; charset=utf-8';

const BY_EXTENSION: Record<string, string> = {
  // text and the web
  html: 'text/html',
  htm: 'text/html',
  xhtml: 'application/xhtml+xml',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  jsonld: 'application/ld+json',
  webmanifest: 'application/manifest+json',
  geojson: 'application/geo+json',
  xml: 'application/xml',
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  svg: 'image/svg+xml',
  txt: TEXT_PLAIN,
  text: TEXT_PLAIN,
  log: TEXT_PLAIN,
  md: 'text/markdown; charset=utf-8',
  markdown: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  toml: 'application/toml',
  ics: 'text/calendar; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
  srt: 'application/x-subrip',
  rtf: 'application/rtf',
  wasm: 'application/wasm',
  // images
  png: 'image/png',
  apng: 'image/apng',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  jfif: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  heif: 'image/heif',
  jxl: 'image/jxl',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  psd: 'image/vnd.adobe.photoshop',
  // audio and video
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  oga: 'audio/ogg',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  weba: 'audio/webm',
  mid: 'audio/midi',
  midi: 'audio/midi',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  ogv: 'video/ogg',
  avi: 'video/x-msvideo',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  m3u8: 'application/vnd.apple.mpegurl',
  // fonts
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  // documents and archives
  pdf: 'application/pdf',
  epub: 'application/epub+zip',
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  '7z': 'application/x-7z-compressed',
  rar: 'application/vnd.rar',
  car: 'application/vnd.ipld.car',
  cbor: 'application/cbor',
  bin: OCTET_STREAM,
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
  glb: 'model/gltf-binary',
  gltf: 'model/gltf+json'
};

/** The type for a file name's extension, or undefined when the extension says nothing. */
export function contentTypeFromName(name: string | undefined): string | undefined {
  if (name == null) return undefined;
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return undefined;
  return BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

function startsWith(bytes: Uint8Array, pattern: number[], offset = 0): boolean {
  if (bytes.length < offset + pattern.length) return false;
  return pattern.every((b, i) => bytes[offset + i] === b);
}

function contains(bytes: Uint8Array, text: string, limit = bytes.length): boolean {
  const pattern = ascii(text);
  const end = Math.min(bytes.length, limit) - pattern.length;
  for (let i = 0; i <= end; i++) if (startsWith(bytes, pattern, i)) return true;
  return false;
}

/** ISO base media (MP4, MOV, AVIF, HEIC, M4A) by its `ftyp` major brand. */
function isoMedia(bytes: Uint8Array): string | undefined {
  if (!startsWith(bytes, ascii('ftyp'), 4) || bytes.length < 12) return undefined;
  const brand = String.fromCharCode(...bytes.subarray(8, 12));
  if (brand === 'avif' || brand === 'avis') return 'image/avif';
  if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'image/heic';
  if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4';
  if (brand === 'qt  ') return 'video/quicktime';
  if (brand.startsWith('3g')) return 'video/3gpp';
  return 'video/mp4';
}

type Magic = [pattern: number[], offset: number, type: string];

const MAGIC: Magic[] = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0, 'image/png'],
  [[0xff, 0xd8, 0xff], 0, 'image/jpeg'],
  [ascii('GIF87a'), 0, 'image/gif'],
  [ascii('GIF89a'), 0, 'image/gif'],
  [ascii('WEBP'), 8, 'image/webp'],
  [ascii('WAVE'), 8, 'audio/wav'],
  [ascii('AVI '), 8, 'video/x-msvideo'],
  [[0x00, 0x00, 0x01, 0x00], 0, 'image/x-icon'],
  [[0x00, 0x00, 0x02, 0x00], 0, 'image/x-icon'],
  [[0x49, 0x49, 0x2a, 0x00], 0, 'image/tiff'],
  [[0x4d, 0x4d, 0x00, 0x2a], 0, 'image/tiff'],
  [[0xff, 0x0a], 0, 'image/jxl'],
  [[0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a], 0, 'image/jxl'],
  [ascii('8BPS'), 0, 'image/vnd.adobe.photoshop'],
  [ascii('%PDF-'), 0, 'application/pdf'],
  [ascii('%!PS-Adobe-'), 0, 'application/postscript'],
  [ascii('ID3'), 0, 'audio/mpeg'],
  [[0xff, 0xfb], 0, 'audio/mpeg'],
  [[0xff, 0xf3], 0, 'audio/mpeg'],
  [[0xff, 0xf2], 0, 'audio/mpeg'],
  [[0xff, 0xf1], 0, 'audio/aac'],
  [[0xff, 0xf9], 0, 'audio/aac'],
  [ascii('fLaC'), 0, 'audio/flac'],
  [ascii('MThd'), 0, 'audio/midi'],
  [ascii('wOFF'), 0, 'font/woff'],
  [ascii('wOF2'), 0, 'font/woff2'],
  [[0x00, 0x01, 0x00, 0x00, 0x00], 0, 'font/ttf'],
  [ascii('OTTO'), 0, 'font/otf'],
  [ascii('ttcf'), 0, 'font/collection'],
  [[0x50, 0x4b, 0x03, 0x04], 0, 'application/zip'],
  [[0x50, 0x4b, 0x05, 0x06], 0, 'application/zip'],
  [[0x1f, 0x8b], 0, 'application/gzip'],
  [ascii('BZh'), 0, 'application/x-bzip2'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 0, 'application/x-xz'],
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], 0, 'application/x-7z-compressed'],
  [[0x28, 0xb5, 0x2f, 0xfd], 0, 'application/zstd'],
  [[0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], 0, 'application/vnd.rar'],
  [ascii('ustar'), 257, 'application/x-tar'],
  [[0x00, 0x61, 0x73, 0x6d], 0, 'application/wasm'],
  [[...ascii('SQLite format 3'), 0], 0, 'application/vnd.sqlite3'],
  [[0x7f, 0x45, 0x4c, 0x46], 0, 'application/x-elf']
];

function byMagic(bytes: Uint8Array): string | undefined {
  for (const [pattern, offset, type] of MAGIC) {
    if (!startsWith(bytes, pattern, offset)) continue;
    // RIFF containers carry their kind at offset 8.
    if (offset === 8 && !startsWith(bytes, ascii('RIFF'))) continue;
    // An EPUB is a zip whose first entry is its `mimetype` file.
    if (type === 'application/zip' && contains(bytes, 'mimetypeapplication/epub+zip', 64)) {
      return 'application/epub+zip';
    }
    return type;
  }
  // BMP: "BM", a 4-byte size, then 4 reserved zero bytes (two letters alone would catch text).
  if (startsWith(bytes, ascii('BM')) && startsWith(bytes, [0, 0, 0, 0], 6)) return 'image/bmp';
  if (startsWith(bytes, [0x1a, 0x45, 0xdf, 0xa3])) {
    return contains(bytes, 'webm', 64) ? 'video/webm' : 'video/x-matroska';
  }
  if (startsWith(bytes, ascii('OggS'))) {
    return contains(bytes, 'theora', 64) ? 'video/ogg' : 'audio/ogg';
  }
  return isoMedia(bytes);
}

/** Decodes the sample as UTF-8, tolerating a character cut at the end of a partial sample. */
function utf8(bytes: Uint8Array, complete: boolean): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes, { stream: !complete });
  } catch {
    return undefined;
  }
}

// WHATWG MIME Sniffing §7.1, "identifying a resource with an unknown MIME type": the HTML patterns.
const HTML_TAGS = [
  '!doctype html',
  'html',
  'head',
  'script',
  'iframe',
  'h1',
  'div',
  'font',
  'table',
  'a',
  'style',
  'title',
  'b',
  'body',
  'br',
  'p',
  '!--'
];

function isHtml(text: string): boolean {
  const t = text.trimStart().toLowerCase();
  if (!t.startsWith('<')) return false;
  return HTML_TAGS.some((tag) => {
    if (!t.startsWith(tag, 1)) return false;
    const next = t.charAt(1 + tag.length);
    return tag === '!--' || next === ' ' || next === '>' || next === '\t' || next === '\n' || next === '\r';
  });
}

const SVG = /^\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*|<!doctype[^>]*>\s*)*<svg[\s>/]/i;

/**
 * Whether the sample is JSON: an object or array that parses completely, or, when the sample is
 * only the start of a longer file, whose text is valid JSON as far as it goes.
 */
export function isJson(text: string, complete: boolean): boolean {
  const t = text.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return false;
  if (complete) {
    try {
      JSON.parse(t);
      return true;
    } catch {
      return false;
    }
  }
  return jsonPrefixValid(t);
}

type Expect = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'comma-or-close' | 'end';

/** A small JSON tokenizer that accepts any valid prefix of a JSON document. */
function jsonPrefixValid(t: string): boolean {
  const stack: string[] = [];
  let expect: Expect = 'value';
  let i = 0;
  const afterValue = (): Expect => (stack.length === 0 ? 'end' : 'comma-or-close');
  while (i < t.length) {
    const c = t[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (expect === 'end') return false;
    if (expect === 'colon') {
      if (c !== ':') return false;
      expect = 'value';
      i++;
      continue;
    }
    if (expect === 'comma-or-close') {
      const top = stack.at(-1);
      if (c === ',') expect = top === '{' ? 'key' : 'value';
      else if ((c === '}' && top === '{') || (c === ']' && top === '[')) {
        stack.pop();
        expect = afterValue();
      } else return false;
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      const top = stack.at(-1);
      const closes = (c === '}' && top === '{' && expect === 'key-or-close') || (c === ']' && top === '[');
      if (!closes || expect === 'key' || expect === 'value') return false;
      stack.pop();
      expect = afterValue();
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < t.length && t[j] !== '"') {
        if (t[j] === '\\') j++;
        else if (t.charCodeAt(j) < 0x20) return false;
        j++;
      }
      if (j >= t.length) return true; // the sample ends inside a string
      expect = expect === 'key' || expect === 'key-or-close' ? 'colon' : afterValue();
      i = j + 1;
      continue;
    }
    if (expect === 'key' || expect === 'key-or-close') return false;
    if (c === '{' || c === '[') {
      stack.push(c);
      expect = c === '{' ? 'key-or-close' : 'value-or-close';
      i++;
      continue;
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(t.slice(i));
    if (literal == null) {
      // A literal or number cut by the end of the sample is still a valid prefix.
      const rest = t.slice(i);
      return /^(?:t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|n(?:u(?:ll?)?)?|-?\d*\.?\d*(?:[eE][+-]?\d*)?)$/.test(
        rest
      );
    }
    i += literal[0].length;
    expect = afterValue();
  }
  return true;
}

/** Text (after a BOM) with no bytes that only binary formats use. */
function isPlainText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Controls other than \t \n \f \r and ESC mark binary data.
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d && c !== 0x1b) || c === 0x7f) {
      return false;
    }
  }
  return true;
}

/**
 * The type of content by its leading bytes. `complete` says the sample is the whole file (so a
 * JSON document must parse entirely, and a cut-off character is an error).
 */
export function sniffContentType(sample: Uint8Array, complete: boolean): string {
  if (sample.length === 0) return TEXT_PLAIN;
  const magic = byMagic(sample);
  if (magic != null) return magic;
  if (startsWith(sample, [0xfe, 0xff])) return 'text/plain; charset=utf-16be';
  if (startsWith(sample, [0xff, 0xfe])) return 'text/plain; charset=utf-16le';
  const body = startsWith(sample, [0xef, 0xbb, 0xbf]) ? sample.subarray(3) : sample;
  const text = utf8(body, complete);
  if (text == null || !isPlainText(text)) return OCTET_STREAM;
  if (isHtml(text)) return 'text/html';
  if (SVG.test(text)) return 'image/svg+xml';
  if (/^\s*<\?xml[\s?]/.test(text)) return 'application/xml';
  if (isJson(text, complete)) return 'application/json';
  if (text.startsWith('{\\rtf')) return 'application/rtf';
  return TEXT_PLAIN;
}
