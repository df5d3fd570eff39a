export { schemaEngineBinaryPath, useOfflineSchemaEngine } from './engine-path';
export { runPrisma, type PrismaRun } from './run-prisma';
