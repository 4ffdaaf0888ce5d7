/** Bearer-token checks shared by the API and the status page. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** The token from `Authorization: Bearer …`, if any. */
export function bearerToken(req: Request): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1]?.trim();
}

/** Compares secrets in constant time; hashing first gives equal lengths, so no length leaks either. */
export function sameSecret(given: string | undefined, wanted: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(wanted));
}
