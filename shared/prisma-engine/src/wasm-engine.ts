import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ErrorCapturingSqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

/** The subset of @prisma/schema-engine-wasm's SchemaEngine this project calls; every method returns a promise. */
export interface WasmSchemaEngine {
  [method: string]: unknown;
  free(): void;
}

interface WasmBindings {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
  version(): string;
  SchemaEngine: {
    new: (
      options: { datamodels: [string, string][] | undefined },
      log: (line: string) => void,
      adapter: ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
    ) => Promise<WasmSchemaEngine>;
  };
}

/** Collects the message of a Rust panic: the wasm module reports it here before trapping. */
class WasmPanicRegistry {
  private message = '';
  set_message(value: string): void {
    this.message = `RuntimeError: ${value}`;
  }
  take(): string {
    const value = this.message;
    this.message = '';
    return value;
  }
}

export const wasmPanics = new WasmPanicRegistry();
(
  globalThis as unknown as { PRISMA_WASM_PANIC_REGISTRY: WasmPanicRegistry }
).PRISMA_WASM_PANIC_REGISTRY = wasmPanics;

let loaded: Promise<WasmBindings> | undefined;

/**
 * Loads the WebAssembly schema engine. The package entry imports the .wasm file as an ES module,
 * which Node 20 cannot do, so the JS glue is imported alone and the binary instantiated here.
 */
export function loadWasmBindings(): Promise<WasmBindings> {
  loaded ??= (async () => {
    const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bindings = (await import(pathToFileURL(gluePath).href)) as WasmBindings &
      Record<string, unknown>;
    const bytes = await readFile(join(dirname(gluePath), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, {
      './schema_engine_bg.js': bindings as unknown as WebAssembly.ModuleImports,
    });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bindings;
  })();
  return loaded;
}
