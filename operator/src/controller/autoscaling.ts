/**
 * Writes the KEDA objects of autoscaled routes (ScaledObject, TriggerAuthentication, the
 * scaler's Secret) and prunes Warren's that no route wants any more; only when the
 * keda.sh/v1alpha1 API exists. Observe (informers on Warren's own KEDA objects), decide
 * (`kedaObjectsFor`, pure), act (server-side apply, delete). Each autoscaled route gets an
 * `Autoscaling` condition: KEDA's own verdict on the ScaledObject when it gave one.
 */
import { randomBytes } from 'node:crypto';
import type { EventRoute } from '@warren/crds';
import { resourceKey } from '@warren/crds/core';
import {
  KEDA_API,
  KEDA_COMPONENT,
  KEDA_COMPONENT_LABEL,
  autoscalingCondition,
  kedaObjectsFor,
  scalerSecret,
  type ScaledObject,
} from '../autoscaling/keda';
import type { ManagementClient } from '../broker/client';
import { segment } from '../broker/client';
import type { RouteObjects } from '../engine/model';
import { AUTOSCALER_TAG, USER_TAG } from '../engine/naming';
import type { KubeClient, KubeObject } from '../kube/client';
import { KubeApiError } from '../kube/client';
import type { ConditionInput } from '../kube/conditions';
import { Informer } from '../kube/informer';
import { WatchedCollection } from '../kube/watched';
import type { Logger } from '../observability/log';
import { corePath } from './resources';
import { BROKER_USER_ANNOTATION, VHOST_ANNOTATION } from './service-outputs';

const FIELD_MANAGER = 'warren-operator';
const selector = `${KEDA_COMPONENT_LABEL}=${KEDA_COMPONENT}`;

interface LiveKedaObject extends KubeObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
export interface SecretLike extends KubeObject {
  data?: Record<string, string>;
}

/** What a route's status says about its autoscaling. */
export interface RouteAutoscaling {
  condition: ConditionInput;
  scaledObject?: string;
}

export interface AutoscalingOptions {
  client: KubeClient;
  log: Logger;
  /** Watched namespaces; [undefined] for the whole cluster. */
  scopes: (string | undefined)[];
  relistIntervalMs: number;
  enqueue: () => void;
  managementUrl: string;
}

const kedaPath = (plural: string, namespace?: string, name?: string) =>
  `${KEDA_API}${namespace ? `/namespaces/${namespace}` : ''}/${plural}${name ? `/${name}` : ''}`;

export class KedaAutoscaling {
  private available = false;
  private scaledObjects?: WatchedCollection<LiveKedaObject>;
  private auths?: WatchedCollection<LiveKedaObject>;
  /** Last body applied per object path, so an idle pass writes nothing. */
  private readonly written = new Map<string, string>();
  private lastOutcomes: ReadonlyMap<string, RouteAutoscaling> = new Map();

  constructor(private readonly options: AutoscalingOptions) {}

  get enabled(): boolean {
    return this.available;
  }

  async start(): Promise<void> {
    const { client, scopes } = this.options;
    this.available = (await client.find(KEDA_API)) !== undefined;
    if (!this.available) return;
    const informer = (path: string) =>
      new Informer<LiveKedaObject>({
        client,
        path,
        labelSelector: selector,
        relistIntervalMs: this.options.relistIntervalMs,
        onEvent: () => this.options.enqueue(),
        onError: (error) =>
          this.options.log.warn({ err: String(error), path }, 'watch failed; retrying'),
      });
    this.scaledObjects = new WatchedCollection(
      scopes.map((ns) => kedaPath('scaledobjects', ns)),
      informer,
    );
    this.auths = new WatchedCollection(
      scopes.map((ns) => kedaPath('triggerauthentications', ns)),
      informer,
    );
    await Promise.all([this.scaledObjects.start(), this.auths.start()]);
  }

  stop(): void {
    this.scaledObjects?.stop();
    this.auths?.stop();
  }

  /**
   * Per route key, for the route statuses (of the last reconcile; a new map each time): routes
   * that ask for no autoscaling have none.
   */
  get outcomes(): ReadonlyMap<string, RouteAutoscaling> {
    return this.lastOutcomes;
  }

