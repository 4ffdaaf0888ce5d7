import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_CLI, tempDir } from './helpers/service.js';

const UNIT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/systemd/forgewatch.service');

/** systemd's unit syntax: [Section] headers, Key=Value lines (a key may repeat), # and ; comments. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`not a Key=Value line in a section: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

const text = readFileSync(UNIT, 'utf8');
const unit = parseUnit(text);
const service = unit.get('Service') ?? new Map<string, string[]>();
const one = (key: string) => {
  const values = service.get(key) ?? [];
  expect(values, key).toHaveLength(1);
  return values[0];
};

describe('examples/systemd/forgewatch.service', () => {
  const { dir, cleanup } = tempDir();
  afterAll(cleanup);

  it('has the three sections and runs forgewatch serve on loopback, reloading on SIGHUP', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(one('ExecStart')).toMatch(/\/forgewatch serve --listen 127\.0\.0\.1:9464$/);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('RestartPreventExitStatus')).toBe('2');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is hardened: a throwaway user, read-only system, no home, its own /tmp, no privilege gains', () => {
    expect(one('DynamicUser')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('NoNewPrivileges')).toBe('yes');
    // The one writable place, and forgewatch told to keep its state there.
    expect(one('StateDirectory')).toBe('forgewatch');
    expect(service.get('Environment')).toContain('FORGEWATCH_STATE_DIR=/var/lib/forgewatch');
    expect(service.get('Environment')).toContain('FORGEWATCH_CONFIG=/etc/forgewatch/forgewatch.yaml');
  });

  it('grants the two capabilities naming a port owner takes, bounded to exactly those, with the trade-off stated', () => {
    const caps = (key: string) => new Set(one(key)?.split(/\s+/));
    expect(caps('AmbientCapabilities')).toEqual(new Set(['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']));
    expect(caps('CapabilityBoundingSet')).toEqual(caps('AmbientCapabilities'));
    expect(text).toMatch(/# The trade-off: CAP_SYS_PTRACE also lets a compromised forgewatch read and write/);
  });

  it('passes systemd-analyze verify', async () => {
    // verify checks that ExecStart exists: point it at this checkout's built CLI, everything else as shipped.
    const copy = path.join(dir, 'forgewatch.service');
    const exec = one('ExecStart') ?? '';
    writeFileSync(copy, text.replace(exec, exec.replace(/^\S+/, `${process.execPath} ${BUILT_CLI}`)));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile('systemd-analyze', ['verify', copy], (err, _stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stderr }),
      ),
    );
    expect(result.stderr.split('\n').filter((l) => l.includes('forgewatch.service'))).toEqual([]);
    expect(result.code).toBe(0);
  });
});
