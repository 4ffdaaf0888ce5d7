/**
 * What forgewatch itself may read in /proc: its effective uid and capabilities, and whether it runs in a
 * user namespace (where uid 0 and every capability count only for processes inside it).
 */
import { readFile } from 'node:fs/promises';

export interface OwnPrivileges {
  uid: number;
  /** CAP_SYS_PTRACE (bit 19): read where other processes' file descriptors point. */
  ptrace: boolean;
  /** CAP_DAC_READ_SEARCH (bit 2): list other users' /proc/PID/fd. */
  dacReadSearch: boolean;
  /** Runs in a user namespace other than the host's (a rootless or userns-remapped container). */
  userNamespace: boolean;
}

const CAP_DAC_READ_SEARCH = 2n;
const CAP_SYS_PTRACE = 19n;
/** The host's user namespace maps every id to itself. */
const INITIAL_UID_MAP = /^\s*0\s+0\s+4294967295\s*$/;

/** Reads this process's own status (always the real /proc/self, whatever proc_root a check sets). */
export async function ownPrivileges(): Promise<OwnPrivileges> {
  const [status, uidMap] = await Promise.all([
    readFile('/proc/self/status', 'utf8').catch(() => ''),
    readFile('/proc/self/uid_map', 'utf8').catch(() => ''),
  ]);
  const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? process.geteuid?.() ?? -1);
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  const caps = capEff ? BigInt(`0x${capEff}`) : 0n;
  return {
    uid,
    ptrace: ((caps >> CAP_SYS_PTRACE) & 1n) === 1n,
    dacReadSearch: ((caps >> CAP_DAC_READ_SEARCH) & 1n) === 1n,
    userNamespace: uidMap !== '' && !INITIAL_UID_MAP.test(uidMap.trim()),
  };
}
