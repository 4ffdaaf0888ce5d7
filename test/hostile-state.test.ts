/** Damaged or hostile files in state_dir: a clear error or a file moved aside, never a stack trace or a memory blow-up. */
import { closeSync, existsSync, mkdirSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureLogger } from './helpers/alerts.js';
import { runCli, startForgewatch, tempDir, waitFor } from './helpers/service.js';

describe('the outbox folder', () => {
  it('moves a 100 MB junk file aside unread and starts', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(path.join(dir, 'outbox'));
      // Sparse: 100 MB by its size, nothing on disk; reading it whole would cost the memory the limit prevents.
      const fd = openSync(path.join(dir, 'outbox', '000000000001-junk.json'), 'w');
      ftruncateSync(fd, 100 * 1024 * 1024);
      closeSync(fd);
      const log = captureLogger();
      const fw = await startForgewatch(
        `state_dir: ${dir}\nalerts: { channels: [ { name: hook, type: webhook, url: "http://127.0.0.1:9/x" } ] }\nchecks: []\n`,
        { dir, logger: log.logger },
      );
      try {
        await waitFor(() => existsSync(path.join(dir, 'outbox', 'bad', '000000000001-junk.json')));
        // Judged by its size alone: read and parsed, it would be refused for its content instead.
        expect(log.events('outbox_bad_entry')).toMatchObject([
          { file: '000000000001-junk.json', error: '104857600 bytes, over the 1048576-byte limit of an entry' },
        ]);
        expect((await fetch(`${fw.url}/healthz`)).status).toBe(200);
      } finally {
        await fw.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('exits 2 with one line naming the outbox and the fix when a file stands in its place', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(path.join(dir, 'outbox'), 'not a folder\n');
      const file = path.join(dir, 'fw.yaml');
      writeFileSync(file, `state_dir: ${dir}\nchecks: []\n`);
      const res = await runCli(['serve', '-c', file, '--listen', '127.0.0.1:0'], {
        cwd: dir,
        env: { FORGEWATCH_CONFIG: '' },
      });
      expect(res.code).toBe(2);
      expect(res.stderr).toBe('');
      const lines = res.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0] ?? '{}') as { msg: string; hint: string };
      expect(line.msg).toBe(`state_dir ${path.join(dir, 'outbox')} cannot be used: EEXIST`);
      expect(line.hint).toMatch(/a file stands where a directory is needed/);
    } finally {
      await cleanup();
    }
  });
});
