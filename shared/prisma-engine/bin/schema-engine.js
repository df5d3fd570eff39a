#!/usr/bin/env node
// Stands in for Prisma's native schema engine (PRISMA_SCHEMA_ENGINE_BINARY): the Prisma CLI
// spawns this file and talks JSON-RPC to it; the work is done by @prisma/schema-engine-wasm.
// Runs the TypeScript sources through tsx in the repository, the compiled dist/ elsewhere.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function loadEntry() {
  const source = join(__dirname, '..', 'src', 'main.ts');
  if (existsSync(source)) {
    try {
      require.resolve('tsx/cjs');
      require('tsx/cjs');
      return require(source);
    } catch (error) {
      if (error.code !== 'MODULE_NOT_FOUND') throw error;
    }
  }
  return require(join(__dirname, '..', 'dist', 'main.js'));
}

loadEntry()
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (error) => {
      const fields = { message: String((error && error.stack) || error) };
      process.stderr.write(
        `${JSON.stringify({ level: 'ERROR', fields, target: 'schema_engine::logger' })}\n`,
      );
      process.exit(1);
    },
  );
