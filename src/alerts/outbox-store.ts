/**
 * Where the outbox keeps its notifications until their channel accepted them. Alone, that is a directory of
 * files in state_dir (fsync'd); in a fleet, the leader keeps them in etcd so the next leader finds them.
 */
import { mkdirSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StateDirError } from '../checks/store.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../util/fs.js';
import { loadEntries, type Pending } from './outbox-entry.js';

export interface OutboxStore {
  /** What was kept when the outbox starts, oldest first. */
  load(): Pending[];
  /** Durable once resolved. */
  write(p: Pending): Promise<void>;
  remove(p: Pending): Promise<void>;
}

export class FileOutboxStore implements OutboxStore {
  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      // A file named outbox, or no permission: the same start-up error (exit 2, with the fix) as state_dir's own.
      throw new StateDirError(dir, err as NodeJS.ErrnoException);
    }
  }

  load(): Pending[] {
    return loadEntries(this.dir, this.logger);
  }

  async write(p: Pending): Promise<void> {
    await writeFileAtomic(path.join(this.dir, p.file), JSON.stringify(p.entry));
    await this.syncDir();
  }

  async remove(p: Pending): Promise<void> {
    await unlink(path.join(this.dir, p.file)).catch(() => undefined);
    await this.syncDir().catch(() => undefined);
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
