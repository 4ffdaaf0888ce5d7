/**
 * certbot's lineages as discovery reads them: each `renewal/<name>.conf` names the lineage's files (`fullchain`,
 * `cert`, under `live/<name>/`, symlinks into `archive/`), and the certificate there says which names it covers
 * and until when. A directory that cannot be read is reported as skipped with the reason; a lineage that cannot
 * be read is reported with its problem, and the others are still read.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileErrorText, notAfterMs, readPemFile, sansOf } from '../tls/certificate.js';

export interface Lineage {
  name: string;
  /** The renewal file it was read from. */
  renewal: string;
  /** The chain nginx should serve (`fullchain`), as the renewal file names it. */
  fullchain: string;
  /** DNS names the current certificate covers. */
  names: string[];
  /** ISO time the current certificate expires. */
  not_after: string;
}

export interface CertbotFindings {
  lineages: Lineage[];
  /** Lineages named by a renewal file that could not be read, with why. */
  problems: { name: string; file: string; reason: string }[];
  /** Set when the directory itself could not be read: nothing was found, and why. */
  skipped?: string;
}

/** The `key = value` lines of a renewal file, before its first section (certbot writes the paths there). */
function renewalPaths(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) break;
    const eq = line.indexOf('=');
    if (eq <= 0 || line.startsWith('#')) continue;
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

async function readLineage(dir: string, file: string): Promise<Lineage> {
  const name = file.slice(0, -'.conf'.length);
  const renewal = path.join(dir, 'renewal', file);
  const paths = renewalPaths(await readFile(renewal, 'utf8'));
  const fullchain = paths.get('fullchain') ?? path.join(dir, 'live', name, 'fullchain.pem');
  const [leaf] = await readPemFile(paths.get('cert') ?? fullchain);
  if (!leaf) throw new Error(`no certificate in ${fullchain}`);
  return {
    name,
    renewal,
    fullchain,
    names: sansOf(leaf).dns,
    not_after: new Date(notAfterMs(leaf)).toISOString(),
  };
}

/** Reads every lineage under `dir` (default /etc/letsencrypt). */
export async function readCertbot(dir = '/etc/letsencrypt'): Promise<CertbotFindings> {
  let files: string[];
  try {
    files = (await readdir(path.join(dir, 'renewal'))).filter((f) => f.endsWith('.conf')).sort();
  } catch (err) {
    const renewal = path.join(dir, 'renewal');
    const code = (err as NodeJS.ErrnoException).code;
    const skipped =
      code === 'ENOENT'
        ? `${renewal} does not exist: no certbot lineages here`
        : code === 'EACCES'
          ? `cannot read ${renewal}: permission denied: run forgewatch as a user that may read it (certbot keeps it root-only)`
          : `cannot read ${renewal}: ${fileErrorText(err)}`;
    return { lineages: [], problems: [], skipped };
  }
  const findings: CertbotFindings = { lineages: [], problems: [] };
  for (const file of files) {
    try {
      findings.lineages.push(await readLineage(dir, file));
    } catch (err) {
      findings.problems.push({
        name: file.slice(0, -'.conf'.length),
        file: path.join(dir, 'renewal', file),
        reason: err instanceof Error && !(err as NodeJS.ErrnoException).code ? err.message : fileErrorText(err),
      });
    }
  }
  return findings;
}
