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
  /** Conditions of the operator's own health that fail neither probe, e.g. the broker events. */
  conditions?: () => HealthCondition[];
}

export interface HealthCondition {
  name: string;
  ok: boolean;
  message: string;
}

/**
 * `?verbose`, as the API server's own probes answer it: one `[+]` or `[-]` line per check,
 * the probe's own first, then the conditions that do not fail it.
 */
function verbose(probe: string, reason: string | undefined, conditions: HealthCondition[]) {
  const lines = [reason ? `[-]${probe} failed: ${reason}` : `[+]${probe} ok`];
  for (const c of conditions)
    lines.push(
      `[${c.ok ? '+' : '-'}]${c.name} ${c.ok ? 'ok' : 'failed'}: ${c.message} (not required)`,
    );
  lines.push(`${probe} check ${reason ? 'failed' : 'passed'}`);
  return `${lines.join('\n')}\n`;
}

/** `/healthz`, `/readyz` and `/metrics` on one small HTTP server. */
export async function startHealthServer(options: HealthServerOptions): Promise<http.Server> {
  const server = http.createServer(async (request, response) => {
    const [path, query = ''] = (request.url ?? '/').split('?');
    const detailed = new URLSearchParams(query).has('verbose');
    const answer = (probe: string, reason: string | undefined, short: string) =>
      response
        .writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' })
        .end(detailed ? verbose(probe, reason, options.conditions?.() ?? []) : short);
    if (path === '/healthz') {
      const alive = options.alive();
      answer('healthz', alive ? undefined : 'not alive', alive ? 'ok\n' : 'not alive\n');
    } else if (path === '/readyz') {
      const reason = options.notReadyReason();
      answer('readyz', reason, reason ? `${reason}\n` : 'ok\n');
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
