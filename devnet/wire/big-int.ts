// Filecoin's big.Int byte form (go-state-types big/int.go): empty for zero, otherwise a sign byte
// (0x00 positive, 0x01 negative) followed by the big-endian magnitude.

export function encodeBigInt(value: bigint): Uint8Array {
  if (value === 0n) return new Uint8Array(0);
  const negative = value < 0n;
  let magnitude = negative ? -value : value;
  const digits: number[] = [];
  while (magnitude > 0n) {
    digits.unshift(Number(magnitude & 0xffn));
    magnitude >>= 8n;
  }
  return Uint8Array.from([negative ? 1 : 0, ...digits]);
}

export function decodeBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  if (bytes.length > 128) throw new RangeError('big int longer than 128 bytes');
  const sign = bytes[0];
  if (sign !== 0 && sign !== 1) throw new RangeError(`invalid big int sign byte ${sign}`);
  let value = 0n;
  for (const byte of bytes.subarray(1)) value = (value << 8n) | BigInt(byte);
  return sign === 1 ? -value : value;
}

/** Parses a decimal attoFIL string as Lotus's JSON carries big ints. */
export function parseBigIntString(text: unknown): bigint {
  if (typeof text !== 'string' || !/^-?\d+$/.test(text)) {
    throw new TypeError(`expected a decimal big int string, got ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}
