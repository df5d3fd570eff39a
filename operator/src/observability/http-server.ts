import * as http from 'node:http';
import type { Registry } from './metric-registry';

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Liveness: the process can still do work. */
  alive: () => boolean;
  /** Readiness: a reason string when not ready, undefined when ready. */
  notReadyReason: () => string | undefined;
}

/** `/healthz`, `/readyz` and `/metrics` on one small HTTP server. */
export async function startHealthServer(options: HealthServerOptions): Promise<http.Server> {
  const server = http.createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const alive = options.alive();
      response
        .writeHead(alive ? 200 : 503, { 'content-type': 'text/plain' })
        .end(alive ? 'ok\n' : 'not alive\n');
    } else if (path === '/readyz') {
      const reason = options.notReadyReason();
      response
        .writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' })
        .end(reason ? `${reason}\n` : 'ok\n');
    } else if (path === '/metrics') {
      response
        .writeHead(200, { 'content-type': options.registry.contentType })
        .end(await options.registry.metrics());
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port, options.host ?? '0.0.0.0', resolve),
  );
  return server;
}
