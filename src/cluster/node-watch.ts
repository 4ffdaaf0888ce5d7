/**
 * Nodes watching each other: every node that joined the fleet and did not leave cleanly is a check of its own
 * for the leader's alerter (type `node`), failing while the node has no live lease. When a node stops
 * reporting, its reason names where its checks run now; when it is back, the incident recovers.
 */
import { EventEmitter } from 'node:events';
import type { Watcher } from 'etcd3';
import type { AlertedCheck } from '../alerts/check-states.js';
import type { Transition } from '../checks/state.js';
import type { CheckConfig } from '../config/load.js';
import type { ProbeResult } from '../probes/types.js';
import { ownerOf } from './assign.js';
import type { Fleet, KnownNode } from './fleet.js';
import { placeholderMember, type MemberRecord } from './membership.js';

export const NODE_CHECK_TYPE = 'node';

export function nodeCheckName(node: Pick<KnownNode, 'name' | 'location'>): string {
  return `forgewatch node ${node.name} (${node.location})`;
}

interface NodeState {
  node: KnownNode;
  check: AlertedCheck;
  status: 'ok' | 'fail';
  since: string;
  at: string;
  result: ProbeResult;
}

interface NodeWatchEvents {
  transition: [Transition, AlertedCheck];
  /** The set of node checks changed (a node joined, or left cleanly). */
  names: [];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class NodeWatch extends EventEmitter<NodeWatchEvents> {
  private readonly states = new Map<string, NodeState>();
  private watcher: Watcher | undefined;
  private members: readonly MemberRecord[];
  private readonly onMembers = (members: MemberRecord[]) => this.evaluate(members);
  private active = true;
  private unlisten: () => void = () => undefined;

  constructor(
    private readonly fleet: Fleet,
    /** The configured checks (to tell where a stopped node's checks run now). */
    private readonly checks: () => readonly CheckConfig[],
  ) {
    super();
    this.members = fleet.members;
  }

  async start(): Promise<void> {
    const prefix = `${this.fleet.prefix}nodes/`;
    for (const node of await this.fleet.knownNodes()) this.states.set(node.name, this.initial(node));
    const watcher = await this.fleet.client.watch().prefix(prefix).create();
    if (!this.active) return void (await watcher.cancel());
    this.watcher = watcher;
    watcher.on('put', (kv) => {
      const node = JSON.parse(kv.value.toString()) as KnownNode;
      const known = this.states.get(node.name);
      if (known) known.node = node;
      else {
        this.states.set(node.name, this.initial(node));
        this.emit('names');
      }
    });
    watcher.on('delete', (kv) => {
      if (this.states.delete(kv.key.toString().slice(prefix.length))) this.emit('names');
    });
    watcher.on('error', () => undefined);
    this.unlisten = this.fleet.onMembers(this.onMembers);
    this.evaluate(this.fleet.members);
  }

  async close(): Promise<void> {
    this.active = false;
    this.unlisten();
    await this.watcher?.cancel().catch(() => undefined);
  }

  names(): string[] {
    return [...this.states.values()].map((s) => s.check.name);
  }

  /** The node check's state, by check name (undefined for any other check). */
  state(check: string): NodeState | undefined {
    for (const s of this.states.values()) if (s.check.name === check) return s;
    return undefined;
  }

  failing(): NodeState[] {
    return [...this.states.values()].filter((s) => s.status === 'fail');
  }

  private initial(node: KnownNode): NodeState {
    const live = this.members.some((m) => m.name === node.name);
    const now = new Date().toISOString();
    return {
      node,
      check: {
        name: nodeCheckName(node),
        type: NODE_CHECK_TYPE,
        labels: { node: node.name, location: node.location },
      },
      status: live ? 'ok' : 'fail',
      since: now,
      at: now,
      result: live ? this.reporting(node) : this.stopped(node, this.members),
    };
  }

  private evaluate(members: readonly MemberRecord[]): void {
    if (!this.active) return;
    const before = this.members;
    this.members = members;
    for (const s of this.states.values()) {
      const live = members.some((m) => m.name === s.node.name);
      const status = live ? 'ok' : 'fail';
      if (status === s.status) continue;
      const now = new Date().toISOString();
      const from = s.status;
      s.status = status;
      s.result = live ? this.reporting(s.node) : this.stopped(s.node, before);
      const previousDurationMs = Date.parse(now) - Date.parse(s.since);
      s.since = now;
      s.at = now;
      this.emit(
        'transition',
        { check: s.check.name, from, to: status, result: s.result, since: now, at: now, previousDurationMs },
        s.check,
      );
    }
  }

  private reporting(node: KnownNode): ProbeResult {
    return {
      status: 'ok',
      reason: `reporting again (${node.address})`,
      timings: { total: 0 },
      details: { address: node.address },
      observations: [],
    };
  }

  /** Where the stopped node's checks run now: owners over the members with it and without it. */
  private stopped(node: KnownNode, withIt: readonly MemberRecord[]): ProbeResult {
    const without = withIt.filter((m) => m.name !== node.name);
    const alive = [...without, placeholderMember(node)];
    const movedTo = new Map<string, number>();
    const moved: string[] = [];
    for (const check of this.checks()) {
      // A check run from several locations moves only within the stopped node's location.
      if (check.locations && !check.locations.includes(node.location)) continue;
      const location = check.locations ? node.location : undefined;
      if (ownerOf(check.name, alive, location) !== node.name) continue;
      moved.push(check.name);
      const owner = ownerOf(check.name, without, location) ?? (location ? `no node in ${location}` : 'no node');
      movedTo.set(owner, (movedTo.get(owner) ?? 0) + 1);
    }
    const where = [...movedTo].map(([owner, n]) => `${owner} (${n})`).join(', ');
    return {
      status: 'fail',
      reason: `stopped reporting: its lease ran out; ${moved.length > 0 ? `its ${plural(moved.length, 'check')} now run on ${where}` : 'it ran no checks'}`,
      hint: `forgewatch on ${node.name} (${node.address}) was killed, its machine is down, or it cannot reach etcd: look at that machine. Its checks run on the other nodes meanwhile; a node retired for good is forgotten with \`etcdctl del ${this.fleet.prefix}nodes/${node.name}\``,
      timings: { total: 0 },
      details: { address: node.address, checks_moved: moved.slice(0, 50), moved_to: Object.fromEntries(movedTo) },
      observations: [],
    };
  }
}
