import type { CarParams } from './negotiate.ts';
import { GatewayError, type GatewayRequest, type GatewayResponse } from './types.ts';

// Placeholder until the trustless handlers land (raw blocks and CAR streaming).
export async function handleRaw(_req: GatewayRequest): Promise<GatewayResponse> {
  throw new GatewayError(501, 'raw blocks are not served yet');
}

export async function handleCar(_req: GatewayRequest, _params: CarParams): Promise<GatewayResponse> {
  throw new GatewayError(501, 'CAR responses are not served yet');
}
