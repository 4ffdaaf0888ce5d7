/** The parts of Docker Engine API answers forgewatch reads; every field is optional because engines differ (podman). */
import { z } from 'zod';

/**
 * A container name or id in a config. `docker inspect` and the API show names as `/name`, so users
 * copy them that way, but the API looks containers up without the slash: drop one.
 */
export const containerRef = z
  .string()
  .min(1)
  .transform((v, ctx) => {
    const ref = v.replace(/^\//, '');
    if (!ref) {
      ctx.issues.push({ code: 'custom', input: v, message: 'expected a container name or id, got "/"' });
      return z.NEVER;
    }
    return ref;
  });

interface PortSummary {
  IP?: string;
  PrivatePort?: number;
  PublicPort?: number;
  Type?: string;
}

/** One entry of GET /containers/json. */
export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Labels?: Record<string, string> | null;
  Ports?: PortSummary[] | null;
}

interface HealthLogEntry {
  Start?: string;
  End?: string;
  ExitCode?: number;
  Output?: string;
}

interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

/** GET /containers/{id}/json. */
export interface ContainerInspect {
  Id: string;
  Name?: string;
  Created?: string;
  RestartCount?: number;
  Image?: string;
  Config?: { Image?: string; Tty?: boolean; Labels?: Record<string, string> | null } | null;
  State?: {
    Status?: string;
    Running?: boolean;
    Paused?: boolean;
    Restarting?: boolean;
    OOMKilled?: boolean;
    Dead?: boolean;
    Pid?: number;
    ExitCode?: number;
    Error?: string;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: { Status?: string; FailingStreak?: number; Log?: HealthLogEntry[] | null } | null;
  } | null;
  NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null } | null;
}

/** The container name without Docker's leading slash. */
export function containerName(c: { Name?: string; Names?: string[]; Id: string }): string {
  const raw = c.Name ?? c.Names?.[0] ?? c.Id.slice(0, 12);
  return raw.replace(/^\//, '');
}
