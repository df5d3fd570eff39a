import type { KubeObject } from './client';
import type { Informer } from './informer';

/** One informer per watched namespace (or one for the cluster), read as one cache. */
export class WatchedCollection<T extends KubeObject> {
  readonly informers: Informer<T>[];
  constructor(paths: string[], make: (path: string) => Informer<T>) {
    this.informers = paths.map(make);
  }
  list(): T[] {
    return this.informers.flatMap((informer) => informer.list());
  }
  /** By `namespace/name`. */
  get(key: string): T | undefined {
    for (const informer of this.informers) {
      const object = informer.get(key);
      if (object) return object;
    }
    return undefined;
  }
  start() {
    return Promise.all(this.informers.map((informer) => informer.start()));
  }
  stop() {
    for (const informer of this.informers) informer.stop();
  }
}
