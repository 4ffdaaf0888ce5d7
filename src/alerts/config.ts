/** The `alerts:` block: channels, routes, grouping, reminders, rate limit, silences and delivery retries. */
import { z } from 'zod';
import { duration, filePath, port, positiveDuration } from '../config/fields.js';

/** Keys are `check` (glob), `status` (warn|fail), `type`, or a check label; values may use `*` as a wildcard. */
export const matcherSchema = z.record(
  z.string().min(1),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
);
export type Matcher = z.output<typeof matcherSchema>;

// Secret values are never echoed back in config errors (those reach logs and POST /-/reload answers).
const secretText = z
  .custom<string | number>((v) => typeof v === 'string' || typeof v === 'number', {
    message: 'expected a text value (not shown: it is a secret)',
  })
  .transform(String);
const secretUrl = z.custom<string>(
  (v) => typeof v === 'string' && URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
  {
    message: 'expected an http:// or https:// URL (not shown: it is a secret)',
  },
);

const channelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must match [A-Za-z0-9][A-Za-z0-9_.-]*' });
const timeout = positiveDuration.prefault('30s');

const emailChannel = z.strictObject({
  name: channelName,
  type: z.literal('email'),
  smtp: z.strictObject({
    host: z.string().min(1),
    port: port.optional(),
    secure: z.enum(['tls', 'starttls', 'none']).default('starttls'),
    user: z.string().min(1).optional(),
    password: secretText.optional(),
    /** PEM file with the CA that signed the server's certificate, for private CAs. */
    ca_file: filePath.optional(),
  }),
  from: z.string().min(3),
  to: z.array(z.string().min(3)).min(1),
  timeout,
});

const slackChannel = z.strictObject({ name: channelName, type: z.literal('slack'), webhook_url: secretUrl, timeout });

const webhookChannel = z.strictObject({
  name: channelName,
  type: z.literal('webhook'),
  url: secretUrl,
  secret: secretText.optional(),
  headers: z.record(z.string(), secretText).default({}),
  timeout,
});

const alertmanagerChannel = z.strictObject({
  name: channelName,
  type: z.literal('alertmanager'),
  url: z.url(),
  /** Firing alerts are posted again this often; Alertmanager resolves alerts it stops hearing about. */
  resend_every: positiveDuration.prefault('1m'),
  timeout,
});

// The type is checked first so an unknown one is reported as such, not as a mismatch with every channel kind.
export const channelSchema = z
  .looseObject({ type: z.enum(['email', 'slack', 'webhook', 'alertmanager']) })
  .pipe(z.discriminatedUnion('type', [emailChannel, slackChannel, webhookChannel, alertmanagerChannel]));
export type ChannelConfig = z.output<typeof channelSchema>;
export type EmailChannelConfig = z.output<typeof emailChannel>;
export type SlackChannelConfig = z.output<typeof slackChannel>;
export type WebhookChannelConfig = z.output<typeof webhookChannel>;
export type AlertmanagerChannelConfig = z.output<typeof alertmanagerChannel>;

const isoTime = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time such as 2026-12-01T02:00:00Z' });

export const silenceSchema = z
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
