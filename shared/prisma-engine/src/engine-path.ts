import { join } from 'node:path';

/** The executable to give Prisma as PRISMA_SCHEMA_ENGINE_BINARY. */
export const schemaEngineBinaryPath = join(__dirname, '..', 'bin', 'schema-engine.js');

/**
 * Makes the Prisma CLI in this process (and the processes it spawns) use the stand-in engine,
 * unless the environment already names an engine. Call it from prisma.config.ts.
 */
export function useOfflineSchemaEngine(): void {
  process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= schemaEngineBinaryPath;
}
