import { KnownEngineError } from './database-admin';
import { wasmPanics } from './wasm-engine';

/** The error member of a JSON-RPC response, in the shape the native schema engine sends. */
export interface RpcError {
  code: number;
  message: string;
  data: { is_panic: boolean; message: string; error_code?: string; meta?: unknown };
}

const ENGINE_ERROR = 4466;

export function toRpcError(error: unknown): RpcError {
  const wrap = (data: RpcError['data']): RpcError => ({
    code: ENGINE_ERROR,
    message: 'An error happened. Check the data field for details.',
    data,
  });
  if (error instanceof WebAssembly.RuntimeError) {
    return wrap({ is_panic: true, message: wasmPanics.take() || (error as Error).message });
  }
  if (error instanceof KnownEngineError) {
    return wrap({ is_panic: false, message: error.message, error_code: error.errorCode });
  }
  const engineError = error as { code?: unknown; message?: unknown; meta?: unknown };
  if (typeof engineError?.code === 'string' && typeof engineError.message === 'string') {
    return wrap({
      is_panic: false,
      message: engineError.message,
      error_code: engineError.code,
      meta: engineError.meta,
    });
  }
  const message = error instanceof Error ? `${error.message}${causeOf(error)}` : String(error);
  return wrap({ is_panic: false, message });
}

function causeOf(error: Error): string {
  return error.cause
    ? ` (cause: ${error.cause instanceof Error ? error.cause.message : String(error.cause)})`
    : '';
}
