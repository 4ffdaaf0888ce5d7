/**
 * `forgewatch discover`: prints (or writes) the config discovery proposes for this machine. The text is parsed
 * as a config before it is shown, so what is printed always passes `forgewatch validate`; `--write` writes it
 * whole (a temporary file renamed) and never over an existing file without `--force`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import { writeFileAtomic } from '../util/fs.js';
import { discover, type Discovery } from './index.js';
import { discoveredYaml, sourceLines } from './render.js';

export interface DiscoverFlags {
  nginx?: string;
  letsencrypt?: string;
  docker?: string;
  write?: string;
  json: boolean;
  force: boolean;
}

export class DiscoverUsageError extends Error {}

export const DISCOVER_USAGE = `forgewatch discover [--nginx auto|off|PATH] [--letsencrypt DIR|off] [--docker SOCKET|off] [--write PATH] [--force] [--json]

Reads this machine and prints a commented config with the checks it proposes, each saying where it came from:
  --nginx auto|off|PATH   auto (default) runs nginx -T; PATH is a config file or saved nginx -T output
  --letsencrypt DIR|off   certbot's directory (default /etc/letsencrypt)
  --docker SOCKET|off     the Docker Engine socket (default DOCKER_HOST's unix path, else /var/run/docker.sock)
  --write PATH            write the config to PATH instead of printing it (--force overwrites a file there)
  --json                  the sources and proposed checks as JSON
The port table (/proc/net/tcp, tcp6) is always read: listeners seen in two scans 3 s apart.
A source that is absent or unreadable is reported as skipped with the reason. Exit 0, or 2 on a usage error.`;

/** The config text for a discovery, checked to parse as a config: a proposal that does not is a bug, not output. */
export function discoveryConfigText(d: Discovery, header: readonly string[]): string {
  const text = discoveredYaml(d, header);
  parseConfig(text, '(discovered)', {}, process.cwd());
  return text;
}

function discoveryJson(d: Discovery): unknown {
  return {
    sources: d.sources,
    checks: d.proposals.map((p) => ({ ...p.check, source: p.source, notes: p.notes })),
    remarks: d.remarks,
  };
}

export async function runDiscover(flags: DiscoverFlags): Promise<number> {
  for (const [flag, value] of [
    ['--nginx', flags.nginx],
    ['--letsencrypt', flags.letsencrypt],
    ['--docker', flags.docker],
    ['--write', flags.write],
  ] as const)
    if (value === '') throw new DiscoverUsageError(`${flag} needs a value`);
  if (flags.write && existsSync(flags.write) && !flags.force)
    throw new DiscoverUsageError(`${flags.write} exists; use --force to overwrite it`);
  const d = await discover({
    ...(flags.nginx ? { nginx: flags.nginx } : {}),
    ...(flags.letsencrypt ? { letsencrypt: flags.letsencrypt } : {}),
    ...(flags.docker ? { docker: flags.docker } : {}),
  });
  const header = [`Discovered by forgewatch discover on ${new Date().toISOString().slice(0, 10)}.`];
  const text = flags.json ? `${JSON.stringify(discoveryJson(d), null, 2)}\n` : discoveryConfigText(d, header);
  if (!flags.write) {
    process.stdout.write(text);
    for (const line of sourceLines(d)) process.stderr.write(`${line}\n`);
    return 0;
  }
  // Checked again: the file may have appeared while discovery ran.
  if (existsSync(flags.write) && !flags.force)
    throw new DiscoverUsageError(`${flags.write} exists; use --force to overwrite it`);
  await writeFileAtomic(flags.write, text);
  for (const line of sourceLines(d)) process.stderr.write(`${line}\n`);
  process.stderr.write(
    `wrote ${d.proposals.length} checks to ${path.resolve(flags.write)}; next: forgewatch validate ${flags.write}, then forgewatch serve -c ${flags.write}\n`,
  );
  return 0;
}
