/**
 * The port table as discovery reads it: TCP listeners seen in two scans a few seconds apart (a short-lived one is
 * never proposed), one per port, each with the process that holds it (its systemd unit or container, as the port
 * check finds them), so the proposed port check can expect that owner.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { findSocketOwner } from '../ports/owner.js';
import { SteadyListeners, STEADY_SCAN_MS } from '../ports/default-checks.js';
import { distinctPorts, reachableHost, type Listener } from '../ports/proc-net.js';

export interface DiscoveredPort {
  port: number;
  /** Where a check reaches it (loopback for a wildcard listener). */
  host: string;
  owner: { process: string; pid: number; unit: string | null; container_id: string | null } | null;
}

/** Listeners with their owners, one per port, lowest port first. */
export async function describeListeners(listeners: readonly Listener[], procRoot = '/proc'): Promise<DiscoveredPort[]> {
  const out: DiscoveredPort[] = [];
  for (const l of distinctPorts(listeners)) {
    const { owner } = await findSocketOwner(l.inode, procRoot);
    out.push({
      port: l.port,
      host: reachableHost(l),
      owner: owner
        ? { process: owner.process, pid: owner.pid, unit: owner.unit, container_id: owner.containerId }
        : null,
    });
  }
  return out.sort((a, b) => a.port - b.port);
}

export async function readPorts(opts: { procRoot?: string; intervalMs?: number } = {}): Promise<DiscoveredPort[]> {
  const { procRoot = '/proc', intervalMs = STEADY_SCAN_MS } = opts;
  const steady = new SteadyListeners(procRoot);
  steady.scan();
  await sleep(intervalMs);
  return describeListeners(steady.scan(), procRoot);
}
