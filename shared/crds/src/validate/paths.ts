/** Field paths in the form kubectl prints them: `spec.events[0]`, `spec.consumer.queueType`. */
export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** `/spec/events/0` (a JSON pointer, as Ajv reports it) to `spec.events[0]`. */
export function fromJsonPointer(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, part) => joinPath(path, /^\d+$/.test(part) ? Number(part) : part), '');
}

/** A CEL rule's fieldPath (`.maxDelay`, `.spec.consumer`) appended to the node's path. */
export function appendFieldPath(parent: string, fieldPath: string | undefined): string {
  if (!fieldPath) return parent;
  const relative = fieldPath.replace(/^\./, '');
  return parent ? `${parent}.${relative}` : relative;
}
