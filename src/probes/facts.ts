/** Building blocks the probe kinds' facts functions share: reading details JSON, certificate facts, raw fields. */
import type { Fact, FactTone, JsonObject, JsonValue } from './types.js';

/** Nested detail values longer than this are cut in alert messages. */
const MAX_FIELD_JSON = 1500;

export function jsonObject(v: JsonValue | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function jsonStrings(v: JsonValue | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The same thresholds for a served certificate and a file: under a week is urgent, under three weeks is due. */
export function expiryTone(days: number): FactTone {
  return days < 7 ? 'fail' : days < 21 ? 'warn' : 'ok';
}

/** "5 days left" or "expired 3 days ago", from a (fractional) days_left. */
export function daysLeftText(daysLeft: number): string {
  const days = Math.floor(daysLeft);
  return days < 0 ? `expired ${-days} days ago` : `${days} days left`;
}

/** Days left and the names covered or not, of a served certificate; its SANs and problem codes for alerts. */
export function certificateFacts(cert: JsonObject): Fact[] {
  const facts: Fact[] = [];
  if (typeof cert.days_left === 'number') {
    const days = Math.floor(cert.days_left);
    facts.push({
      label: 'certificate',
      text: days < 0 ? `certificate ${daysLeftText(days)}` : `certificate: ${daysLeftText(days)}`,
      tone: expiryTone(days),
    });
  }
  const covered = jsonStrings(cert.names_covered);
  const missing = jsonStrings(cert.names_missing);
  if (covered.length > 0) facts.push({ label: 'names covered', text: `covers ${covered.join(', ')}`, tone: 'ok' });
  if (missing.length > 0)
    facts.push({ label: 'names not covered', text: `not covered: ${missing.join(', ')}`, tone: 'fail' });
  const sans = jsonStrings(cert.sans);
  if (sans.length > 0)
    facts.push({ label: 'SANs', text: `SANs: ${sans.join(', ')}`, tone: 'neutral', alertOnly: true });
  const problems = jsonStrings(cert.problems);
  if (problems.length > 0)
    facts.push({
      label: 'TLS problems',
      text: `TLS problems: ${problems.join(', ')}`,
      tone: 'neutral',
      alertOnly: true,
    });
  return facts;
}

export interface FieldOptions {
  /** Keys another fact already says in words. */
  skip?: readonly string[];
  /** Whether arrays and objects are shown, as capped JSON. */
  nested: boolean;
}

/** The remaining detail fields for alert messages: scalars as "key: value", anything nested as capped JSON. */
export function fieldFacts(details: JsonObject, opts: FieldOptions): Fact[] {
  const facts: Fact[] = [];
  for (const [key, value] of Object.entries(details)) {
    if (value === null || opts.skip?.includes(key)) continue;
    let text: string;
    if (typeof value !== 'object') text = `${key}: ${String(value)}`;
    else if (!opts.nested) continue;
    else {
      const json = JSON.stringify(value);
      text = `${key}: ${json.length > MAX_FIELD_JSON ? `${json.slice(0, MAX_FIELD_JSON)}…` : json}`;
    }
    facts.push({ label: key, text, tone: 'neutral', alertOnly: true });
  }
  return facts;
}
