/** Persists each check's settled status to state_dir so a restart neither re-alerts nor forgets a failure. */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import type { CheckState } from './state.js';

export interface PersistedCheck {
  status: CheckState['status'];
  since: string;
  reason?: string;
}

interface StateFile {
  version: 1;
  checks: Record<string, PersistedCheck>;
}

/** Writes a file durably: temp file, fsync, rename. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

export class StateStore {
  readonly file: string;
  private writing: Promise<void> | undefined;
  private dirty: (() => StateFile['checks']) | undefined;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, 'state.json');
  }

  load(): Record<string, PersistedCheck> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as StateFile;
      return parsed.version === 1 && parsed.checks ? parsed.checks : {};
    } catch {
      return {};
    }
  }

  /** Saves a snapshot; calls made while a write is under way collapse into one more write. */
  save(snapshot: () => Record<string, PersistedCheck>): Promise<void> {
    this.dirty = snapshot;
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async drain(): Promise<void> {
    while (this.dirty) {
      const take = this.dirty;
      this.dirty = undefined;
      await writeFileAtomic(this.file, JSON.stringify({ version: 1, checks: take() } satisfies StateFile));
    }
  }
}
