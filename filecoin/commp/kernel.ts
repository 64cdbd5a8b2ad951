// The CommP hashing kernel: a small WebAssembly module, assembled here from opcodes (there is no
// wasm toolchain in this project), with two functions over one memory:
//
// - `fr32(src, dst, quads)`: Fr32-expands `quads` × 127 payload bytes into `quads` × 128 bytes of
//   leaves, with 128-bit SIMD byte shifts, and stores every 32-bit word in SHA-256's big-endian word
//   order as a native (little-endian) i32, so the hash never swaps bytes;
// - `hash(src, dst, pairs)`: one tree level, `dst[i] = SHA-256(src[2i] ‖ src[2i+1])` truncated to
//   254 bits, four nodes at a time in the four i32 lanes of v128 registers. A node's message is
//   always 64 bytes, so the second (padding) block's message schedule is a constant folded into the
//   round constants. Safe in place (`dst == src`): a group reads its 256 bytes before writing.
//
// Nodes are kept as SHA words from the leaves up to a subtree's root; only roots become bytes.

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2
];
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** K[i] + W[i] of the padding block of a 64-byte message (0x80, zeros, bit length 512). */
const KP: number[] = (() => {
  const w = new Array<number>(64).fill(0);
  w[0] = 0x80000000;
  w[15] = 512;
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
    const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  return w.map((x, i) => (x + K[i]!) | 0);
})();

// --- a minimal wasm assembler ---------------------------------------------------------------

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Emits one function body; locals are declared up front as `i32`s then `v128`s. */
class Fn {
  readonly code: number[] = [];
  #i32 = 3; // the three parameters come first
  #v128 = 0;
  readonly #v128Base = 1000; // renumbered in `body()`

