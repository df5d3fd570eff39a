import { defineConfig } from 'prisma/config';

// Migrations run through the project's stand-in schema engine: no engine download (docs/services.md).
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= require.resolve('@warren/prisma-engine/schema-engine');

export default defineConfig({
  // The messaging module's outbox/inbox (migration <timestamp>_warren_messaging): not modelled, never dropped.
  experimental: { externalTables: true },
  tables: { external: ['public.warren_outbox', 'public.warren_inbox'] },
  // Migrations live next to the schema (prisma/migrations): `prisma migrate deploy --schema DIR`,
  // as the operator's migration Job runs it, takes both the schema and the migrations from DIR.
  schema: 'prisma/schema.prisma',
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5442/order_service',
  },
});
