export * from './cbor.ts';
export * from './client.ts';
