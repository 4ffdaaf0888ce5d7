/** Reusable config field types. Each produces the plain-language error a user sees next to file:line:col. */
import path from 'node:path';
import { validate as isValidCron } from 'node-cron';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/**
 * The folder relative file paths resolve against, for the validation running inside withBaseDir.
 * zod passes no context of its own to a transform, and the probe schemas are built once; this is
 * that context. Validation is synchronous, so the folder is set for the call and restored after it
 * (nested calls included). Not an AsyncLocalStorage: its first run() turns Node's async hooks on
 * for the rest of the process, a cost on every promise and callback of every probe afterwards.
 */
let configFolder: string | undefined;

/** Runs `fn` (a synchronous validation) with relative file paths resolving against `dir`. */
export function withBaseDir<T>(dir: string, fn: () => T): T {
  const outer = configFolder;
  configFolder = dir;
  try {
    return fn();
  } finally {
    configFolder = outer;
  }
}

function quoted(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected a duration such as 250ms, 30s, 5m, 1h or 7d, got ${quoted(v)}`,
    });
    return z.NEVER;
  }
  return ms;
});

export const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' });

export const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const bytes = typeof v === 'number' ? v : parseSize(v);
  if (bytes === undefined || bytes <= 0) {
    ctx.issues.push({ code: 'custom', input: v, message: `expected a size such as 512KiB or 1MiB, got ${quoted(v)}` });
    return z.NEVER;
  }
  return bytes;
});

/** A file path; relative ones resolve against the config file's folder (the working directory outside withBaseDir). */
export const filePath = z
  .string()
  .min(1)
  .transform((p) => path.resolve(configFolder ?? process.cwd(), p));

/** An HTTP status code or a range ("200-299"); stored as an inclusive [from, to]. */
export const statusMatcher = z.union([z.string(), z.number()]).transform((v, ctx): [number, number] => {
  const text = String(v).trim();
  const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(text);
  const from = m ? Number(m[1]) : NaN;
  const to = m?.[2] ? Number(m[2]) : from;
  if (!m || from < 100 || to > 599 || to < from) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `expected an HTTP status 100-599 or a range, got ${quoted(v)}`,
    });
    return z.NEVER;
  }
  return [from, to];
});

export const regex = z.string().transform((v, ctx) => {
  try {
    return new RegExp(v);
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: v,
      message: `invalid regular expression ${quoted(v)}: ${(err as Error).message}`,
    });
    return z.NEVER;
  }
});

export const port = z.number().int().min(1).max(65535);

const cronExpression = z.string().superRefine((v, ctx) => {
  if (!isValidCron(v)) {
    ctx.addIssue({
      code: 'custom',
      input: v,
      message: `invalid cron expression ${quoted(v)} (6 fields with seconds, or 5 fields, e.g. "*/15 * * * * *")`,
    });
  }
});

export const checkName = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, {
  message: 'must match [a-z0-9][a-z0-9_.-]* (lower case letters, digits, "_", "." and "-")',
});

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const labelMap = z.record(
  z.string().regex(LABEL_NAME),
  z.union([z.string(), z.number(), z.boolean()]).transform(String),
  {
    error: (issue) =>
      issue.code === 'invalid_key'
        ? `invalid label name ${quoted(issue.input)}: use letters, digits and "_", not starting with a digit, such as team or on_call`
        : undefined,
  },
);

/** Fields every check has, whatever its type; the type's own fields sit beside them. */
const commonCheckFields = {
  name: checkName,
  interval: positiveDuration.optional(),
  schedule: cronExpression.optional(),
  timeout: positiveDuration.optional(),
  failure_threshold: z.number().int().min(1).optional(),
  success_threshold: z.number().int().min(1).optional(),
  depends_on: z.array(checkName).optional(),
  labels: labelMap.optional(),
  description: z.string().optional(),
  /** Fleet node locations this check runs from, once each (vantage points). */
  locations: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'must be a location name, such as fra' }))
    .min(1)
    .refine((l) => new Set(l).size === l.length, { message: 'lists a location twice' })
    .optional(),
  /** How many locations must see a failure before the check fails (default: all listed). */
  quorum: z.number().int().min(1).optional(),
};

type CommonKeys = keyof typeof commonCheckFields | 'type';

/** What the scheduler and state machine need, with defaults applied. */
export interface ResolvedCommon {
  name: string;
  type: string;
  interval: number;
  schedule?: string;
  timeout: number;
  failure_threshold: number;
  success_threshold: number;
  depends_on: string[];
  labels: Record<string, string>;
  description?: string;
  locations?: string[];
  /** Set with locations: how many of them must fail for the check to fail. */
  quorum?: number;
}

/** Builds a check type's schema: common fields plus the type's own, unknown keys rejected. */
export function checkSchema<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ ...commonCheckFields, type: z.literal(type), ...shape }).superRefine((c, ctx) => {
    const { locations, quorum } = c as { locations?: string[]; quorum?: number };
    if (quorum === undefined) return;
    if (!locations)
      ctx.addIssue({ code: 'custom', path: ['quorum'], message: 'quorum needs locations: the locations it counts' });
    else if (quorum > locations.length)
      ctx.addIssue({
        code: 'custom',
        path: ['quorum'],
        message: `is ${quorum} but only ${locations.length} locations are listed`,
      });
  });
}

/** The check a probe receives: its own fields as validated, plus the common ones resolved. */
export type CheckOf<S extends z.ZodType> = Omit<z.output<S>, CommonKeys> &
  ResolvedCommon & { type: z.output<S> extends { type: infer T } ? T : string };
