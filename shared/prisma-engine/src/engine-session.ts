import { readFile } from 'node:fs/promises';
import { createDatabase, KnownEngineError } from './database-admin';
import { migrationAdapterFactory } from './pg-adapter';
import { loadWasmBindings, type WasmSchemaEngine } from './wasm-engine';
import type { EngineArguments } from './arguments';

/** CLI method names whose wasm counterpart is spelled differently. */
const RENAMED_METHODS: Record<string, string> = { getDatabaseVersion: 'version' };

/**
 * One schema engine process: the wasm engine built lazily on the first call (so `--version`
 * and connection-free calls stay cheap), then every JSON-RPC call forwarded to it.
 */
export class EngineSession {
  private nextRequestId = 1;

  /** Ids for the requests this side sends to the CLI (`print`). */
  requestId(): number {
    return this.nextRequestId++;
  }

  private engine?: Promise<WasmSchemaEngine>;

  constructor(private readonly args: EngineArguments) {}

  /** A call's result, and text the CLI should print (the native engine sends it as a `print` request). */
  async call(method: string, params: unknown): Promise<{ result: unknown; print?: string }> {
    if (method === 'createDatabase') {
      const name = await createDatabase(
        this.datasourceUrl((params as { datasource?: unknown })?.datasource),
      );
      return { result: { databaseName: name } };
    }
    const engine = await this.start();
    const target = RENAMED_METHODS[method] ?? method;
    if (typeof engine[target] !== 'function') {
      throw new KnownEngineError(
        'P1012',
        `The WebAssembly schema engine does not implement \`${method}\``,
      );
    }
    // Called on the engine object: the wasm glue needs `this`.
    const result = await (engine[target] as (p: unknown) => Promise<unknown>).call(engine, params);
    // `diff` hands its human-readable output back; the CLI expects it printed through itself.
    if (method === 'diff' && typeof (result as { stdout?: unknown })?.stdout === 'string') {
      const { stdout, ...rest } = result as { stdout: string };
      return { result: rest, print: stdout };
    }
    return { result: result ?? null };
  }

  async close(): Promise<void> {
    if (this.engine) (await this.engine.catch(() => undefined))?.free();
  }

  private start(): Promise<WasmSchemaEngine> {
    this.engine ??= (async () => {
      const bindings = await loadWasmBindings();
      const datamodels = await Promise.all(
        this.args.datamodels.map(async (path): Promise<[string, string]> => [
          path,
          await readFile(path, 'utf8'),
        ]),
      );
      const adapter = migrationAdapterFactory(
        this.datasourceUrl(undefined),
        this.args.datasource?.shadowDatabaseUrl,
      );
      return bindings.SchemaEngine.new(
        { datamodels: datamodels.length ? datamodels : undefined },
        forwardLog,
        adapter,
      );
    })();
    return this.engine;
  }

  /** The URL from a request's `datasource` param, else from `--datasource`. */
  private datasourceUrl(requested: unknown): string {
    const fromRequest = urlFromDatasourceParam(requested);
    const url = fromRequest ?? this.args.datasource?.url;
    if (!url) {
      throw new KnownEngineError(
        'P1012',
        'No database URL: set `datasource.url` in prisma.config.ts',
      );
    }
    return url;
  }
}

/** `{ tag: 'ConnectionString', url }` (the CLI's DatasourceParam) or a bare `{ url }`. */
function urlFromDatasourceParam(param: unknown): string | undefined {
  const value = param as { url?: unknown } | undefined;
  return typeof value?.url === 'string' ? value.url : undefined;
}

/** The wasm engine logs JSON lines like the native one; the CLI reads them from stderr. */
function forwardLog(line: string): void {
  process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
}
