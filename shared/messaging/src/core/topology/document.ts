import * as fs from 'node:fs';
import { z } from 'zod';
import { TOPOLOGY_API_VERSION, type ServiceTopology } from '@warren/contracts';
import { TopologyDocumentError } from '../errors';

const name = z.string().min(1);
const exchangeType = z.enum(['topic', 'direct', 'fanout']);

/** Runtime check of the document against the ServiceTopology type (the compiler keeps them equal). */
const ServiceTopologySchema = z.object({
  apiVersion: z.literal(TOPOLOGY_API_VERSION),
  kind: z.literal('ServiceTopology'),
  service: name,
  vhost: name,
  publishes: z.array(
    z.object({
      eventType: name,
      exchange: name,
      exchangeType,
      routingKey: name,
      routes: z.array(name),
    }),
  ),
  consumes: z.array(
    z.object({
      route: name,
      queue: name,
      queueType: z.enum(['quorum', 'classic']),
      prefetch: z.number().int().positive().max(65535),
      source: z.object({ service: name, exchange: name, exchangeType }),
      eventTypes: z.array(name),
      retry: z
        .object({
          policy: name.nullable(),
          // Documents of an operator older than the field mean TTL queues.
          strategy: z.enum(['ttl-queues', 'broker']).default('ttl-queues'),
          maxAttempts: z.number().int().positive(),
          delaysMs: z.array(z.number().int().nonnegative()),
          nonRetryableErrors: z.array(name),
          exchange: z.string(),
          levels: z.array(
            z.object({ delayMs: z.number().int().nonnegative(), queue: name, routingKey: name }),
          ),
        })
        .refine((r) => r.delaysMs.length === r.maxAttempts - 1, {
          message: 'delaysMs must have maxAttempts - 1 entries',
          path: ['delaysMs'],
        })
        .refine((r) => r.maxAttempts === 1 || r.strategy === 'broker' || r.exchange !== '', {
          message: 'a retry exchange is required when maxAttempts > 1 (strategy ttl-queues)',
          path: ['exchange'],
        })
        .refine(
          (r) =>
            r.strategy === 'broker' ||
            r.delaysMs.every((d) => r.levels.some((l) => l.delayMs === d)),
          {
            message: 'every delay in delaysMs needs a level with that delayMs',
            path: ['levels'],
          },
        )
        .refine(
          (r) => r.strategy === 'ttl-queues' || (r.exchange === '' && r.levels.length === 0),
          {
            message: 'strategy broker has no retry exchange and no levels',
            path: ['levels'],
          },
        ),
      deadLetter: z.object({ exchange: name, queue: name }).nullable(),
    }),
  ),
}) satisfies z.ZodType<ServiceTopology>;

export function parseServiceTopology(
  value: unknown,
  origin = 'topology document',
): ServiceTopology {
  const result = ServiceTopologySchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new TopologyDocumentError(
      `${origin} is not a valid ServiceTopology: ${issues.join('; ')}`,
    );
  }
  return result.data;
}

export const TOPOLOGY_FILE_ENV = 'WARREN_TOPOLOGY_FILE';
/** Where the operator's ConfigMap `warren-topology-<service>` is mounted by the chart. */
export const DEFAULT_TOPOLOGY_FILE = '/etc/warren/topology/topology.json';

/**
 * Reads the service's topology document: the given path, else $WARREN_TOPOLOGY_FILE, else the
 * ConfigMap mount. Checks that it is meant for this service.
 */
export function loadServiceTopology(options: { service: string; file?: string }): ServiceTopology {
  const file = options.file ?? process.env[TOPOLOGY_FILE_ENV] ?? DEFAULT_TOPOLOGY_FILE;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new TopologyDocumentError(
      `cannot read the topology document ${file} (set ${TOPOLOGY_FILE_ENV}, or mount the ConfigMap warren-topology-${options.service}): ${(error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TopologyDocumentError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const topology = parseServiceTopology(json, file);
  if (topology.service !== options.service) {
    throw new TopologyDocumentError(
      `${file} is the topology of service "${topology.service}", not "${options.service}"`,
    );
  }
  return topology;
}
