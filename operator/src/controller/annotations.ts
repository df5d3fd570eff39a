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
/** Which generated output an object is (`keda-autoscaling`, `asyncapi`), so stale ones are pruned. */
export const COMPONENT_LABEL = 'warren.dev/component';

export const isTrue = (value: string | undefined) => value === 'true';

/** On a DatabaseMigration's Jobs: which migration runs them (the informer's label selector). */
export const MIGRATION_LABEL = 'warren.dev/database-migration';
/** On a migration Job: the input it runs (a prefix of the DatabaseMigration's input hash). */
export const INPUT_HASH_LABEL = 'warren.dev/input-hash';
/** On a migration Job: the database it migrates (a hash of its identity); one Job at a time per value. */
export const DATABASE_LABEL = 'warren.dev/database';
/** On a migration Job: its run number for the migration, and its attempt for the same input. */
export const RUN_ANNOTATION = 'warren.dev/run';
export const ATTEMPT_ANNOTATION = 'warren.dev/attempt';
