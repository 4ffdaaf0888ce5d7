/** Port probe: is it listening (or closed), who really holds it, and is it bound wider than it should be. */
import os from 'node:os';
import { z } from 'zod';
import { checkSchema, filePath, port, type CheckOf } from '../config/fields.js';
import type { EngineMemo } from '../docker/client.js';
import { containerRef } from '../docker/types.js';
import { dial, DialError } from '../net/dial.js';
import { explainNetworkError } from '../net/explain.js';
import { findSocketOwner } from '../ports/owner.js';
import { ownPrivileges } from '../ports/privileges.js';
import {
  isLoopback,
  isWildcard,
  listenersFor,
  listenersReadSince,
  readListeners,
  type Listener,
} from '../ports/proc-net.js';
import { hostPort } from '../util/address.js';
import { deadline } from '../util/deadline.js';
import {
  containerOf,
  describeOwner,
  expectedText,
  ownerMatches,
  stopHint,
  unknownOwnerNote,
  type PortOwner,
} from './port-owner.js';
import {
  failed,
  type JsonObject,
  type MetricNames,
  type MetricSpec,
  type Observation,
  type Probe,
  type ProbeMemo,
  type Status,
} from './types.js';
import { defineKind } from './kind.js';
import { portFailureClass } from './failure-classes.js';
import { portFacts } from './port-facts.js';

export const portCheckSchema = checkSchema('port', {
  host: z.string().min(1).default('127.0.0.1'),
  port,
  expect: z.enum(['listening', 'closed']).default('listening'),
  owner: z
    .strictObject({
      container: containerRef.optional(),
      process: z.string().min(1).optional(),
      unit: z.string().min(1).optional(),
    })
    .refine((o) => Object.keys(o).length > 0, { message: 'name at least one of container, process or unit' })
    .optional(),
  bind: z.enum(['loopback', 'any']).default('any'),
  socket: filePath.optional(),
  proc_root: filePath.default('/proc'),
});

export type PortCheck = CheckOf<typeof portCheckSchema>;

export const portMetrics = [
  {
    name: 'forgewatch_port_listening',
    help: 'Whether something accepts TCP connections on the port.',
    labelNames: ['port'],
  },
  {
    name: 'forgewatch_port_owner_ok',
    help: 'Whether the listener is the expected container, process or unit (only with owner set).',
    labelNames: ['port'],
  },
  {
    name: 'forgewatch_port_owner_info',
    help: 'Who holds the port: always 1, the labels carry the owner.',
    labelNames: ['port', 'process', 'unit', 'container'],
  },
] as const satisfies readonly MetricSpec[];

type PortMetricName = MetricNames<typeof portMetrics>;

const CONNECT_TIMEOUT_MS = 3000;

async function connects(
  host: string,
  portNo: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ listening: boolean; address: string; error?: string }> {
  const own = deadline(signal, timeoutMs);
  try {
    const d = await dial({ host, port: portNo, signal: own.signal });
    d.socket.destroy();
    return { listening: true, address: d.address };
  } catch (err) {
    if (signal.aborted) throw err;
    if (err instanceof DialError && err.phase === 'resolving') throw err;
    return {
      listening: false,
      address: host,
      error: own.timedOut ? 'no answer (filtered?)' : ((err as NodeJS.ErrnoException).code ?? (err as Error).message),
    };
  } finally {
    own.done();
  }
}

function isLocalAddress(address: string): boolean {
  if (isLoopback(address) || isWildcard(address)) return true;
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.address === address));
}

type Connection = Awaited<ReturnType<typeof connects>>;

/** What was found out about the port, before any judgement. */
interface PortFacts {
  conn: Connection;
  /** The address dialled, with the port ("127.0.0.1:8000"), as reasons name it. */
  target: string;
  owner: PortOwner | null;
  /** The listening socket that takes connections to the address dialled. */
  bound: Listener | undefined;
  /** A wildcard socket on the port, which exposes it to the network. */
  wide: Listener | undefined;
  /** Why the owner is unknown or uncertain, in words. */
  note: string | undefined;
  /** Why the engine could not name the owner's container. */
  unresolved: string | undefined;
  /** Whether the owner is the expected one; undefined when none is expected or it cannot be told. */
  ownerOk: boolean | undefined;
}

/**
 * The listeners that can take connections to `address` on the check's port, from table reads made
 * since `since` (the run's start; checks running together share them), IPv4 rows first. The other
 * family's table is read only when it can matter: for a wildcard that exposes the port (bind:
 * loopback), or when this family has no socket bound to the address itself.
 */