  i32(): number {
    if (this.code.length > 0) throw new Error('allocate i32 locals before emitting code');
    return this.#i32++;
  }
  v128(): number {
    return this.#v128Base + this.#v128++;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  #local(op: number, l: number): this {
    const idx = l >= this.#v128Base ? this.#i32 + (l - this.#v128Base) : l;
    return this.op(op, ...uleb(idx));
  }
  get(l: number): this {
    return this.#local(0x20, l);
  }
  set(l: number): this {
    return this.#local(0x21, l);
  }
  i32c(n: number): this {
    return this.op(0x41, ...sleb(n | 0));
  }
  simd(op: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(op), ...imm);
  }
  v128c(bytes: number[]): this {
    return this.simd(0x0c, ...bytes);
  }
  i32x4c(n: number): this {
    const b = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
    return this.v128c([...b, ...b, ...b, ...b]);
  }
  body(): number[] {
    // Locals are referenced by final index, so emission above must already have used it: the
    // i32 count is fixed before any v128 access because all i32 locals are allocated first.
    const decls = [
      [...uleb(this.#i32 - 3), I32],
      [...uleb(this.#v128), V128]
    ];
    const b = [...vec(decls), ...this.code, 0x0b];
    return [...uleb(b.length), ...b];
  }
}

// SIMD opcodes (after the 0xfd prefix).
const V_LOAD = 0x00;
const V_STORE = 0x0b;
const SHUFFLE = 0x0d;
const AND = 0x4e;
const OR = 0x50;
const XOR = 0x51;
const BITSELECT = 0x52;
const LOAD32_LANE = 0x56;
const STORE32_LANE = 0x5a;
const LOAD32_ZERO = 0x5c;
const I8_SHL = 0x6b;
const I8_SHR_U = 0x6d;
const I32_SHL = 0xab;
const I32_SHR_U = 0xad;
const I32_ADD = 0xae;
const memarg = (offset: number): number[] => [0, ...uleb(offset)];

function fr32Body(): number[] {
  const f = new Fn();
  const [src, dst, quads] = [0, 1, 2];
  const v = f.v128();
  const bswap = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];
  const topMask = [...new Array<number>(15).fill(0xff), 0x3f];
  f.op(0x02, 0x40, 0x03, 0x40); // block, loop
  f.get(quads).op(0x45, 0x0d, 1); // br_if 1 when quads == 0
  // Field element k holds payload bits 254k … 254k+253: bytes from 31k + ⌊6k/8⌋ shifted right.
  const starts = [0, 31, 63, 95];
  const shifts = [0, 6, 4, 2];
  for (let k = 0; k < 4; k++) {
    for (let h = 0; h < 2; h++) {
      const at = starts[k]! + 16 * h;
      const r = shifts[k]!;
      f.get(dst);
      f.get(src).simd(V_LOAD, ...memarg(at));
      if (r !== 0) {
        f.i32c(r).simd(I8_SHR_U);
        f.get(src)
          .simd(V_LOAD, ...memarg(at + 1))
          .i32c(8 - r)
          .simd(I8_SHL)
          .simd(OR);
      }
      if (h === 1) f.v128c(topMask).simd(AND); // the two top bits of byte 31 are zero
      f.set(v)
        .get(v)
        .get(v)
        .simd(SHUFFLE, ...bswap);
      f.simd(V_STORE, ...memarg(32 * k + 16 * h));
    }
  }
  f.get(src).i32c(127).op(0x6a).set(src);
  f.get(dst).i32c(128).op(0x6a).set(dst);
  f.get(quads).i32c(1).op(0x6b).set(quads);
  f.op(0x0c, 0, 0x0b, 0x0b); // br 0 (loop), end loop, end block
  return f.body();
}

function hashBody(): number[] {
  const f = new Fn();
  const [src, dst, pairs] = [0, 1, 2];
  const w = Array.from({ length: 64 }, () => f.v128());
  const s = Array.from({ length: 8 }, () => f.v128());
  const mid = Array.from({ length: 8 }, () => f.v128());
  const t1 = f.v128();

  const rot = (x: number, n: number): void => {
    f.get(x).i32c(n).simd(I32_SHR_U);
    f.get(x)
      .i32c(32 - n)
      .simd(I32_SHL)
      .simd(OR);
  };
  // Pushes Σ/σ(x) = rotr(x,a) ^ rotr(x,b) ^ (c < 0 ? x >>> -c : rotr(x,c)).
  const sigma = (x: number, a: number, b: number, c: number): void => {
    rot(x, a);
    rot(x, b);
    f.simd(XOR);
    if (c < 0) f.get(x).i32c(-c).simd(I32_SHR_U);
    else rot(x, c);
    f.simd(XOR);
  };
  // 64 rounds over state locals `v` (renamed, never moved); `kw(i)` pushes K[i] + W[i].
  const rounds = (v: number[], kw: (i: number) => void): number[] => {
    let [a, b, c, d, e, g, h, hh] = v as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < 64; i++) {
      // t1 = h + Σ1(e) + Ch(e, f, g) + K[i] + W[i]
      f.get(hh);
      sigma(e, 6, 11, 25);
      f.simd(I32_ADD);
      f.get(g).get(h).get(e).simd(BITSELECT).simd(I32_ADD);
      kw(i);
      f.simd(I32_ADD).set(t1);
      // d += t1; h = t1 + Σ0(a) + Maj(a, b, c)
      f.get(d).get(t1).simd(I32_ADD).set(d);
      f.get(t1);
      sigma(a, 2, 13, 22);
      f.simd(I32_ADD);
      f.get(b).get(c).get(a).get(c).simd(XOR).simd(BITSELECT).simd(I32_ADD).set(hh);
      [a, b, c, d, e, g, h, hh] = [hh, a, b, c, d, e, g, h];
    }
    return [a, b, c, d, e, g, h, hh];
  };

  const p = [f.i32(), f.i32(), f.i32(), f.i32()];
  f.op(0x02, 0x40, 0x03, 0x40); // block, loop
  f.get(pairs).i32c(1).op(0x48, 0x0d, 1); // br_if 1 when pairs < 1 (signed)
  for (let j = 0; j < 4; j++)
    f.get(src)
      .i32c(64 * j)
      .op(0x6a)
      .set(p[j]!);
  // W[0..15]: word i of the four nodes in the four lanes.
  for (let i = 0; i < 16; i++) {
    f.get(p[0]!)
      .simd(LOAD32_ZERO, 2, ...uleb(4 * i))
      .set(w[i]!);
    for (let j = 1; j < 4; j++) {
      f.get(p[j]!)
        .get(w[i]!)
        .simd(LOAD32_LANE, 2, ...uleb(4 * i), j)
        .set(w[i]!);
    }
  }
  for (let i = 16; i < 64; i++) {
    f.get(w[i - 16]!);
    sigma(w[i - 15]!, 7, 18, -3);
    f.simd(I32_ADD)
      .get(w[i - 7]!)
      .simd(I32_ADD);
    sigma(w[i - 2]!, 17, 19, -10);
    f.simd(I32_ADD).set(w[i]!);
  }
  for (let j = 0; j < 8; j++) f.i32x4c(IV[j]!).set(s[j]!);
  let out = rounds(s, (i) => {
    f.get(w[i]!).i32x4c(K[i]!).simd(I32_ADD);
  });
  for (let j = 0; j < 8; j++) {
    f.get(out[j]!).i32x4c(IV[j]!).simd(I32_ADD).set(mid[j]!);
    f.get(mid[j]!).set(s[j]!);
  }
  out = rounds(s, (i) => {
    f.i32x4c(KP[i]!);
  });
  for (let j = 0; j < 8; j++) {
    f.get(out[j]!).get(mid[j]!).simd(I32_ADD);
    if (j === 7) f.i32x4c(0xffffff3f).simd(AND); // byte 31 of the digest &= 0x3f
    f.set(t1);
    for (let lane = 0; lane < 4; lane++) {
      f.get(dst)
        .get(t1)
        .simd(STORE32_LANE, 2, ...uleb(32 * lane + 4 * j), lane);
    }
  }
  f.get(src).i32c(256).op(0x6a).set(src);
  f.get(dst).i32c(128).op(0x6a).set(dst);
  f.get(pairs).i32c(4).op(0x6b).set(pairs);
  f.op(0x0c, 0, 0x0b, 0x0b);
  return f.body();
}

let cachedModule: WebAssembly.Module | undefined;

/** The compiled kernel module (compiled once per thread). */
export function kernelModule(): WebAssembly.Module {
  if (cachedModule != null) return cachedModule;
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), 0]])),
    ...section(2, vec([[...str('e'), ...str('m'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [0]])),
    ...section(
      7,
      vec([
        [...str('fr32'), 0x00, 0],
        [...str('hash'), 0x00, 1]
      ])
    ),
    ...section(10, [...uleb(2), ...fr32Body(), ...hashBody()])
  ];
  cachedModule = new WebAssembly.Module(new Uint8Array(bytes));
  return cachedModule;
}

