/** The `alerts:` block: channels, routes, grouping, reminders, rate limit, silences and delivery retries. */
import { z } from 'zod';
import { duration, positiveDuration } from '../config/fields.js';
import { channelSchema } from './channels.js';

/** Keys are `check` (glob), `status` (warn|fail), `type`, or a check label; values may use `*` as a wildcard. */
export const matcherSchema = z.record(
  z.string().min(1),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
);
export type Matcher = z.output<typeof matcherSchema>;

export { channelSchema, type ChannelConfig } from './channels.js';

const isoTime = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-12-01T02:00:00Z' });

const silenceSchema = z
  .strictObject({ match: matcherSchema, from: isoTime.optional(), until: isoTime, reason: z.string().default('') })
  .refine((s) => !s.from || Date.parse(s.from) < Date.parse(s.until), {
    message: 'until must be later than from',
    path: ['until'],
  });
export type SilenceConfig = z.output<typeof silenceSchema>;

const MAX_RETRY_WAIT_MS = 600_000;
/** The delivery guarantee the docs make: an undelivered alert is retried for at least a day by default. */
export const DEFAULT_GIVE_UP_MS = 86_400_000;

export const alertsSchema = z
  .strictObject({
    channels: z.array(channelSchema).default([]),
    routes: z
      .array(z.strictObject({ match: matcherSchema.default({}), channels: z.array(z.string()).min(1) }))
      .default([]),
    group_wait: duration.prefault('10s'),
    repeat_every: duration.prefault('4h'),
    send_resolved: z.boolean().default(true),
    /** A failing check whose failure changes class (502 then connection refused) is announced again. */
    notify_on_change: z.boolean().default(true),
    max_per_hour: z.number().int().min(1).default(20),
    silences: z.array(silenceSchema).default([]),
    retry: z
      .strictObject({
        initial: positiveDuration.prefault('5s'),
        max: positiveDuration
          .refine((ms) => ms <= MAX_RETRY_WAIT_MS, {
            message: 'must be at most 10m: a longer wait leaves a recovered receiver idle',
          })
          .prefault('10m'),
        // Shorter than a day is allowed (forgewatch logs a warning): some would rather drop a stale alert sooner.
        give_up_after: positiveDuration.prefault('24h'),
      })
      .refine((r) => r.initial <= r.max, { message: 'must not be longer than retry.max', path: ['initial'] })
      .prefault({}),
  })
  .superRefine((a, ctx) => {
    const names = new Set<string>();
    a.channels.forEach((c, i) => {
      if (names.has(c.name))
        ctx.addIssue({
          code: 'custom',
          path: ['channels', i, 'name'],
          message: `duplicate channel name ${JSON.stringify(c.name)}`,
        });
      names.add(c.name);
    });
    a.routes.forEach((r, i) =>
      r.channels.forEach((name, j) => {
        if (!names.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'channels', j],
            message: `no channel named ${JSON.stringify(name)} (channels: ${[...names].join(', ') || 'none'})`,
          });
      }),
    );
  });
export type AlertsConfig = z.output<typeof alertsSchema>;

export const DEFAULT_ALERTS: AlertsConfig = alertsSchema.parse({});
