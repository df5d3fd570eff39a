import { databaseMigration } from './database-migration';
import { eventRoute } from './event-route';
import { retryPolicy } from './retry-policy';

export * from './crd';
export type { CelRule, Schema } from './openapi';
export { eventRoute, retryPolicy, databaseMigration };

/** Every Warren kind, in the order the CRDs are listed. */
export const resourceDefinitions = [eventRoute, retryPolicy, databaseMigration];
