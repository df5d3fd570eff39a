/**
 * Carries out what controller/service-outputs.ts decides: each service's ConfigMap and Secret
 * written where its routes are, and removed from namespaces where no route names it any more.
 */
import type { EventRoute } from '@warren/crds';
import type { KubeClient } from '../kube/client';
import { runLimited } from '../util/run-limited';
import { corePath } from './resources';
import { serviceOutputWrites, staleServiceOutputs, type ServicePlacement } from './service-outputs';

type Cached = Parameters<typeof staleServiceOutputs>[0]['configMaps'][number];

/**
 * Requests in flight at once. Deleting 5,000 routes in 50 namespaces leaves up to 3,500
 * ConfigMaps and Secrets to remove; one at a time, that is 3,500 round trips in a row.
 */
const CONCURRENCY = 8;

export interface ServiceOutputInput {
  placements: readonly ServicePlacement[];
  passwords: ReadonlyMap<string, string>;
  /** Every route in the cache: a service keeps its outputs in a namespace while one names it. */
  routes: readonly EventRoute[];
  /** Broker users the plan keeps (their Secrets stay). */
  keptUsers: ReadonlySet<string>;
  configMaps: readonly Cached[];
  secrets: readonly Cached[];
}

export class ServiceOutputWriter {
  constructor(
    private readonly client: KubeClient,
    private readonly fieldManager: string,
    private readonly brokerAmqpUrl: string,
  ) {}

  async write(input: ServiceOutputInput): Promise<void> {
    const writes = serviceOutputWrites({ ...input, brokerAmqpUrl: this.brokerAmqpUrl });
    await runLimited(writes, CONCURRENCY, async (write) => {
      await this.client.apply(
        corePath(write.namespace, write.plural, write.name),
        write.body,
        this.fieldManager,
      );
    });
    await runLimited(staleServiceOutputs(input), CONCURRENCY, (stale) =>
      this.client.remove(corePath(stale.namespace, stale.plural, stale.name)),
    );
  }
}
