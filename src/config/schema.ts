/** The top-level shape of forgewatch.yaml. Check entries are validated per type (see probes/index.ts). */
import { z } from 'zod';
import { alertsSchema } from '../alerts/config.js';
import { clusterSchema } from '../cluster/config.js';
import { parseListenAddress, type ListenAddress } from '../util/listen.js';
import { filePath, positiveDuration } from './fields.js';

const listen = z.string().transform((v, ctx): ListenAddress => {
  const parsed = parseListenAddress(v);
  if (parsed.ok) return parsed.address;
  ctx.issues.push({ code: 'custom', input: v, message: parsed.problem });
  return z.NEVER;
});

export const topLevelSchema = z.strictObject({
  server: z
    .strictObject({
      listen: listen.prefault('127.0.0.1:9464'),
      // Empty means no token, so `token: "${FORGEWATCH_TOKEN:-}"` serves openly until the variable is set.
      token: z
        .string()
        .optional()
        .transform((t) => (t === undefined || t.trim() === '' ? undefined : t)),
      public_url: z.url().optional(),
    })
    .prefault({}),
  state_dir: filePath.prefault('./.forgewatch'),
  defaults: z
    .strictObject({
      interval: positiveDuration.prefault('30s'),
      timeout: positiveDuration.prefault('10s'),
      failure_threshold: z.number().int().min(1).default(2),
      success_threshold: z.number().int().min(1).default(1),
    })
    .prefault({}),
  max_concurrency: z.number().int().min(1).max(100_000).default(64),
  checks: z.array(z.record(z.string(), z.unknown())).default([]),
  alerts: alertsSchema.optional(),
  cluster: clusterSchema.optional(),
});

export type TopLevel = z.output<typeof topLevelSchema>;
