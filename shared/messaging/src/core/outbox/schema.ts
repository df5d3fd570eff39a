import * as fs from 'node:fs';
import * as path from 'node:path';

/** The migration file services copy into their Prisma migrations (same depth from src/ and dist/). */
export const MIGRATION_FILE = path.resolve(__dirname, '../../../sql/warren_outbox_inbox.sql');

export function migrationSql(): string {
  return fs.readFileSync(MIGRATION_FILE, 'utf8');
}

/** The LISTEN/NOTIFY channel the insert trigger signals. */
export const OUTBOX_CHANNEL = 'warren_outbox';
