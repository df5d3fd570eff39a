/**
 * Broker objects as the engine sees them, desired (compiled from resources) or actual (read
 * back from the management API). Both sides use the same shapes so the planner compares like
 * with like. `group` is the consumer queue an object exists for (null for objects shared by
 * routes: event exchanges, users, permissions); a group is kept or deleted as a whole.
 */
import type { BrokerProfile } from './broker-version';
import type { ExchangeType, QueueType, ServiceTopology } from '@warren/contracts';

export type Arguments = Record<string, unknown>;

export interface VhostObject {
  kind: 'vhost';
  vhost: string;
}

export interface ExchangeObject {
  kind: 'exchange';
  vhost: string;
  name: string;
  type: ExchangeType;
  arguments: Arguments;
  group: string | null;
}

export interface QueueObject {
  kind: 'queue';
  vhost: string;
  name: string;
  queueType: QueueType;
  autoDelete: boolean;
  arguments: Arguments;
  group: string;
  /** Read back only: messages (ready + unacked) and consumers, when the broker reported them. */
  messages?: number;
  consumers?: number;
}

export interface BindingObject {
  kind: 'binding';
  vhost: string;
  source: string;
  destination: string;
  routingKey: string;
  arguments: Arguments;
  group: string;
  /** Read back only: the management API's key for deleting it. */
  propertiesKey?: string;
}

export interface PolicyObject {
  kind: 'policy';
  vhost: string;
  name: string;
  pattern: string;
  applyTo: 'queues' | 'exchanges' | 'all';
  priority: number;
  definition: Record<string, unknown>;
  group: string;
}

export interface UserObject {
  kind: 'user';
  /** The vhost the user was made for (user names carry it, so environments never share one). */
  vhost: string;
  name: string;
  service: string;
  tags: string[];
}

export interface PermissionObject {
  kind: 'permission';
  vhost: string;
  user: string;
  configure: string;
  write: string;
  read: string;
}

export type BrokerObject =
  | VhostObject
  | ExchangeObject
  | QueueObject
  | BindingObject
  | PolicyObject
  | UserObject
  | PermissionObject;

export type BrokerObjectKind = BrokerObject['kind'];

/** Everything of Warren's in some vhosts: what the engine wants, or what the broker has. */
export interface BrokerState {
  vhosts: VhostObject[];
  exchanges: ExchangeObject[];
  queues: QueueObject[];
  bindings: BindingObject[];
  policies: PolicyObject[];
  users: UserObject[];
  permissions: PermissionObject[];
}

/** Which broker objects one EventRoute owns, for status and for `warren status`. */
export interface RouteObjects {
  /** `namespace/name` of the EventRoute. */
  route: string;
  vhost: string;
  queue: string;
  deadLetterQueue: string | null;
  retryQueues: string[];
  deletionPolicy: 'Retain' | 'Delete';
  objects: { kind: 'exchange' | 'queue' | 'binding' | 'policy'; name: string }[];
}

export interface DesiredTopology extends BrokerState {
  routes: RouteObjects[];
  services: ServiceTopology[];
  /** The broker version compiled for, when known (its differences are in the plan). */
  broker?: BrokerProfile;
}

export function emptyState(): BrokerState {
  return {
    vhosts: [],
    exchanges: [],
    queues: [],
    bindings: [],
    policies: [],
    users: [],
    permissions: [],
  };
}
