/**
 * Exactly-once incident decisions for a fleet. A node that sees a transition writes the check's incident record
 * with a compare-and-swap on its mod revision, and in the same transaction a pending notification; of several
 * nodes deciding the same transition only one transaction succeeds, so the fleet records one notification. The
 * leader delivers pending notifications and deletes each after delivery; a new leader finds what is left, with
 * the idempotency keys it was recorded with.
 *
 * Keyspace: one key per check with an incident record (`incidents/<check>`, about 150 bytes), and one key per
 * notification until it is delivered (`notifications/<id>`, about 200 bytes plus the message).
 */
import type { Etcd3, IKeyValue } from 'etcd3';

export interface IncidentRecord {
  /** The incident's id, stable from FAIL to RECOVERED: part of every idempotency key. */
  id: string;
  status: 'open' | 'resolved';
  /** When the transition that set this status happened (the node's probe time). */
  since: string;
}

export interface PendingNotification {
  /** `${incident id}:${status}`: the same key for every node and every retry of this transition. */
  idempotency_key: string;
  check: string;
  status: IncidentRecord['status'];
  decided_by: string;
  decided_at: string;
  message: string;
}

export interface Decision {
  /** True when this call recorded the transition; false when another node (or an earlier call) already had. */
  decided: boolean;
  incident: IncidentRecord | undefined;
}

const encodeKey = (s: string) => encodeURIComponent(s);

export class Decisions {
  private readonly incidents: string;
  private readonly notifications: string;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly node: string,
  ) {
    this.incidents = `${prefix}incidents/`;
    this.notifications = `${prefix}notifications/`;
  }

  async incident(check: string): Promise<IncidentRecord | undefined> {
    const text = await this.client.get(this.incidents + encodeKey(check)).string();
    return text === null ? undefined : (JSON.parse(text) as IncidentRecord);
  }

  /**
   * Records `check` going to `status` (open: FAIL, resolved: RECOVERED) unless the record already says so.
   * `newId` names a new incident when one opens. Retries when the record changed under it, then looks again.
   */
  async decide(
    check: string,
    status: IncidentRecord['status'],
    since: string,
    message: string,
    newId: string,
  ): Promise<Decision> {
    const key = this.incidents + encodeKey(check);
    for (;;) {
      const current = await this.client.get(key).exec();
      const kv: IKeyValue | undefined = current.kvs[0];
      const record = kv ? (JSON.parse(kv.value.toString()) as IncidentRecord) : undefined;
      if ((record?.status ?? 'resolved') === status) return { decided: false, incident: record };
      const next: IncidentRecord = { id: status === 'open' ? newId : (record as IncidentRecord).id, status, since };
      const notification: PendingNotification = {
        idempotency_key: `${next.id}:${status}`,
        check,
        status,
        decided_by: this.node,
        decided_at: new Date().toISOString(),
        message,
      };
      const result = await this.client
        .if(key, 'Mod', '==', kv ? kv.mod_revision : 0)
        .then(
          this.client.put(key).value(JSON.stringify(next)),
          this.client
            .put(this.notifications + encodeKey(notification.idempotency_key))
            .value(JSON.stringify(notification)),
        )
        .commit();
      if (result.succeeded) return { decided: true, incident: next };
    }
  }

  /** Notifications decided and not yet delivered, oldest decision first. */
  async pending(): Promise<PendingNotification[]> {
    const all = await this.client.getAll().prefix(this.notifications).strings();
    return Object.values(all)
      .map((v) => JSON.parse(v) as PendingNotification)
      .sort((a, b) => a.decided_at.localeCompare(b.decided_at));
  }

  /** Calls `onPending` for every notification recorded from now on (the leader runs this; pending() covers the past). */
  async watch(onPending: (n: PendingNotification) => void): Promise<() => Promise<void>> {
    const watcher = await this.client.watch().prefix(this.notifications).create();
    watcher.on('put', (kv) => onPending(JSON.parse(kv.value.toString()) as PendingNotification));
    return () => watcher.cancel();
  }

  /** After delivery: the notification is done for the whole fleet. */
  async delivered(idempotencyKey: string): Promise<void> {
    await this.client
      .delete()
      .key(this.notifications + encodeKey(idempotencyKey))
      .exec();
  }
}
