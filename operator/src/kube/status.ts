/**
 * What every controller does with the objects it reconciles: compare a status before writing
 * it, patch status and metadata so that an object deleted meanwhile (404) is no error, and
 * record Events without letting a failed Event fail the reconcile.
 */
import type { KubeClient, KubeObject } from './client';
import { KubeApiError } from './client';
import { sameConditions, type Condition } from './conditions';
import type { EventRecorder, EventType } from './events';
import { byCodePoint } from '../util/order';

/** A status with metav1.Conditions (every Warren status has them). */
export interface StatusWithConditions {
  conditions?: readonly Condition[];
}

/** JSON with sorted keys: the API server need not keep our key order. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => byCodePoint(a, b)),
        )
      : v,
  );

/** True when writing `next` would change what the status says (transition times aside). */
export function statusChanged<S extends StatusWithConditions>(
  previous: S | undefined,
  next: S,
): boolean {
  const { conditions: before, ...restBefore } = previous ?? ({} as S);
  const { conditions: after, ...restAfter } = next;
  return !sameConditions(before, after) || canonical(restBefore) !== canonical(restAfter);
}

/** Runs a write; an object that is gone (404) needs it no more. */
export async function unlessGone(write: Promise<unknown>): Promise<void> {
  try {
    await write;
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return;
    throw error;
  }
}

/** An object's status subresource, through a merge patch (guarded by `resourceVersion` if given). */
export function patchStatus(
  client: KubeClient,
  path: string,
  status: unknown,
  resourceVersion?: string,
): Promise<void> {
  return unlessGone(
    client.mergePatch(`${path}/status`, {
      ...(resourceVersion !== undefined && { metadata: { resourceVersion } }),
      status,
    }),
  );
}

/** A metadata merge patch guarded by resourceVersion: a stale view gets 409 and is retried. */
export function patchMetadata(
  client: KubeClient,
  path: string,
  object: KubeObject,
  metadata: Record<string, unknown>,
): Promise<void> {
  return unlessGone(
    client.mergePatch(path, {
      metadata: { ...metadata, resourceVersion: object.metadata.resourceVersion },
    }),
  );
}

/** The finalizers of `object` with `finalizer` added or removed. */
export function finalizersWith(object: KubeObject, finalizer: string, present: boolean): string[] {
  const others = (object.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  return present ? [...others, finalizer] : others;
}

/** Records Events on one kind of object; a failed Event is logged, never thrown. */
export function eventsFor(
  recorder: EventRecorder,
  type: { apiVersion: string; kind: string },
  warn: (error: unknown) => void,
) {
  return (
    object: KubeObject,
    event: { type: EventType; reason: string; message: string },
  ): Promise<void> =>
    recorder
      .record({ ...type, metadata: object.metadata }, event.type, event.reason, event.message)
      .catch(warn);
}
