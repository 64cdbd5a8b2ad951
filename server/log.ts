import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs. Secrets never reach here: headers that carry them are redacted. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.password',
        '*.token',
        'password',
        'token'
      ],
      censor: '[redacted]'
    }
  });
}
