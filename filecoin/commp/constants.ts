/** Multicodec `fil-commitment-unsealed`: the codec of v1 piece CIDs (baga…). */
export const FIL_COMMITMENT_UNSEALED = 0xf101;
/** Multihash `sha2-256-trunc254-padded`: the v1 piece CID's hash (32-byte root). */
export const SHA2_256_TRUNC254_PADDED = 0x1012;
/** Multihash `fr32-sha256-trunc254-padbintree` (FRC-0069): uvarint(padding) ‖ height ‖ root. */
export const FR32_SHA256_TRUNC254_PADBINTREE = 0x1011;
/** Multicodec `raw`: the codec of v2 piece CIDs (bafkz…). */
export const RAW = 0x55;

/**
 * Payload quads (127 bytes each) per worker task: 2^16 quads = 8 323 072 bytes of payload, a
 * subtree of 2^18 leaves (8 MiB padded), height 18.
 */
export const SUBTREE_QUADS = 1 << 16;
export const SUBTREE_HEIGHT = 18;
