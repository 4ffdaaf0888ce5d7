/**
 * The compose examples, read as Docker Compose reads them, and a service's privileges played with
 * setpriv: there is no Docker engine here, so a test gives a process what Docker would give the
 * service's container (user, groups, capabilities, no_new_privs) and checks what it can then do.
 */
import { readFileSync } from 'node:fs';
import { parse, type ScalarTag, type CollectionTag } from 'yaml';

export interface ComposeService {
  image?: string;
  user?: string;
  cap_drop?: string[];
  cap_add?: string[];
  group_add?: string[];
  security_opt?: string[];
  pid?: string;
  network_mode?: string;
  read_only?: boolean;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, { driver?: string; driver_opts?: Record<string, string> } | null>;
}

/** Compose's `${VAR}`, `${VAR:?message}` and `${VAR:-default}`, with `env` standing in for the shell. */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`${name}: ${arg ?? 'required'}`);
    return '';
  });
}

/** Compose's `!override` (replace the list instead of merging it): the list itself is what the test reads. */
const override: CollectionTag | ScalarTag = {
  tag: '!override',
  collection: 'seq',
  resolve: (seq) => seq,
} as CollectionTag;

export function readCompose(file: string, env: Record<string, string | undefined>): ComposeFile {
  return parse(interpolate(readFileSync(file, 'utf8'), env), { customTags: [override] }) as ComposeFile;
}

/** setpriv arguments giving a process the service's user, groups and capabilities, as Docker runs it. */
export function setprivArgs(service: ComposeService): string[] {
  if (!service.cap_drop?.includes('ALL'))
    throw new Error('only services that drop every capability (cap_drop: [ALL]) are played here');
  const [uid = '0', gid = uid] = (service.user ?? '0:0').split(':');
  // Docker gives root the bounding set; a non-root user loses its capabilities at the uid switch, as here.
  const caps = ['-all', ...(service.cap_add ?? []).map((c) => `+${c.toLowerCase().replace(/^cap_/, '')}`)].join(',');
  const groups = service.group_add?.length ? `--groups=${service.group_add.join(',')}` : '--clear-groups';
  const noNewPrivs = (service.security_opt ?? []).some((o) => /^no-new-privileges([:=]true)?$/.test(o))
    ? ['--no-new-privs']
    : [];
  return [`--reuid=${uid}`, `--regid=${gid}`, groups, `--inh-caps=${caps}`, `--bounding-set=${caps}`, ...noNewPrivs];
}
