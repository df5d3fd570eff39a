/**
 * The cluster's nodes as the management API reports them: which are down. A stopped node is
 * still listed (`running: false`) by the nodes that remain, so the operator can say which one
 * is missing while its queues carry on on the others.
 */
import type { ManagementClient } from './client';

interface NodeInfo {
  name: string;
  running?: boolean;
}

/** Names of the cluster's nodes that are not running, sorted; [] for a healthy cluster or one node. */
export async function readNodesDown(client: ManagementClient): Promise<string[]> {
  const nodes = await client.request<NodeInfo[]>('GET', '/api/nodes?columns=name,running');
  return nodesDown(nodes);
}

export function nodesDown(nodes: readonly NodeInfo[]): string[] {
  return nodes
    .filter((node) => node.running === false)
    .map((node) => node.name)
    .sort();
}
