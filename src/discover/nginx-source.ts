/**
 * Where discovery gets nginx's configuration: `auto` runs `nginx -T`, which prints the whole configuration with
 * its includes expanded exactly as nginx reads it; a path is a config file (its includes read here, relative to
 * its directory as nginx's conf prefix) or saved `nginx -T` output. Whatever goes wrong is a reason to report
 * the source as skipped, never an exception.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorText } from '../tls/certificate.js';
import { expandGlob } from '../tls/glob.js';
import { NginxSyntaxError, readNginx, type NginxConfig } from './nginx.js';

export type NginxMode = 'auto' | 'off' | (string & {});

export interface NginxSource {
  /** What was read: `nginx -T` or the file's path. */
  from: string;
  config?: NginxConfig;
  skipped?: string;
}

const NGINX_T_TIMEOUT_MS = 15_000;
const MAX_OUTPUT = 32 * 1024 * 1024;
const MAX_INCLUDED_FILES = 500;
const SECTION = '# configuration file ';

function nginxT(): Promise<{ text: string } | { problem: string }> {
  return new Promise((resolve) => {
    execFile(
      'nginx',
      ['-T'],
      { timeout: NGINX_T_TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ text: stdout });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return resolve({ problem: 'nginx is not installed here (no nginx in PATH)' });
        if (err.killed) return resolve({ problem: `nginx -T did not finish within ${NGINX_T_TIMEOUT_MS / 1000}s` });
        // nginx says what is wrong on its [emerg] line ("nginx: [emerg] … in /etc/nginx/…:12"), else its last.
        const lines = stderr.trim().split('\n').filter(Boolean);
        const said = lines.find((l) => l.includes('[emerg]')) ?? lines.pop() ?? err.message;
        resolve({ problem: `nginx -T failed: ${said}` });
      },
    );
  });
}

/** A plain config file with its includes (globs too) read as `nginx -T` would print them, recursively. */
async function withIncludes(file: string, text: string): Promise<string> {
  const prefix = path.dirname(file);
  const sections = [`${SECTION}${file}:\n${text}\n`];
  const seen = new Set([file]);
  const pending = [text];
  while (pending.length > 0 && seen.size < MAX_INCLUDED_FILES) {
    const body = pending.shift() as string;
    for (const m of body.matchAll(/^\s*include\s+("([^"]+)"|'([^']+)'|[^\s;]+)\s*;/gm)) {
      const glob = m[2] ?? m[3] ?? (m[1] as string);
      for (const included of await expandGlob(path.resolve(prefix, glob))) {
        if (seen.has(included)) continue;
        seen.add(included);
        const content = await readFile(included, 'utf8').catch(() => undefined);
        if (content === undefined) continue;
        sections.push(`${SECTION}${included}:\n${content}\n`);
        pending.push(content);
      }
    }
  }
  return sections.join('');
}

export async function readNginxSource(mode: NginxMode): Promise<NginxSource> {
  if (mode === 'off') return { from: 'off', skipped: 'turned off (--nginx off)' };
  let from: string;
  let text: string;
  if (mode === 'auto') {
    from = 'nginx -T';
    const out = await nginxT();
    if ('problem' in out) return { from, skipped: out.problem };
    text = out.text;
  } else {
    from = path.resolve(mode);
    try {
      text = await readFile(from, 'utf8');
    } catch (err) {
      return { from, skipped: `cannot read ${from}: ${fileErrorText(err)}` };
    }
    if (!text.split('\n').some((l) => l.startsWith(SECTION))) text = await withIncludes(from, text);
  }
  try {
    return { from, config: readNginx(text, from) };
  } catch (err) {
    if (err instanceof NginxSyntaxError) return { from, skipped: err.message };
    throw err;
  }
}
