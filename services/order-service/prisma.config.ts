import { defineConfig } from 'prisma/config';

// Migrations run through the project's stand-in schema engine: no engine download (docs/services.md).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= require.resolve('@warren/prisma-engine/schema-engine');

export default defineConfig({
  // The messaging module's outbox/inbox (migration <timestamp>_warren_messaging): not modelled, never dropped.
  experimental: { externalTables: true },
  tables: { external: ['public.warren_outbox', 'public.warren_inbox'] },
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5442/order_service',
  },
});