function listenersOf(check: PortCheck, address: string, since: number): Listener[] {
  const family = address.includes(':') ? 6 : 4;
  const own = listenersReadSince(check.proc_root, family, since);
  const exact = listenersFor(own, address, check.port)[0];
  if (check.bind !== 'loopback' && exact && !isWildcard(exact.address)) return own;
  const other = listenersReadSince(check.proc_root, family === 4 ? 6 : 4, since);
  return family === 4 ? [...own, ...other] : [...other, ...own];
}

/** Finds the listening socket behind a connection and who holds it (only possible on this machine). */
async function gatherPortFacts(
  check: PortCheck,
  conn: Connection,
  since: number,
  signal: AbortSignal,
  memo: ProbeMemo<EngineMemo>,
): Promise<PortFacts> {
  const target = hostPort(conn.address, check.port);
  let owner: PortOwner | null = null;
  let bound: Listener | undefined;
  let wide: Listener | undefined;
  let note: string | undefined;
  let unresolved: string | undefined;
  if (conn.listening && isLocalAddress(conn.address)) {
    let listeners = listenersOf(check, conn.address, since);
    bound = listenersFor(listeners, conn.address, check.port)[0];
    // Something answered: if the shared reads predate its socket, a read of both tables now has it.
    if (!bound) {
      listeners = await readListeners(check.proc_root);
      bound = listenersFor(listeners, conn.address, check.port)[0];
    }
    // Any wildcard socket on the port exposes it, even beside a loopback one (127.0.0.1:P and [::]:P).
    wide =
      bound && isWildcard(bound.address)
        ? bound
        : listeners.find((l) => l.port === check.port && isWildcard(l.address));
    if (!bound)
      note = `no listening socket for ${target} in ${check.proc_root}/net/tcp: it lives in another network namespace, and the connection is forwarded there (a container without host networking, published by NAT: docker ps --filter publish=${check.port} names it)`;
    else {
      const found = await findSocketOwner(bound.inode, check.proc_root, signal);
      if (found.owner) {
        const lookup = await containerOf(found.owner, bound, check.socket, signal, memo);
        owner = { ...found.owner, container: lookup.name ?? found.owner.containerId?.slice(0, 12) ?? null };
        if (lookup.unresolved) {
          unresolved = lookup.unresolved;
          note = owner.containerId
            ? `${owner.process} (pid ${owner.pid}) runs in container ${owner.containerId.slice(0, 12)}, but the engine could not name it (${unresolved})`
            : `${owner.process} (pid ${owner.pid}) holds the port for a container, but the engine could not say which (${unresolved})`;
        }
      } else {
        // Still in the table means still listening: then the holder is hidden, not gone.
        const stillListed = (await readListeners(check.proc_root)).some((l) => l.inode === bound?.inode);
        note = unknownOwnerNote(
          { unreadable: found.unreadable, stillListed },
          { inode: bound.inode, procRoot: check.proc_root },
          await ownPrivileges(),
        );
      }
    }
  } else if (conn.listening) {
    note = `${conn.address} is not an address of this machine: the owner can only be found on the host itself`;
  }

  const matches = owner && check.owner ? ownerMatches(owner, check.owner) : undefined;
  // A container id compared with a name is a guess: when the engine could not name the container,
  // only a mismatch elsewhere (process, unit) is certain; otherwise the owner counts as unknown.
  let ownerOk = matches ? matches.container && matches.rest : undefined;
  if (ownerOk === false && matches?.rest && unresolved) ownerOk = undefined;
  return { conn, target, owner, bound, wide, note, unresolved, ownerOk };
}

interface PortVerdict {
  status: Status;
  reason: string;
  hint?: string;
}

interface PortRule {
  when: (facts: PortFacts, check: PortCheck) => boolean;
  verdict: (facts: PortFacts, check: PortCheck) => PortVerdict;
}

const expectedOwner = (check: PortCheck): NonNullable<PortCheck['owner']> => check.owner ?? {};
const serviceWord = (check: PortCheck): string =>
  check.owner?.container !== undefined ? 'the container' : 'the service';

