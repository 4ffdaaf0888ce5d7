/** How durations and byte sizes read in reasons, hints and logs: the same units a config accepts. */

const DURATION_STEPS = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
] as const;

const SIZE_STEPS = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const;

/** "250ms", "1.5s", "5m", "1h30m", "7d": at most two units, so a reason stays short. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const parts: string[] = [];
  let rest = Math.round(s);
  for (const [unit, size] of DURATION_STEPS) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join('');
}

/** "1MiB" when exact (as a config would say it), else one decimal ("1.5MiB"), else bytes ("512B"). */
export function formatSize(bytes: number): string {
  const exact = SIZE_STEPS.find(([, size]) => bytes >= size && bytes % size === 0);
  if (exact) return `${bytes / exact[1]}${exact[0]}`;
  const nearest = SIZE_STEPS.find(([, size]) => bytes >= size);
  if (nearest) return `${(bytes / nearest[1]).toFixed(1)}${nearest[0]}`;
  return `${bytes}B`;
}
