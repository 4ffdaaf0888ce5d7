/**
 * Open incidents as kept in state_dir/incidents.json, and the idempotency key of a notification about them.
 * Files written before incidents had a named state (flags `notified`, `due`) are read into the matching state.
 * The key is derived from what the message says (channel, checks, when their failure began, kind and how many
 * messages each incident had before), not drawn at random: when a crash lands between writing the outbox and
 * saving incidents.json, the restarted alerter re-creates the very same key and the outbox recognises it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/fs.js';
import type { Logger } from '../log.js';
import { INCIDENT_STATES, owedMessage, type IncidentState } from './incident-lifecycle.js';
import type { AlertEvent } from './types.js';

export interface Incident {
  check: string;
  state: IncidentState;
  /** The latest failing side of the check (kind firing). */
  event: AlertEvent;
  opened_at: string;
  /** Where its messages went. */
  channels: string[];
  /** The root cause it is folded under (state folded). */
  folded_under?: string;
  last_notified_at?: string;
  /** The recovery, once it recovered (states resolving and lapsing). */
  resolved?: AlertEvent;
  /** Messages queued about this incident so far; part of the next message's key. */
  sent?: number;
  /** The reason it failed for when it started failing differently, until the update about that goes out (state changing). */
  changed_from?: string;
}

// Only what the alerter relies on is checked; the events are re-checked in full when they reach the outbox.
const eventShape = z.looseObject({
  check: z.string(),
  type: z.string(),
  status: z.string(),
  reason: z.string(),
  since: z.string(),
  labels: z.record(z.string(), z.string()),
});
const commonShape = {
  check: z.string().min(1),
  event: eventShape,
  opened_at: z.string(),
  channels: z.array(z.string()),
  folded_under: z.string().optional(),
  last_notified_at: z.string().optional(),
  resolved: eventShape.optional(),
  sent: z.number().int().nonnegative().optional(),
  changed_from: z.string().optional(),
};
const incidentSchema = z.looseObject({ ...commonShape, state: z.enum(INCIDENT_STATES) });
/** As written before incidents had a named state: flags saying what was sent and what was due. */
const flagIncidentSchema = z.looseObject({
  ...commonShape,
  notified: z.boolean(),
  due: z.enum(['firing', 'reminder', 'resolved']).optional(),
});
type FlagIncident = z.infer<typeof flagIncidentSchema>;

/** The state an incident written with flags was in. */
function stateFromFlags(old: FlagIncident): IncidentState {
  const told = old.notified && old.folded_under === undefined;
  switch (old.due) {
    case 'firing':
      return told ? 'escalating' : 'pending';
    case 'reminder':
      return 'reminding';
    case 'resolved':
      return told ? 'resolving' : 'lapsing';
    default:
      return !old.notified ? 'silenced' : told ? 'notified' : 'folded';
  }
}

export function readIncident(raw: unknown): { incident: Incident } | { error: string | undefined } {
  const current = incidentSchema.safeParse(raw);
  if (current.success) {
    // `due` is only written for readers of the file.
    const { due: _due, ...incident } = current.data;
    return { incident: incident as unknown as Incident };
  }
  const old = flagIncidentSchema.safeParse(raw);
  if (!old.success) return { error: current.error.issues[0]?.message };
  const { notified: _notified, due: _due, ...rest } = old.data;
  const incident = { ...(rest as unknown as Incident), state: stateFromFlags(old.data) };
  // Only a folded incident keeps its root (the flags kept it after it was sent on its own, too).
  if (incident.state !== 'folded') delete incident.folded_under;
  return { incident };
}
const fileSchema = z.looseObject({ incidents: z.array(z.unknown()) });

/** Reads incidents.json; a file that cannot be used is kept aside as incidents.json.corrupt and logged. */
export function loadIncidents(file: string, logger: Logger): Incident[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.warn(
        { event: 'incidents_unreadable', file, error: (err as Error).message },
        'cannot read open alert incidents; starting without them',
      );
    return [];
  }
  let parsed;
  try {
    parsed = fileSchema.safeParse(JSON.parse(text));
  } catch (err) {
    parsed = { success: false as const, error: err as Error };
  }
  if (!parsed.success) {
    const aside = `${file}.corrupt`;
    try {
      renameSync(file, aside);
    } catch {
      // Overwritten by the next save then; the warning below still says what happened.
    }
    logger.warn(
      { event: 'incidents_unreadable', file, kept_as: aside, error: parsed.error.message.slice(0, 300) },
      'incidents.json is corrupt: open alerts are forgotten (a failing check alerts again, a recovery may go unannounced); the file is kept as incidents.json.corrupt',
    );
    return [];
  }
  const out: Incident[] = [];
  for (const raw of parsed.data.incidents) {
    const read = readIncident(raw);
    if ('incident' in read) out.push(read.incident);
    else
      logger.warn(
        {
          event: 'incident_unreadable',
          check: (raw as { check?: unknown } | null)?.check,
          error: read.error,
        },
        'an open alert incident in incidents.json is malformed; it is forgotten',
      );
  }
  return out;
}

/** Where the alerter keeps its incidents: state_dir/incidents.json alone, etcd in a fleet. */
export interface IncidentStore {
  /** Saves the incidents as they are now (in the background, in order). */
  save(incidents: Iterable<Incident>): void;
  /** Resolves once every save so far is stored (or failed and was logged). */
  saved(): Promise<void>;
}

/** The incidents an alerter starts with and where it keeps them. */
export interface IncidentPersistence {
  loaded: Incident[];
  store: IncidentStore;
}

export function incidentFile(stateDir: string, logger: Logger): IncidentPersistence {
  const file = path.join(stateDir, 'incidents.json');
  return { loaded: loadIncidents(file, logger), store: new IncidentFile(file, logger) };
}

export class IncidentFile implements IncidentStore {
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  save(incidents: Iterable<Incident>): void {
    // `due` repeats what the state owes, for people (and tools) reading the file; loading goes by the state.
    const snapshot = JSON.stringify({
      incidents: [...incidents].map((i) => ({ ...i, due: owedMessage(i.state) })),
    });
    this.saving = this.saving
      .then(() => writeFileAtomic(this.file, snapshot))
      .catch((err: Error) =>
        this.logger.error({ event: 'incidents_write_failed', error: err.message }, 'cannot save alert incidents'),
      );
  }

  /** Resolves once every save so far is on disk (or failed and was logged). */
  saved(): Promise<void> {
    return this.saving;
  }
}

/** One event of a message, as it counts for the key: the incident it is about and its place in that incident. */
export interface KeyPart {
  check: string;
  kind: string;
  opened_at: string;
  seq: number;
}

/** A UUID (version 8: custom, from SHA-256) so receivers that expect a UUID-shaped key keep working. */
export function notificationKey(channel: string, parts: KeyPart[]): string {
  const material = JSON.stringify([
    channel,
    ...[...parts].sort((a, b) => a.check.localeCompare(b.check)).map((p) => [p.check, p.kind, p.opened_at, p.seq]),
  ]);
  const b = createHash('sha256').update(material).digest().subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x80;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
