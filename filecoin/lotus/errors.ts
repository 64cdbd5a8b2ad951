/** Lotus answered with a JSON-RPC error; `message` is exactly what Lotus sent. */
export class LotusError extends Error {
  override name = 'LotusError';
  readonly code: number;
  readonly method: string;
  constructor(method: string, code: number, message: string) {
    super(message);
    this.code = code;
    this.method = method;
  }
}

/** Lotus could not be reached, timed out, or answered something that is not JSON-RPC. */
export class LotusUnavailableError extends Error {
  override name = 'LotusUnavailableError';
  readonly method: string;
  constructor(method: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.method = method;
  }
}
