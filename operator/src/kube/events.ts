import type { KubeClient, KubeObject } from './client';

export type EventType = 'Normal' | 'Warning';

/**
 * Records core/v1 Events on the objects they concern (`kubectl describe` shows them). The same
 * reason on the same object within a short window is counted into one Event instead of a
 * new one each time, so a reconcile loop cannot flood the API server.
 */
export class EventRecorder {
  private readonly recent = new Map<
    string,
    { name: string; count: number; firstTimestamp: string; at: number }
  >();

  constructor(
    private readonly client: KubeClient,
    private readonly component: string,
    private readonly windowMs = 10 * 60_000,
  ) {}

  async record(
    object: KubeObject & { apiVersion: string; kind: string },
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const namespace = object.metadata.namespace ?? 'default';
    const key = `${namespace}/${object.kind}/${object.metadata.name}/${reason}/${message}`;
    const now = new Date();
    const previous = this.recent.get(key);
    const path = `/api/v1/namespaces/${namespace}/events`;
    if (previous && now.getTime() - previous.at < this.windowMs) {
      previous.count++;
      previous.at = now.getTime();
      await this.client
        .mergePatch(`${path}/${previous.name}`, {
          count: previous.count,
          lastTimestamp: now.toISOString(),
        })
        .catch(() => this.recent.delete(key));
      return;
    }
    const name = `${object.metadata.name}.${now.getTime().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
    await this.client.create(path, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata.name,
        namespace,
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: process.env.POD_NAME ?? this.component,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      count: 1,
    });
    this.recent.set(key, { name, count: 1, firstTimestamp: now.toISOString(), at: now.getTime() });
    if (this.recent.size > 5000) this.recent.delete(this.recent.keys().next().value!);
  }
}
