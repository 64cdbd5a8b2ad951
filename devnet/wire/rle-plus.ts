// RLE+ bitfields (go-bitfield rle/): PublishStorageDealsReturn.ValidDeals. Bits are written
// least-significant first: version `00`, the value of the first run, then run lengths as `1` (1),
// `01` + 4 bits (2–15), or `00` + uvarint (≥ 16).

class BitWriter {
  readonly bytes: number[] = [];
  private bitCount = 0;
  write(value: number, width: number): void {
    for (let i = 0; i < width; i++) {
      if (this.bitCount % 8 === 0) this.bytes.push(0);
      if ((value >> i) & 1) this.bytes[this.bytes.length - 1]! |= 1 << (this.bitCount % 8);
      this.bitCount++;
    }
  }
}

class BitReader {
  private bit = 0;
  private readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
  get done(): boolean {
    return this.bit >= this.bytes.length * 8;
  }
  read(width: number): number {
    let value = 0;
    for (let i = 0; i < width; i++) {
      const byte = this.bytes[this.bit >> 3] ?? 0;
      value |= ((byte >> (this.bit & 7)) & 1) << i;
      this.bit++;
    }
    return value;
  }
}

/** Encodes a set of non-negative integers. */
export function encodeRlePlus(values: Iterable<number>): Uint8Array {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  const at = (i: number): number => sorted[i]!;
  if (sorted.length === 0) return new Uint8Array(0);
  // Alternating run lengths, starting with a run of zeros unless the set contains 0.
  const lengths: number[] = [];
  let cursor = 0;
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && at(j + 1) === at(j) + 1) j++;
    if (at(i) > cursor) lengths.push(at(i) - cursor);
    lengths.push(j - i + 1);
    cursor = at(j) + 1;
    i = j + 1;
  }
  const startsWithOne = sorted[0] === 0;
  const writer = new BitWriter();
  writer.write(0, 2);
  writer.write(startsWithOne ? 1 : 0, 1);
  for (const length of lengths) {
    if (length === 1) writer.write(1, 1);
    else if (length < 16) {
      writer.write(0b10, 2); // `01` read LSB-first
      writer.write(length, 4);
    } else {
      writer.write(0, 2);
      let rest = length;
      while (rest >= 0x80) {
        writer.write((rest & 0x7f) | 0x80, 8);
        rest = Math.floor(rest / 128);
      }
      writer.write(rest, 8);
    }
  }
  // Trailing zero bytes are invalid.
  while (writer.bytes.length > 0 && writer.bytes[writer.bytes.length - 1] === 0) writer.bytes.pop();
  return Uint8Array.from(writer.bytes);
}

export function decodeRlePlus(bytes: Uint8Array): number[] {
  if (bytes.length === 0) return [];
  const reader = new BitReader(bytes);
  if (reader.read(2) !== 0) throw new TypeError('unsupported RLE+ version');
  let value = reader.read(1);
  const out: number[] = [];
  let cursor = 0;
  while (!reader.done) {
    let length: number;
    const single = reader.read(1) === 1;
    const short = !single && reader.read(1) === 1;
    if (single) length = 1;
    else if (short) length = reader.read(4);
    else {
      length = 0;
      let shift = 1;
      for (;;) {
        const byte = reader.read(8);
        length += (byte & 0x7f) * shift;
        if ((byte & 0x80) === 0) break;
        shift *= 128;
      }
    }
    if (length === 0) break; // padding at the end of the last byte
    if (value === 1) for (let i = 0; i < length; i++) out.push(cursor + i);
    cursor += length;
    value ^= 1;
  }
  return out;
}
