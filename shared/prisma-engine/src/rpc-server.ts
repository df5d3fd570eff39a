import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { toRpcError } from './rpc-errors';
import type { EngineSession } from './engine-session';

interface RpcRequest {
  jsonrpc: '2.0';
  id: number;
  method?: string;
  params?: unknown;
  result?: unknown;
}

/**
 * Serves line-delimited JSON-RPC 2.0 on the given streams until input ends, one request at a time
 * in arrival order (the engine is not reentrant), as the native schema engine does.
 */
export async function serveJsonRpc(
  session: EngineSession,
  input: Readable,
  output: Writable,
): Promise<void> {
  const send = (message: object) => output.write(`${JSON.stringify(message)}\n`);
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let request: RpcRequest;
    try {
      request = JSON.parse(line) as RpcRequest;
    } catch {
      send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
      continue;
    }
    if (!request.method) continue; // the CLI's answer to a `print` request: nothing to do
    try {
      const { result, print } = await session.call(request.method, request.params);
      if (print)
        send({
          jsonrpc: '2.0',
          id: session.requestId(),
          method: 'print',
          params: { content: print.replace(/\n$/, '') },
        });
      send({ jsonrpc: '2.0', id: request.id, result });
    } catch (error) {
      send({ jsonrpc: '2.0', id: request.id, error: toRpcError(error) });
    }
  }
}
