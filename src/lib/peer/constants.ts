/** IndexedDB database holding the browser peer's blocks (`blockstore-idb` layout: one object store, same name). */
export const BLOCKSTORE_DB = '/firth/blocks';
/** IndexedDB database holding the peer's datastore: its identity key, peer store. */
export const DATASTORE_DB = '/firth/data';
/** IndexedDB database holding the upload queue. */
export const UPLOADS_DB = '/firth/uploads';

/** Blocks written in one IndexedDB transaction (measured in Chromium: ≈ 16 × 1 MiB per transaction is the knee). */
export const BLOCKS_PER_TRANSACTION = 16;

/** Reconnect backoff to the service: first delay, cap. */
export const RECONNECT_MIN_MS = 500;
export const RECONNECT_MAX_MS = 30_000;

/** How often a pin's status is polled while it is queued or pinning. */
export const PIN_POLL_MS = 1000;

/** How often a pin is polled while live status arrives over gossipsub (the poll is then only a fallback). */
export const PIN_POLL_GOSSIP_MS = 10_000;
/** Gossip counts as live for this long after its last message. */
export const GOSSIP_FRESH_MS = 15_000;