  async reconcile(input: {
    routes: readonly EventRoute[];
    objects: Map<string, RouteObjects>;
    /** Known broker passwords by user (updated with any rotated here). */
    passwords: Map<string, string>;
    /** Warren's cached Secrets (the scaler's are among them). */
    secrets: readonly SecretLike[];
    broker: ManagementClient;
  }): Promise<void> {
    const outcomes = new Map<string, RouteAutoscaling>();
    const autoscaled = input.routes.flatMap((route) => {
      const objects = input.objects.get(resourceKey(route));
      return route.spec.consumer.autoscaling && objects
        ? [{ route, vhost: objects.vhost, queue: objects.queue }]
        : [];
    });
    if (!this.available) {
      for (const { route } of autoscaled)
        outcomes.set(resourceKey(route), {
          condition: autoscalingCondition({ kind: 'kedaMissing' }),
        });
      this.lastOutcomes = outcomes;
      return;
    }
    const desired = kedaObjectsFor(autoscaled);
    for (const [key, message] of desired.conflicts)
      outcomes.set(key, { condition: autoscalingCondition({ kind: 'conflict', message }) });

    const secrets = new Map(
      input.secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]),
    );
    for (const spec of desired.secrets) {
      const password = await this.passwordOf(spec.user, input.passwords, input.broker);
      const secret = scalerSecret(spec, { user: spec.user, password }, this.options.managementUrl, {
        [VHOST_ANNOTATION]: spec.vhost,
        [BROKER_USER_ANNOTATION]: spec.user,
      });
      const current = secrets.get(`${spec.namespace}/${spec.name}`);
      const encoded = (value: string) => Buffer.from(value).toString('base64');
      if (
        current?.data?.host !== encoded(secret.stringData.host) ||
        !this.sameBody(secretPath(spec.namespace, spec.name), secret.metadata)
      ) {
        await this.apply(secretPath(spec.namespace, spec.name), secret, secret.metadata);
      }
    }
    for (const auth of desired.triggerAuthentications) {
      const path = kedaPath('triggerauthentications', auth.metadata.namespace, auth.metadata.name);
      if (
        !this.auths!.get(`${auth.metadata.namespace}/${auth.metadata.name}`) ||
        !this.sameBody(path, auth)
      )
        await this.apply(path, auth, auth);
    }
    for (const scaledObject of desired.scaledObjects) {
      const outcome = await this.writeScaledObject(scaledObject);
      for (const [key, name] of desired.scaledObjectOf)
        if (
          name === scaledObject.metadata.name &&
          routeNamespace(key) === scaledObject.metadata.namespace
        )
          outcomes.set(key, { condition: outcome, scaledObject: name });
    }

    await this.prune(
      new Set([
        ...desired.scaledObjects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
        ...desired.held,
      ]),
      new Set(
        desired.triggerAuthentications.map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
      ),
      input.secrets,
    );
    this.lastOutcomes = outcomes;
  }

  private async writeScaledObject(object: ScaledObject): Promise<ConditionInput> {
    const { namespace, name } = object.metadata;
    const path = kedaPath('scaledobjects', namespace, name);
    try {
      if (!this.scaledObjects!.get(`${namespace}/${name}`) || !this.sameBody(path, object))
        await this.apply(path, object, object);
    } catch (error) {
      // Refused by the API server: KEDA's schema, or its admission webhook (another scaler on the workload).
      if (error instanceof KubeApiError && error.status >= 400 && error.status < 500) {
        this.written.delete(path);
        return autoscalingCondition({
          kind: 'refused',
          scaledObject: name,
          message: error.message,
        });
      }
      throw error;
    }
    const live = this.scaledObjects!.get(`${namespace}/${name}`);
    return autoscalingCondition({
      kind: 'written',
      scaledObject: name,
      conditions: live?.status?.conditions,
    });
  }

  /** The scaler user's password: known from its Secret, or rotated when every Secret of it is gone. */
  private async passwordOf(user: string, passwords: Map<string, string>, broker: ManagementClient) {
    const known = passwords.get(user);
    if (known !== undefined) return known;
    const password = randomBytes(24).toString('base64url');
    await broker.request('PUT', `/api/users/${segment(user)}`, {
      password,
      tags: [USER_TAG, AUTOSCALER_TAG].join(','),
    });
    passwords.set(user, password);
    this.options.log.info({ user }, 'KEDA scaler Secret missing: password rotated');
    return password;
  }

  private sameBody(path: string, body: unknown): boolean {
    return this.written.get(path) === JSON.stringify(body);
  }

  private async apply(path: string, body: unknown, remembered: unknown): Promise<void> {
    await this.options.client.apply(path, body, FIELD_MANAGER);
    this.written.set(path, JSON.stringify(remembered));
  }

  private async prune(
    scaledObjects: Set<string>,
    auths: Set<string>,
    secrets: readonly SecretLike[],
  ): Promise<void> {
    const ours = (o: KubeObject) => o.metadata.labels?.[KEDA_COMPONENT_LABEL] === KEDA_COMPONENT;
    const stale = [
      ...this.scaledObjects!.list()
        .filter((o) => !scaledObjects.has(`${o.metadata.namespace}/${o.metadata.name}`))
        .map((o) => kedaPath('scaledobjects', o.metadata.namespace, o.metadata.name)),
      ...this.auths!.list()
        .filter((o) => !auths.has(`${o.metadata.namespace}/${o.metadata.name}`))
        .map((o) => kedaPath('triggerauthentications', o.metadata.namespace, o.metadata.name)),
      ...secrets
        .filter((s) => ours(s) && !auths.has(`${s.metadata.namespace}/${s.metadata.name}`))
        .map((s) => secretPath(s.metadata.namespace ?? 'default', s.metadata.name)),
    ];
    for (const path of stale) {
      await this.options.client.remove(path);
      this.written.delete(path);
    }
  }
}

const secretPath = (namespace: string, name: string) => corePath(namespace, 'secrets', name);
const routeNamespace = (key: string) => key.slice(0, key.indexOf('/'));
