/**
 * Leadership through etcd's election (the etcd3 client's Election): one campaign per node, its key under a lease,
 * so a dead leader's key expires with its lease and the next candidate in line is elected. No election of our own.
 * Who leads is read with Election.leader() on every change under the election's keys: etcd3 1.1.2's
 * ElectionObserver can report the last of several simultaneous candidates instead of the first (the elected one).
 */
import { EventEmitter } from 'node:events';
import type { Campaign, Election, Etcd3, Namespace, Watcher } from 'etcd3';

interface LeadershipEvents {
  change: [{ isLeader: boolean; leader: string | undefined }];
}

/** After a failed campaign or observer, wait this long before the next try (etcd is likely away). */
const RETRY_MS = 1_000;

export class Leadership extends EventEmitter<LeadershipEvents> {
  private readonly election: Election;
  private campaign: Campaign | undefined;
  private watcher: Watcher | undefined;
  private readonly client: Namespace;
  private retry: NodeJS.Timeout | undefined;
  private leading = false;
  private current: string | undefined;
  private active = false;
  private campaignKey: string | undefined;

  /** Campaign keys live under `${prefix}election/leader/`, so an etcd role on the prefix covers them. */
  constructor(
    etcd: Etcd3,
    prefix: string,
    private readonly node: string,
    ttlSeconds: number,
  ) {
    super();
    this.client = etcd.namespace(prefix);
    this.election = this.client.election('leader', ttlSeconds);
  }

  get isLeader(): boolean {
    return this.leading;
  }
  /** This node's election key while it leads: leader-only writes are fenced by its existence. */
  get fenceKey(): string | undefined {
    return this.leading ? this.campaignKey : undefined;
  }
  /** The node name of the current leader, as far as this node knows. */
  get leader(): string | undefined {
    return this.current;
  }

  async start(): Promise<void> {
    this.active = true;
    await this.observe();
    this.runCampaign();
  }

  /** Stops leading at once (this node cannot coordinate); the campaign's lease is revoked when etcd answers. */
  suspend(): void {
    this.active = false;
    if (this.retry) clearTimeout(this.retry);
    const campaign = this.campaign;
    this.campaign = undefined;
    campaign?.resign().catch(() => undefined);
    void this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
    this.update(false, undefined);
  }

  resume(): void {
    if (this.active) return;
    this.active = true;
    void this.observe().then(() => this.runCampaign());
  }

  async close(): Promise<void> {
    this.active = false;
    if (this.retry) clearTimeout(this.retry);
    const campaign = this.campaign;
    this.campaign = undefined;
    await campaign?.resign().catch(() => undefined);
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
    this.leading = false;
  }

  private async observe(): Promise<void> {
    try {
      const watcher = await this.client
        .watch()
        .prefix(`${(this.election.constructor as typeof Election).prefix}/leader/`)
        .create();
      if (!this.active) {
        await watcher.cancel();
        return;
      }
      this.watcher = watcher;
      const read = () => void this.readLeader();
      watcher.on('put', read).on('delete', read).on('connected', read);
      await this.readLeader();
    } catch {
      this.later(() => void this.observe());
    }
  }

  private async readLeader(): Promise<void> {
    try {
      const leader = await this.election.leader();
      // Our campaign's 'elected' event is the word on our own leadership; the read only names the others.
      this.update(this.leading && leader === this.node, leader);
    } catch {
      // etcd away: membership decides when this node is down; the next event reads again
    }
  }

  private runCampaign(): void {
    if (!this.active || this.campaign) return;
    const campaign = this.election.campaign(this.node);
    this.campaign = campaign;
    campaign.on('elected', () => {
      // The key is known once elected (its lease was granted to campaign); leading starts with a fence.
      void campaign.getCampaignKey().then(
        (key) => {
          if (this.campaign !== campaign) return;
          this.campaignKey = key;
          this.update(true, this.node);
        },
        () => undefined,
      );
    });
    campaign.on('error', () => {
      if (this.campaign !== campaign) return;
      this.campaign = undefined;
      this.update(false, this.current === this.node ? undefined : this.current);
      this.later(() => this.runCampaign());
    });
  }

  private later(fn: () => void): void {
    if (!this.active) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(fn, RETRY_MS);
  }

  private update(isLeader: boolean, leader: string | undefined): void {
    if (isLeader === this.leading && leader === this.current) return;
    this.leading = isLeader;
    this.current = leader;
    this.emit('change', { isLeader, leader });
  }
}
