/**
 * Docker's log stream: without a TTY every chunk is framed with an 8-byte header
 * (stream byte 0/1/2, three zero bytes, big-endian payload length); with a TTY it is raw text.
 */

const HEADER = 8;

/** True when the buffer starts like a multiplexed frame, so a TTY stream is never misread as frames. */
function looksMultiplexed(buf: Buffer): boolean {
  return buf.length >= HEADER && (buf[0] as number) <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
}

/** Joins the payloads of every frame (stdout and stderr in arrival order); a truncated last frame keeps what arrived. */
export function demultiplex(buf: Buffer): string {
  if (!looksMultiplexed(buf)) return buf.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER <= buf.length) {
    if ((buf[offset] as number) > 2 || buf[offset + 1] !== 0 || buf[offset + 2] !== 0 || buf[offset + 3] !== 0) {
      // Not a frame header after all: keep the rest as text rather than dropping it.
      parts.push(buf.subarray(offset));
      offset = buf.length;
      break;
    }
    const size = buf.readUInt32BE(offset + 4);
    const start = offset + HEADER;
    parts.push(buf.subarray(start, Math.min(start + size, buf.length)));
    offset = start + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})\s/;

/** Strips the leading RFC 3339 timestamp `timestamps=1` adds to each line. */
function stripTimestamp(line: string): string {
  return line.replace(TIMESTAMP, '');
}

/** A quoted log line goes into alert subjects and chat messages: long enough for an exception, no more. */
const MAX_QUOTE = 300;

/** `text` cut to MAX_QUOTE characters (the ellipsis included), keeping the start where the message is. */
export function clipLine(text: string): string {
  return text.length <= MAX_QUOTE ? text : `${text.slice(0, MAX_QUOTE - 1)}…`;
}

const MEANINGFUL =
  /error|exception|fatal|panic|traceback|failed|failure|denied|refused|cannot|can't|unable|not found|no such|killed|invalid|missing/i;

/**
 * The line an alert should quote: the last one that names an error (a Python traceback ends with
 * the exception, a Go panic starts with it), else the last non-empty line.
 */
export function meaningfulLine(lines: readonly string[]): string | undefined {
  const texts = lines.map((l) => stripTimestamp(l).trim()).filter((l) => l.length > 0);
  for (let i = texts.length - 1; i >= 0; i--) {
    const t = texts[i] as string;
    if (MEANINGFUL.test(t) && !/^traceback \(most recent call last\):?$/i.test(t)) return t;
  }
  return texts.at(-1);
}
