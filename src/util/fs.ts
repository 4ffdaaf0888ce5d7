/** File-system helpers shared by everything that persists state (check states, outbox, incidents, silences). */
import { open, rename, unlink } from 'node:fs/promises';

/** Writes a file durably: temp file, fsync, rename. A failed write leaves no temp file behind. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
