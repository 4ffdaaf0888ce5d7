/**
 * Silences hold back a check's messages for a while; the check keeps running and keeps its metrics.
 * They come from the config or from POST /api/silences (kept in state_dir until they expire; in a fleet also in
 * etcd, so every node, and the leader's alerter above all, holds back the same messages).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/fs.js';
import { duration } from '../config/fields.js';
import { matcherSchema, type SilenceConfig } from './config.js';
import { matches, type MatchSubject } from './match.js';

export interface Silence {
  id: string;
  source: 'config' | 'api';
  match: Record<string, string>;
  from: string;
  until: string;
  reason: string;
  created_at?: string;
}

const postBody = z
  .strictObject({
    match: matcherSchema.refine((m) => Object.keys(m).length > 0, {
      message: 'match needs at least one key (check, type, status or a label)',
    }),
    from: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    duration: duration.refine((ms) => ms > 0, { message: 'must be longer than 0' }).optional(),
    reason: z.string().max(500).default(''),
  })
  .refine((b) => (b.until === undefined) !== (b.duration === undefined), {
    message: 'give either until (ISO time) or duration (e.g. 2h)',
  });

/** Where a fleet shares the silences added through the API (src/cluster/fleet-silences.ts). */
export interface SharedSilences {
  put(silence: Silence): Promise<void>;
}

export class Silences {
  private api: Silence[] = [];
  private configured: Silence[] = [];
  /** Added through the API of other nodes of the fleet. */
  private shared: Silence[] = [];
  private share: SharedSilences | undefined;
  private readonly file: string;

  constructor(
    stateDir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.file = path.join(stateDir, 'silences.json');
    try {
      const saved = JSON.parse(readFileSync(this.file, 'utf8')) as { silences?: Silence[] };
      this.api = (saved.silences ?? []).filter((s) => Date.parse(s.until) > this.now());
    } catch {
      this.api = [];
    }
  }

  setConfigured(list: SilenceConfig[]): void {
    this.configured = list.map((s, i) => ({
      id: `config-${i}`,
      source: 'config',
      match: s.match,
      from: s.from ?? new Date(0).toISOString(),
      until: s.until,
      reason: s.reason,
    }));
  }

  /** In a fleet: silences added here are shared there, and `fleetSilences` are the fleet's. */
  shareWith(share: SharedSilences | undefined): void {
    this.share = share;
  }

  setShared(fleetSilences: Silence[]): void {
    this.shared = fleetSilences;
  }

  private all(): Silence[] {
    const own = new Set(this.api.map((s) => s.id));
    return [...this.configured, ...this.api, ...this.shared.filter((s) => !own.has(s.id))];
  }

  /** The silence holding back messages for this subject right now, if any. */
  active(subject: MatchSubject): Silence | undefined {
    const t = this.now();
    return this.all().find((s) => Date.parse(s.from) <= t && t < Date.parse(s.until) && matches(s.match, subject));
  }

  list(): Silence[] {
    const t = this.now();
    return this.all().filter((s) => Date.parse(s.until) > t);
  }

  async add(body: unknown): Promise<Silence> {
    const parsed = postBody.safeParse(body);
    if (!parsed.success)
      throw new SilenceInputError(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      );
    const b = parsed.data;
    const from = b.from ?? new Date(this.now()).toISOString();
    const until = b.until ?? new Date(Date.parse(from) + (b.duration ?? 0)).toISOString();
    if (Date.parse(until) <= Date.parse(from)) throw new SilenceInputError('until must be later than from');
    const silence: Silence = {
      id: randomUUID(),
      source: 'api',
      match: b.match,
      from,
      until,
      reason: b.reason,
      created_at: new Date(this.now()).toISOString(),
    };
    this.api = [...this.api.filter((s) => Date.parse(s.until) > this.now()), silence];
    await writeFileAtomic(this.file, JSON.stringify({ silences: this.api }));
    // Kept here in any case: a node cut off from etcd still honours what was asked of it.
    await this.share?.put(silence);
    return silence;
  }
}

export class SilenceInputError extends Error {}
