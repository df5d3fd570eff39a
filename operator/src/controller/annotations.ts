/** The finalizer, annotations and labels the operator reads and writes (all documented in the README). */
export const FINALIZER = 'warren.dev/finalizer';

/** "true": leave the route's broker objects exactly as they are until the annotation goes. */
export const PAUSED_ANNOTATION = 'warren.dev/paused';
/** "true": release the route: drop the finalizer and forget it, deleting nothing on the broker. */
export const UNMANAGED_ANNOTATION = 'warren.dev/unmanaged';
/** "true" on a route being deleted: remove the finalizer even when the broker cannot be reached. */
export const FORCE_FINALIZE_ANNOTATION = 'warren.dev/force-finalize';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'warren';
export const SERVICE_LABEL = 'warren.dev/service';
export const ROUTE_LABEL = 'warren.dev/route';

export const isTrue = (value: string | undefined) => value === 'true';
