/**
 * The discovered config as a file a person reads before using it: what each source gave or why it was skipped,
 * each check with where it came from and what is already wrong with it, and a commented `alerts:` block (channels
 * are never invented: where alerts go is the reader's choice).
 */
import { stringify } from 'yaml';
import type { Discovery } from './index.js';
import { ALERTS_EXAMPLE } from '../config/init-template.js';
import { proposalsYaml } from './propose.js';

export function sourceLines(d: Discovery): string[] {
  return d.sources.map((s) =>
    s.skipped ? `${s.source}: skipped (${s.from}): ${s.skipped}` : `${s.source}: ${s.from}: ${s.found ?? 'read'}`,
  );
}

export function discoveredYaml(d: Discovery, header: readonly string[] = []): string {
  const lines = [
    ...header.map((h) => `# ${h}`),
    '# Sources:',
    ...sourceLines(d).map((l) => `#   ${l}`),
    ...(d.remarks.length ? ['# Not proposed:', ...d.remarks.map((r) => `#   ${r}`)] : []),
    '',
  ];
  const checks = d.proposals.length ? proposalsYaml(d.proposals, (v) => stringify(v)) : 'checks: []\n';
  return `${lines.join('\n')}\n${checks}\n${ALERTS_EXAMPLE}`;
}
