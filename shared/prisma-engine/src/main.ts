import { parseEngineArguments } from './arguments';
import { runCliCommand } from './cli-commands';
import { EngineSession } from './engine-session';
import { serveJsonRpc } from './rpc-server';
import { loadWasmBindings } from './wasm-engine';

/** Entry point of the stand-in schema engine executable (see bin/schema-engine.js). */
export async function main(argv: readonly string[]): Promise<number> {
  const args = parseEngineArguments(argv);
  if (args.printVersion) {
    process.stdout.write(`schema-engine-wasm ${(await loadWasmBindings()).version()}\n`);
    return 0;
  }
  if (args.cliCommand) return runCliCommand(args.cliCommand, args.datasource?.url);
  const session = new EngineSession(args);
  try {
    await serveJsonRpc(session, process.stdin, process.stdout);
  } finally {
    await session.close();
  }
  return 0;
}
