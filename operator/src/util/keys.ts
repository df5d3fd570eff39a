/**
 * Composite keys for joins (vhost and queue, kind and name...): the parts are joined with NUL,
 * which no Kubernetes or RabbitMQ name contains, so two different tuples never share a key.
 */
export const compositeKey = (...parts: readonly string[]): string => parts.join('\u0000');

/** The parts of a key made by `compositeKey`. */
export const keyParts = (key: string): string[] => key.split('\u0000');

/** Items grouped under their key, in their original order. */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
