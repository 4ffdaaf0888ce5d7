/** One JSON line per state change and per error. Secrets are redacted even if a caller slips. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.FORGEWATCH_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'forgewatch' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'token',
        'password',
        'secret',
        'webhook_url',
        '*.token',
        '*.password',
        '*.secret',
        '*.webhook_url',
        'authorization',
        '*.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
