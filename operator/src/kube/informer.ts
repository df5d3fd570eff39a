import { backoffDelayMs } from '../util/backoff';
import { KubeApiError, type KubeClient, type KubeObject } from './client';

export type InformerEvent = 'added' | 'modified' | 'deleted';

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  /** Collection path, e.g. /apis/warren.dev/v1alpha1/eventroutes or .../namespaces/NS/eventroutes. */
  path: string;
  labelSelector?: string;
  /** Full relist period: replayed or missed watch events can never leave the cache wrong for longer. */
  relistIntervalMs: number;
  onEvent: (event: InformerEvent, object: T) => void;
  /** After every (re)list, with the whole cache: the periodic resync hook. */
  onSync?: (objects: T[]) => void;
  onError?: (error: unknown) => void;
  /** Seconds the server keeps one watch open before we reopen it from the last resourceVersion. */
  watchTimeoutSeconds?: number;
}

/**
 * What the cache keeps of an object: without `metadata.managedFields` (server-side apply's
 * bookkeeping, often larger than the object and never read by the operator), as client-go's
 * informers drop it.
 */
export function cached<T extends KubeObject>(object: T): T {
  const metadata = object.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  if (metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...rest } = metadata;
  return { ...object, metadata: rest };
}

export function objectKey(object: KubeObject): string {
  return object.metadata.namespace
    ? `${object.metadata.namespace}/${object.metadata.name}`
    : object.metadata.name;
}

/**
 * List + watch with resourceVersion, the client-go reflector contract: list, then watch from the
 * list's resourceVersion with bookmarks; a closed watch reopens from the last version seen; a
 * 410 Gone (history compacted) relists; errors back off and retry forever. A periodic relist
 * diffs against the cache, so a missed event is corrected within one period.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private abort?: AbortController;
  private relistTimer?: NodeJS.Timeout;
  private stopped = true;
  private failures = 0;
  private synced!: Promise<void>;
  private markSynced!: () => void;

  constructor(private readonly options: InformerOptions<T>) {}

  /** Starts listing and watching; resolves after the first successful list. */
  start(): Promise<void> {
    this.stopped = false;
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    void this.relistAndWatch();
    this.relistTimer = setInterval(() => void this.relistAndWatch(), this.options.relistIntervalMs);
    this.relistTimer.unref?.();
    return this.synced;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.relistTimer);
    this.abort?.abort();
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  private async relistAndWatch(): Promise<void> {
    if (this.stopped) return;
    try {
      const list = await this.options.client.list<T>(this.options.path, {
        labelSelector: this.options.labelSelector,
      });
      this.replace(list.items);
      this.resourceVersion = list.metadata.resourceVersion;
      this.failures = 0;
      this.markSynced();
      this.options.onSync?.(this.list());
      if (!this.abort) await this.watch();
    } catch (error) {
      this.retryLater(error);
    }
  }

  private replace(items: T[]) {
    const seen = new Set<string>();
    for (const listed of items) {
      const item = cached(listed);
      const key = objectKey(item);
      seen.add(key);
      const previous = this.cache.get(key);
      this.cache.set(key, item);
      if (!previous) this.options.onEvent('added', item);
      else if (previous.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.options.onEvent('modified', item);
    }
    for (const [key, item] of [...this.cache]) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.options.onEvent('deleted', item);
      }
    }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    const params = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      labelSelector: this.options.labelSelector,
      timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
    };
    let gone = false;
    this.abort = await this.options.client.watch(
      this.options.path,
      params,
      (type, object: T & { code?: number }) => {
        if (type === 'ERROR') {
          gone = object.code === 410;
          return;
        }
        if (object.metadata?.resourceVersion)
          this.resourceVersion = object.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        const key = objectKey(object);
        if (type === 'DELETED') {
          this.cache.delete(key);
          this.options.onEvent('deleted', object);
        } else {
          const known = this.cache.has(key);
          const item = cached(object);
          this.cache.set(key, item);
          this.options.onEvent(known ? 'modified' : 'added', item);
        }
      },
      (error) => {
        this.abort = undefined;
        if (this.stopped) return;
        if (
          gone ||
          (error instanceof KubeApiError && error.status === 410) ||
          error?.statusCode === 410
        ) {
          void this.relistAndWatch();
        } else if (error) {
          this.retryLater(error, () => this.watch());
        } else {
          void this.watch().catch((e) => this.retryLater(e));
        }
      },
    );
  }

  private retryLater(error: unknown, next: () => Promise<void> = () => this.relistAndWatch()) {
    this.abort = undefined;
    if (this.stopped) return;
    this.failures++;
    this.options.onError?.(error);
    const delay = backoffDelayMs(this.failures + 1, 250, 30_000);
    setTimeout(() => void next().catch((e) => this.retryLater(e)), delay).unref?.();
  }
}
