/**
 * Compiling for the operator: one bad route must not hold every other route hostage. When the
 * whole set does not compile, routes that fail on their own are set aside, then the rest are
 * added oldest first; a route that makes the set fail is in conflict with an older one and is
 * the one set aside (the older claim wins). Pure; the common case compiles once.
 */
import type { EventRoute, RetryPolicy } from '@warren/crds';
import { resourceKey } from '@warren/crds/core';
import { CompileError, compile, type CompileOptions } from '../engine/compile';
import type { DesiredTopology } from '../engine/model';
import { compositeKey } from '../util/keys';
import { byCodePoint } from '../util/order';

export type RejectionReason = 'InvalidRoute' | 'Conflict';

export interface Rejection {
  reason: RejectionReason;
  message: string;
}

export interface ResilientCompileResult {
  desired: DesiredTopology;
  /** Routes left out of the desired topology, by `namespace/name`. */
  rejected: Map<string, Rejection>;
}

const age = (route: EventRoute) =>
  compositeKey(route.metadata.creationTimestamp ?? '', resourceKey(route));

function problemsOf(
  routes: EventRoute[],
  policies: readonly RetryPolicy[],
  options: CompileOptions,
): string[] {
  try {
    compile(routes, policies, options);
    return [];
  } catch (error) {
    if (error instanceof CompileError) return error.problems;
    throw error;
  }
}

export function compileResilient(
  routes: readonly EventRoute[],
  policies: readonly RetryPolicy[],
  options: CompileOptions = {},
): ResilientCompileResult {
  const rejected = new Map<string, Rejection>();
  try {
    return { desired: compile(routes, policies, options), rejected };
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
  }
  const alone: EventRoute[] = [];
  for (const route of routes) {
    const problems = problemsOf([route], policies, options);
    if (problems.length > 0)
      rejected.set(resourceKey(route), { reason: 'InvalidRoute', message: problems.join('; ') });
    else alone.push(route);
  }
  const accepted: EventRoute[] = [];
  for (const route of [...alone].sort((a, b) => byCodePoint(age(a), age(b)))) {
    const problems = problemsOf([...accepted, route], policies, options);
    if (problems.length > 0)
      rejected.set(resourceKey(route), { reason: 'Conflict', message: problems.join('; ') });
    else accepted.push(route);
  }
  return { desired: compile(accepted, policies, options), rejected };
}