/** The judgement, top to bottom: the first rule that applies gives the verdict. */
const PORT_RULES: readonly PortRule[] = [
  {
    when: (f, check) => check.expect === 'closed' && f.conn.listening,
    verdict: ({ target, owner }, check) => ({
      status: 'fail',
      reason: `${target} answers but should be closed${owner ? `: held by ${describeOwner(owner)}` : ''}`,
      hint: `Something listens where nothing should answer. If a container publishes the port on all interfaces, publish it on 127.0.0.1 only (ports: "127.0.0.1:${check.port}:${check.port}"); otherwise ${owner ? stopHint(owner) : 'stop the listener'} or firewall the port.`,
    }),
  },
  {
    when: (_f, check) => check.expect === 'closed',
    verdict: ({ target }) => ({ status: 'ok', reason: `${target} is closed, as expected` }),
  },
  {
    when: (f) => !f.conn.listening,
    verdict: ({ target, conn }, check) => ({
      status: 'fail',
      reason: `nothing listens on ${target}: ${serviceWord(check)} is down or could not bind${conn.error && conn.error !== 'ECONNREFUSED' ? ` (${conn.error})` : ''}`,
      hint: `Start ${serviceWord(check)}${check.owner?.container ? ` (docker ps -a; a container check on ${check.owner.container} shows why it stops)` : ''}. If it runs but logs "address already in use", another process holds the port elsewhere: ss -tlnp | grep :${check.port}.`,
    }),
  },
  {
    when: (f, check) => check.owner !== undefined && f.owner !== null && f.ownerOk === false,
    verdict: ({ target, owner }, check) => {
      const holder = owner as PortOwner;
      const reason = `${target} is held by ${describeOwner(holder)}, expected ${expectedText(expectedOwner(check))}`;
      return {
        status: 'fail',
        reason,
        hint: `${reason} — ${stopHint(holder)}${check.owner?.container ? `, then restart container ${check.owner.container} so it can bind the port` : ''}.`,
      };
    },
  },
  {
    when: (f, check) => check.owner !== undefined && f.ownerOk === undefined,
    verdict: ({ target, note, unresolved }, check) => ({
      status: 'warn',
      reason: `${target} is listening, but its owner could not be determined (expected ${expectedText(expectedOwner(check))})`,
      ...(unresolved
        ? {
            hint: `${note}. Point \`socket:\` at the engine that runs the container (or let forgewatch reach it) so the owner can be checked.`,
          }
        : note
          ? { hint: note }
          : {}),
    }),
  },
  {
    when: (f, check) => check.bind === 'loopback' && f.wide !== undefined,
    verdict: ({ target, wide }, check) => ({
      status: 'warn',
      reason: `${target} is bound to all interfaces (${hostPort((wide as Listener).address, (wide as Listener).port)}), expected loopback only`,
      hint: `The port is reachable from the network. Bind it to 127.0.0.1 (ports: "127.0.0.1:${check.port}:${check.port}" in compose, or --host 127.0.0.1), or firewall it.`,
    }),
  },
  {
    when: () => true,
    verdict: ({ target, owner }) => ({
      status: 'ok',
      reason: `${target} listening${owner ? `, held by ${describeOwner(owner)}` : ''}`,
    }),
  },
];

function judgePort(check: PortCheck, facts: PortFacts): PortVerdict {
  const rule = PORT_RULES.find((r) => r.when(facts, check)) as PortRule;
  return rule.verdict(facts, check);
}

export const probePort: Probe<PortCheck, PortMetricName, EngineMemo> = async (check, { signal, memo }) => {
  const started = performance.now();
  let conn: Connection;
  try {
    conn = await connects(check.host, check.port, Math.min(CONNECT_TIMEOUT_MS, check.timeout / 2), signal);
  } catch (err) {
    if (signal.aborted) throw err;
    const explained = explainNetworkError(err, { host: check.host, port: check.port }, 'resolving');
    return failed(explained.reason, explained.hint, started, {
      details: { host: check.host, port: check.port, listening: false, owner: null, bound: null },
    });
  }
  const facts = await gatherPortFacts(check, conn, started, signal, memo);
  const { owner, bound, note, ownerOk } = facts;
  const { status, reason, hint } = judgePort(check, facts);

  const portLabel = String(check.port);
  const observations: Observation<PortMetricName>[] = [
    { metric: 'forgewatch_port_listening', labels: { port: portLabel }, value: conn.listening ? 1 : 0 },
  ];
  if (ownerOk !== undefined)
    observations.push({ metric: 'forgewatch_port_owner_ok', labels: { port: portLabel }, value: ownerOk ? 1 : 0 });
  if (owner)
    observations.push({
      metric: 'forgewatch_port_owner_info',
      labels: { port: portLabel, process: owner.process, unit: owner.unit ?? '', container: owner.container ?? '' },
      value: 1,
    });
  const details: JsonObject = {
    host: check.host,
    port: check.port,
    address: conn.address,
    expect: check.expect,
    listening: conn.listening,
    owner: owner
      ? { pid: owner.pid, process: owner.process, cmdline: owner.cmdline, unit: owner.unit, container: owner.container }
      : null,
    bound: bound ? hostPort(bound.address, bound.port) : null,
    ...(note ? { owner_note: note } : {}),
    ...(ownerOk !== undefined ? { owner_ok: ownerOk } : {}),
  };
  return {
    status,
    reason,
    ...(hint ? { hint } : {}),
    timings: { total: (performance.now() - started) / 1000 },
    details,
    observations,
  };
};

/** The port probe kind, as src/probes/index.ts registers it. */
export const portKind = defineKind({
  schema: portCheckSchema,
  probe: probePort,
  metrics: portMetrics,
  facts: portFacts,
  failureClass: portFailureClass,
});
