import { KubeApiError, type KubeClient } from './client';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  leaseName: string;
  /** This replica's identity (pod name). */
  identity: string;
  leaseDurationSeconds: number;
  /** How often the leader renews; must be well under the lease duration. */
  renewIntervalMs: number;
  /** How often a follower tries to take an expired lease. */
  retryIntervalMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log?: (message: string) => void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Lease timestamps are MicroTime: RFC 3339 with microseconds. */
const microTime = (date: Date) => date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
 * the lease; anyone may take it once renewTime + leaseDuration has passed; every write is a
 * compare-and-swap on resourceVersion, so two replicas can never both believe they lead.
 * A leader that fails to renew before its lease would expire steps down on its own.
 */
export class LeaderElector {
  private timer?: NodeJS.Timeout;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  /** The last lease record seen and when this replica saw it change (clock-skew safe expiry). */
  private observedRecord = '';
  private observedAt = 0;

  constructor(private readonly options: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get path() {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases`;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops and, when leading, releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    const lease = await this.options.client
      .find<Lease>(`${this.path}/${this.options.leaseName}`)
      .catch(() => undefined);
    if (lease?.spec.holderIdentity === this.options.identity) {
      await this.options.client
        .replace(`${this.path}/${this.options.leaseName}`, {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: undefined,
            leaseDurationSeconds: 1,
            renewTime: microTime(new Date()),
          },
        })
        .catch(() => undefined);
    }
  }

  private schedule() {
    if (this.stopped) return;
    const delay = this.leading ? this.options.renewIntervalMs : this.options.retryIntervalMs;
    this.timer = setTimeout(() => void this.tick(), delay);
    this.timer.unref?.();
  }

  private setLeading(leading: boolean) {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.log?.(
      leading
        ? `became leader (${this.options.identity})`
        : `stopped leading (${this.options.identity})`,
    );
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private async tick(): Promise<void> {
    try {
      const acquired = await this.tryAcquireOrRenew();
      if (acquired) this.lastRenew = Date.now();
      this.setLeading(acquired);
    } catch (error) {
      this.options.log?.(`lease ${this.options.leaseName}: ${(error as Error).message}`);
      // Renewal failed (API server unreachable): keep leading only while the lease still holds.
      if (this.leading && Date.now() - this.lastRenew > this.options.leaseDurationSeconds * 1000)
        this.setLeading(false);
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, leaseName, identity, leaseDurationSeconds } = this.options;
    const now = new Date();
    const existing = await client.find<Lease>(`${this.path}/${leaseName}`);
    if (!existing) {
      try {
        await client.create(this.path, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: leaseName, namespace: this.options.namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 409) return false;
        throw error;
      }
    }
    const spec = existing.spec;
    const held = spec.holderIdentity === identity;
    // Expiry is judged by this replica's own clock since it last saw the record change, never by
    // comparing another replica's timestamps with ours.
    const record = `${spec.holderIdentity}|${spec.renewTime}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now.getTime();
    }
    const expired =
      this.observedAt + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
    if (!held && spec.holderIdentity && !expired) return false;
    try {
      await client.replace(`${this.path}/${leaseName}`, {
        ...existing,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: held ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (held ? 0 : 1),
        },
      });
      return true;
    } catch (error) {
      // Someone else wrote the lease first (resourceVersion conflict): they win this round.
      if (error instanceof KubeApiError && error.status === 409) return false;
      throw error;
    }
  }
}
