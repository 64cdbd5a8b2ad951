import type { ResponseFormat } from './negotiate.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from './types.ts';

// Placeholder until the deserialized handlers land (UnixFS files, directories, codecs).
export async function handleDeserialized(
  _req: GatewayRequest,
  _format: ResponseFormat
): Promise<GatewayResponse> {
  throw new GatewayError(501, 'deserialized responses are not served yet');
}
