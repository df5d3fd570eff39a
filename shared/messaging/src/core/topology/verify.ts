import type { ChannelModel } from 'amqplib';
import type { ServiceTopology } from '@warren/contracts';
import { TopologyMissingError } from '../errors';
import { describeMissing, requiredObjects } from './requirements';

/** Reply code of a passive declare that finds nothing. */
const NOT_FOUND = 404;

/**
 * Checks passively that every exchange and queue of the document exists; never declares.
 * A passive declare that misses closes its channel, so each check gets a throwaway channel.
 * Throws a TopologyMissingError naming every missing object and the route that should declare it.
 */
export async function verifyTopology(
  connection: ChannelModel,
  topology: ServiceTopology,
): Promise<void> {
  const missing: string[] = [];
  for (const object of requiredObjects(topology)) {
    const channel = await connection.createChannel();
    channel.on('error', () => {
      /* the passive miss closes the channel; the rejection below reports it */
    });
    try {
      if (object.kind === 'queue') await channel.checkQueue(object.name);
      else await channel.checkExchange(object.name);
      await channel.close();
    } catch (error) {
      if ((error as { code?: number }).code !== NOT_FOUND) throw error;
      missing.push(describeMissing(object, topology.vhost));
    }
  }
  if (missing.length > 0) {
    throw new TopologyMissingError(
      `service "${topology.service}" cannot start, its topology is incomplete:\n- ${missing.join('\n- ')}`,
    );
  }
}
