/**
 * Exact queue depth and consumer count over AMQP (a passive declare), for the one decision that
 * must not rely on the management API's statistics, which lag up to 5 s: whether a queue may
 * be deleted. (Quorum queues refuse the management API's `if-empty` delete on RabbitMQ 3.10.)
 */
import { connect } from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { segment, type ManagementClient } from './client';

export interface QueueUse {
  messages: number;
  consumers: number;
}

export type QueueProbe = (vhost: string, queue: string) => Promise<QueueUse>;

/** Queue use from the management API's statistics (may lag up to 5 s): when no AMQP probe is given. */
export const managementQueueProbe =
  (client: ManagementClient): QueueProbe =>
  async (vhost, queue) => {
    const found = await client.find<{ messages?: number; consumers?: number }>(
      `/api/queues/${segment(vhost)}/${segment(queue)}`,
    );
    return { messages: found?.messages ?? 0, consumers: found?.consumers ?? 0 };
  };

export interface ClosableProbe {
  probe: QueueProbe;
  close(): Promise<void>;
}

/** `amqpUrl` (with its credentials) pointed at `vhost`. */
export function vhostAmqpUrl(amqpUrl: string, vhost: string): string {
  const url = new URL(amqpUrl);
  url.pathname = `/${encodeURIComponent(vhost)}`;
  return url.toString();
}

/** One connection per vhost, opened on first use; `amqpUrl` carries the credentials. */
export function amqpQueueProbe(amqpUrl: string): ClosableProbe {
  const connections = new Map<string, Promise<ChannelModel>>();
  const connectionFor = (vhost: string) => {
    let connection = connections.get(vhost);
    if (!connection) {
      connection = connect(vhostAmqpUrl(amqpUrl, vhost));
      connections.set(vhost, connection);
    }
    return connection;
  };
  return {
    async probe(vhost, queue) {
      // A passive declare of a missing queue closes its channel: use a throwaway one.
      const channel = await (await connectionFor(vhost)).createChannel();
      channel.on('error', () => undefined);
      try {
        const reply = await channel.checkQueue(queue);
        return { messages: reply.messageCount, consumers: reply.consumerCount };
      } catch (error) {
        if ((error as { code?: number }).code === 404) return { messages: 0, consumers: 0 };
        throw error;
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
    async close() {
      await Promise.all(
        [...connections.values()].map((connection) =>
          connection.then((c) => c.close()).catch(() => undefined),
        ),
      );
    },
  };
}
