import type { CID } from 'multiformats/cid';

/**
 * The one place the gateway reports what it served: body bytes and responses per root CID, in
 * memory. The service also hands each response to the bandwidth meter (server/metrics), which keeps
 * it per content and user in the database.
 */
export interface GatewayMeter {
  record(root: CID, bytes: number): void;
  /** Totals for one root, or undefined when it was never served. */
  served(root: CID): { bytes: number; responses: number } | undefined;
}

export function createGatewayMeter(): GatewayMeter {
  const byRoot = new Map<string, { bytes: number; responses: number }>();
  return {
    record(root, bytes) {
      // Count by the CIDv1 form so that v0 and v1 requests for one DAG add up.
      const key = root.toV1().toString();
      const entry = byRoot.get(key) ?? { bytes: 0, responses: 0 };
      entry.bytes += bytes;
      entry.responses += 1;
      byRoot.set(key, entry);
    },
    served: (root) => byRoot.get(root.toV1().toString())
  };
}
