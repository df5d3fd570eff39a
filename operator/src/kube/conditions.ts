/**
 * metav1.Condition handling: a condition's lastTransitionTime changes only when its status
 * does, and every write carries the generation it describes.
 */
import { byCodePoint } from '../util/order';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** Returns a new list with `input` set, keeping the transition time when the status is unchanged. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === input.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    ...input,
    lastTransitionTime:
      previous && previous.status === input.status
        ? previous.lastTransitionTime
        : now.toISOString(),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/** True when the two lists say the same thing (ignoring transition times), so no status write is needed. */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  // Fields in a fixed order: the API server returns keys sorted, not in the order we wrote them.
  const strip = (list: readonly Condition[] | undefined) =>
    JSON.stringify(
      [...(list ?? [])]
        .map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration])
        .sort(([x], [y]) => byCodePoint(String(x), String(y))),
    );
  return strip(a) === strip(b);
}

/** Sets several conditions at once, all stamped with the generation they were computed from. */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  inputs: Omit<ConditionInput, 'observedGeneration'>[],
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  return inputs.reduce<Condition[]>(
    (list, input) => setCondition(list, { ...input, observedGeneration }, now),
    [...(conditions ?? [])],
  );
}
