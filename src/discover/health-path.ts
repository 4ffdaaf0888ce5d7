/**
 * An upstream's health path, found by asking: the first of /health, /healthz and / that answers 2xx, each tried
 * with a short timeout so a hanging upstream costs discovery a second, not a minute.
 */
import { request } from 'undici';
import { hostPort } from '../util/address.js';

export const HEALTH_PATHS = ['/health', '/healthz', '/'] as const;
const TRY_TIMEOUT_MS = 1_000;

export interface HealthPath {
  path: string;
  /** What each path answered before the one chosen (or all of them, when none answered 2xx). */
  tried: string[];
  /** Whether `path` answered 2xx; false means none did and `/` is proposed anyway. */
  found: boolean;
}

async function statusOf(url: string): Promise<string> {
  try {
    const res = await request(url, {
      method: 'GET',
      reset: true,
      headersTimeout: TRY_TIMEOUT_MS,
      bodyTimeout: TRY_TIMEOUT_MS,
      signal: AbortSignal.timeout(TRY_TIMEOUT_MS),
    });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    return String(res.statusCode);
  } catch (err) {
    return (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError'
      ? `no answer in ${TRY_TIMEOUT_MS / 1000}s`
      : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
  }
}

export async function findHealthPath(host: string, port: number): Promise<HealthPath> {
  const tried: string[] = [];
  for (const p of HEALTH_PATHS) {
    const status = await statusOf(`http://${hostPort(host, port)}${p}`);
    if (/^2\d\d$/.test(status)) return { path: p, tried, found: true };
    tried.push(`${p} ${status}`);
  }
  return { path: '/', tried, found: false };
}