// --- tree math on words ---------------------------------------------------------------------

/** Payload bytes per Fr32 quad (four 254-bit field elements). */
export const QUAD = 127;

/** Zero-subtree commitments as SHA words, `ZERO_WORDS[i]` = Zi; filled by the first `Kernel`. */
const ZERO_WORDS: Int32Array[] = [];

/**
 * One thread's hasher of aligned subtrees: copy up to `capacity` payload bytes into `input`, then
 * `root(len, height)` pads them with zeros to whole quads and reduces them to one node at `height`
 * (leaves are height 0), padding odd levels with zero commitments.
 */
export class Kernel {
  readonly capacity: number;
  /** The payload staging area inside the wasm memory. */
  readonly input: Uint8Array;
  readonly #words: Int32Array;
  readonly #leaves: number;
  readonly #fr32: (src: number, dst: number, quads: number) => void;
  readonly #hash: (src: number, dst: number, pairs: number) => void;

  /** @param quads payload quads per subtree (a power of two) */
  constructor(quads: number) {
    this.capacity = quads * QUAD;
    const inputBytes = Math.ceil((this.capacity + 256) / 256) * 256;
    this.#leaves = inputBytes;
    const total = inputBytes + quads * 128 + 1024;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(total / 65536) });
    const instance = new WebAssembly.Instance(kernelModule(), { e: { m: memory } });
    const exports = instance.exports as {
      fr32: (src: number, dst: number, quads: number) => void;
      hash: (src: number, dst: number, pairs: number) => void;
    };
    this.#fr32 = exports.fr32;
    this.#hash = exports.hash;
    this.input = new Uint8Array(memory.buffer, 0, this.capacity);
    this.#words = new Int32Array(memory.buffer);
    if (ZERO_WORDS.length === 0) {
      ZERO_WORDS.push(new Int32Array(8));
      for (let i = 1; i < 64; i++) {
        this.#words.set(ZERO_WORDS[i - 1]!, this.#leaves / 4);
        this.#words.set(ZERO_WORDS[i - 1]!, this.#leaves / 4 + 8);
        this.#hash(this.#leaves, this.#leaves, 1);
        ZERO_WORDS.push(this.#words.slice(this.#leaves / 4, this.#leaves / 4 + 8));
      }
    }
  }

  /** Root (32 bytes) of the first `len` bytes of `input`, zero-padded, at tree `height`. */
  root(len: number, height: number): Uint8Array {
    const quads = Math.max(1, Math.ceil(len / QUAD));
    if (quads * QUAD > this.capacity) throw new RangeError('payload exceeds the kernel capacity');
    // Zero the tail of the last quad and the byte after it (read, then masked off, by fr32).
    const mem = new Uint8Array(this.#words.buffer);
    mem.fill(0, len, quads * QUAD + 16);
    this.#fr32(0, this.#leaves, quads);
    let count = quads * 4;
    const base = this.#leaves / 4;
    for (let level = 0; level < height; level++) {
      if (count % 2 === 1) this.#words.set(ZERO_WORDS[level]!, base + count * 8);
      count = Math.ceil(count / 2);
      this.#hash(this.#leaves, this.#leaves, count);
    }
    if (count !== 1) throw new RangeError(`height ${height} too small for ${len} bytes`);
    const out = new Uint8Array(32);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) view.setInt32(4 * i, this.#words[base + i]!);
    return out;
  }
}
