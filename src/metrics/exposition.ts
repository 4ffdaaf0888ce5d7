/**
 * Per-check series written straight into the Prometheus text format. At thousands of checks these are
 * nearly all of /metrics, and prom-client's generic path (label objects, hashing, per-sample formatting)
 * made a scrape of 10,000 checks block the event loop for about half a second.
 */

export interface Sample {
  /** Label values in the order of the family's labelNames. */
  values: readonly string[];
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  labelNames: readonly string[];
  samples: () => Iterable<Sample>;
}

export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The `# HELP` and `# TYPE` lines of a family. */
export function familyHeader(f: Pick<Family, 'name' | 'help' | 'type'>): string {
  return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
}

/** What goes before each label value of a family's samples: `{check="`, `,phase="`... */
export function labelPrefixes(labelNames: readonly string[]): string[] {
  return labelNames.map((l, i) => `${i === 0 ? '{' : ','}${l}="`);
}

/** One sample line; `prefixes` from labelPrefixes() of the family's label names. */
export function sampleLine(
  name: string,
  prefixes: readonly string[],
  values: readonly string[],
  value: number,
): string {
  let line = name;
  for (let i = 0; i < prefixes.length; i++) line += `${prefixes[i] as string}${escapeLabel(values[i] ?? '')}"`;
  if (prefixes.length > 0) line += '}';
  return `${line} ${formatValue(value)}\n`;
}

/** One family in the text format; empty when it has no samples, as prom-client leaves out nothing but HELP and TYPE. */
export function renderFamily(f: Family): string {
  const parts: string[] = [familyHeader(f)];
  const prefixes = labelPrefixes(f.labelNames);
  for (const s of f.samples()) parts.push(sampleLine(f.name, prefixes, s.values, s.value));
  return parts.join('');
}
