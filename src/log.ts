/**
 * One line per state change and per error: JSON by default (for log shippers), or readable text for a
 * person at a terminal. Secrets are redacted even if a caller slips.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

export function createLogger(level = process.env.FORGEWATCH_LOG_LEVEL ?? 'info', format: LogFormat = 'json'): Logger {
  const options = {
    level,
    base: { service: 'forgewatch' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"info" rather than pino's 30: readable in a terminal and in a log search alike.
    formatters: { level: (label: string) => ({ level: label }) },
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
  };
  return format === 'json' ? pino(options) : pino(options, textDestination(process.stdout));
}

/** Fields every line has or that the text line already shows in its own place. */
const SHOWN_ELSEWHERE = new Set(['time', 'level', 'msg', 'event', 'service', 'pid', 'hostname']);

/** `2026-11-29T23:00:00.000Z INFO  transition api: ok -> fail: status 502  hint="…"`: pino's JSON, one line each. */
export function formatTextLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const msg = typeof entry.msg === 'string' ? entry.msg : '';
  const extras = Object.entries(entry)
    .filter(([key, value]) => !SHOWN_ELSEWHERE.has(key) && value !== undefined && value !== null)
    // The message usually says the check, its states and reason already: only what it leaves out follows.
    .filter(([, value]) => typeof value !== 'string' || !msg.includes(value))
    .map(([key, value]) => `${key}=${textValue(value)}`);
  return [
    String(entry.time ?? ''),
    String(entry.level ?? '')
      .toUpperCase()
      .padEnd(5),
    ...(typeof entry.event === 'string' ? [entry.event] : []),
    msg,
    ...(extras.length ? [` ${extras.join(' ')}`] : []),
  ]
    .filter((part) => part !== '')
    .join(' ')
    .replaceAll('\n', ' ');
}

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function textDestination(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(`${formatTextLine(line)}\n`);
    },
  };
}
