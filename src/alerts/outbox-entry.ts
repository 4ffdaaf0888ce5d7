/**
 * The shape of one outbox file, checked when the files are read back at start-up: a file written by an older
 * version, cut short or edited by hand must not crash the sender, poison the sequence counter or be sent half
 * understood. Such files are moved to outbox/bad/ and logged, never deleted.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { JsonObject } from '../probes/types.js';
import type { Notification } from './types.js';

/** Ids end up in file names: nothing that could leave the directory. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const checkStatus = z.enum(['unknown', 'ok', 'warn', 'fail']);
const isoTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected a time' });
const jsonObject = z.custom<JsonObject>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
  message: 'expected an object',
});

const eventSchema = z.object({
  kind: z.enum(['firing', 'reminder', 'changed', 'resolved']),
  check: z.string().min(1),
  type: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  description: z.string().optional(),
  status: checkStatus,
  previous: checkStatus,
  reason: z.string(),
  previous_reason: z.string().optional(),
  hint: z.string().optional(),
  since: isoTime,
  at: isoTime,
  duration_ms: z.number().finite().optional(),
  details: jsonObject,
  dependents: z.array(z.object({ check: z.string(), status: checkStatus, reason: z.string(), since: z.string() })),
});

const notificationSchema = z.object({
  id: z.string().regex(ID),
  channel: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/),
  created_at: isoTime,
  events: z.array(eventSchema).min(1),
  rate_limited: z.object({ limit: z.number(), quiet_until: z.string() }).optional(),
  public_url: z.string().optional(),
  uncoordinated: z.object({ node: z.string(), reason: z.string() }).optional(),
});

const entrySchema = z.object({
  version: z.literal(1),
  seq: z.number().int().nonnegative().refine(Number.isSafeInteger, { message: 'expected a safe integer' }),
  notification: notificationSchema,
  attempts: z.number().int().nonnegative(),
  next_attempt_at: z.number().finite(),
  last_error: z.string().optional(),
});

export interface Entry {
  version: 1;
  seq: number;
  notification: Notification;
  attempts: number;
  next_attempt_at: number;
  last_error?: string;
}

/** An entry and the file it lives in (a loaded file keeps its own name, whatever its seq says). */
export interface Pending {
  entry: Entry;
  file: string;
}

export function entryFileName(entry: Entry): string {
  return `${String(entry.seq).padStart(12, '0')}-${entry.notification.id}.json`;
}

/** Reads one stored entry (from etcd, in a fleet): the entry, or what is wrong with it. */
export function parseEntry(text: string): Entry | string {
  try {
    const parsed = entrySchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data as Entry;
    return parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || 'entry'}: ${i.message}`)
      .join('; ');
  } catch (err) {
    return (err as Error).message;
  }
}

/** An entry is a few KiB; anything this large is junk and is moved aside unread, so it cannot exhaust memory. */
const MAX_ENTRY_BYTES = 1024 * 1024;

/** Why a file cannot be an entry without reading it (too large, not a regular file), or undefined. */
function unreadable(full: string): string | undefined {
  const stat = lstatSync(full);
  if (!stat.isFile()) return 'not a regular file';
  if (stat.size > MAX_ENTRY_BYTES) return `${stat.size} bytes, over the ${MAX_ENTRY_BYTES}-byte limit of an entry`;
  return undefined;
}

/** Reads every outbox file; unusable ones go to `bad/`. Leftover temp files of an interrupted write are removed. */
export function loadEntries(dir: string, logger: Logger): Pending[] {
  const out: Pending[] = [];
  const ids = new Set<string>();
  for (const file of readdirSync(dir).sort()) {
    const full = path.join(dir, file);
    if (file.endsWith('.tmp')) {
      try {
        unlinkSync(full);
      } catch {
        // Already gone.
      }
      continue;
    }
    if (!file.endsWith('.json')) continue;
    let problem: string;
    try {
      const refused = unreadable(full);
      if (refused) {
        moveToBad(dir, file, refused, logger);
        continue;
      }
      const parsed = entrySchema.safeParse(JSON.parse(readFileSync(full, 'utf8')));
      if (parsed.success && !ids.has(parsed.data.notification.id)) {
        ids.add(parsed.data.notification.id);
        out.push({ entry: parsed.data as Entry, file });
        continue;
      }
      problem = parsed.success
        ? `a second copy of notification ${parsed.data.notification.id}`
        : parsed.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.') || 'file'}: ${i.message}`)
            .join('; ');
    } catch (err) {
      problem = (err as Error).message;
    }
    moveToBad(dir, file, problem, logger);
  }
  return out.sort((a, b) => a.entry.seq - b.entry.seq);
}

function moveToBad(dir: string, file: string, problem: string, logger: Logger): void {
  const bad = path.join(dir, 'bad');
  try {
    mkdirSync(bad, { recursive: true });
    renameSync(path.join(dir, file), path.join(bad, file));
    logger.error(
      { event: 'outbox_bad_entry', file, moved_to: path.join(bad, file), error: problem },
      `outbox file ${file} is not a usable notification (${problem}); moved to outbox/bad/, it will not be sent`,
    );
  } catch (err) {
    logger.error(
      { event: 'outbox_bad_entry', file, error: problem, move_error: (err as Error).message },
      `outbox file ${file} is not a usable notification (${problem}) and could not be moved aside`,
    );
  }
}
