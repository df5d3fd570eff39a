import * as fs from 'node:fs';
import * as path from 'node:path';
import { rabbitMqNodeAddresses, type InfraConfig } from './config';
import { ensureInstalled } from './install';
import { assertPortFree, ensureDir, InfraError } from './process';
import { RABBITMQ_BIN, RabbitMqNode } from './rabbitmq-node';
import {
  DEFAULT_RABBITMQ_VERSION,
  RABBITMQ_VERSIONS,
  type RabbitMqVersion,
} from './rabbitmq-versions';
import {
  bindSamePath,
  ensureRootfs,
  mountProc,
  releaseProcWhenUnused,
  rootfsDir,
  unbindSamePath,
} from './rootfs';
import type { LocalServer } from './server';

export { RabbitMqNode } from './rabbitmq-node';

/** What this state folder's broker was started as: `down` stops that, whatever is configured now. */
interface RunningRecord {
  version: RabbitMqVersion;
  rabbitmq: InfraConfig['rabbitmq'];
}

/**
 * The project's private RabbitMQ: one node, or several clustered nodes of one version
 * (`WARREN_RABBITMQ_NODES`). 3.10 runs from the host's Debian package, newer versions from a
 * Debian root filesystem in the project's cache (see rabbitmq-versions.ts), entered with chroot
 * with /proc mounted and the state folder bind-mounted at its own path.
 */
export class RabbitMqServer implements LocalServer {
  readonly name = 'rabbitmq';
  readonly version: RabbitMqVersion;
  /** HOME of the nodes (shared Erlang cookie) and the folder bind-mounted into a rootfs. */
  private readonly home: string;

  constructor(private readonly config: InfraConfig) {
    this.version = config.rabbitmq.version ?? DEFAULT_RABBITMQ_VERSION;
    this.home = path.join(config.stateDir, 'rabbitmq');
  }

  private get rootfs(): string | undefined {
    const spec = RABBITMQ_VERSIONS[this.version].rootfs;
    return spec ? rootfsDir(spec) : undefined;
  }

  /** The nodes, first (the one the single URLs name) first. */
  get nodes(): RabbitMqNode[] {
    return nodesOf(this.config.rabbitmq, this.version, this.home, this.rootfs);
  }

  node(index: number): RabbitMqNode {
    const node = this.nodes[index];
    if (!node) throw new InfraError(`no RabbitMQ node ${index}: the set has ${this.nodes.length}`);
    return node;
  }

  private get recordFile() {
    return path.join(this.home, 'running.json');
  }

  private readRecord(): RunningRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.recordFile, 'utf8')) as RunningRecord;
    } catch {
      return undefined;
    }
  }

  async install(log: (line: string) => void): Promise<void> {
    const spec = RABBITMQ_VERSIONS[this.version].rootfs;
    if (spec) await ensureRootfs(spec, log);
    else await ensureInstalled(path.join(RABBITMQ_BIN, 'rabbitmq-server'), 'rabbitmq-server', log);
  }

  describe() {
    const nodes = this.nodes;
    const where = nodes
      .map(
        (node) =>
          `${nodes.length > 1 ? `${node.name}: ` : ''}amqp 127.0.0.1:${node.address.amqpPort}, management http://127.0.0.1:${node.address.managementPort}, prometheus http://127.0.0.1:${node.address.prometheusPort}/metrics`,
      )
      .join('; ');
    const suite = RABBITMQ_VERSIONS[this.version].debianSuite;
    return `RabbitMQ ${this.version} (Debian ${suite})${nodes.length > 1 ? `, ${nodes.length}-node cluster` : ''}: ${where}`;
  }

  async isRunning(): Promise<boolean> {
    const record = this.readRecord();
    if (record && !sameBroker(record, this.version, this.config.rabbitmq)) return false;
    for (const node of this.nodes) if (!(await node.isRunning())) return false;
    return true;
  }

  /** Mounts what the chrooted nodes need (a no-op on the host). */
  private async enterRootfs(): Promise<void> {
    const root = this.rootfs;
    if (!root) return;
    ensureDir(this.home, 0o700);
    await mountProc(root);
    await bindSamePath(root, this.home);
  }

  async start(log: (line: string) => void): Promise<void> {
    await this.refuseOtherRunningBroker();
    const nodes = this.nodes;
    for (const node of nodes) {
      const a = node.address;
      const which = nodes.length > 1 ? ` of node ${a.index + 1}` : '';
      await assertPortFree(a.amqpPort, `RabbitMQ AMQP${which}`, 'WARREN_RABBITMQ_PORT');
      await assertPortFree(
        a.managementPort,
        `RabbitMQ management${which}`,
        'WARREN_RABBITMQ_MANAGEMENT_PORT',
      );
      await assertPortFree(
        a.prometheusPort,
        `RabbitMQ prometheus${which}`,
        'WARREN_RABBITMQ_PROMETHEUS_PORT',
      );
      await assertPortFree(
        a.distPort,
        `RabbitMQ distribution${which}`,
        'WARREN_RABBITMQ_DIST_PORT',
      );
    }
    ensureDir(this.config.stateDir);
    ensureDir(this.home, 0o700);
    await this.enterRootfs();
    // epmd outlives the nodes; remember whether it was ours to stop later.
    const epmdBefore = (await nodes[0]!.runProgram('epmd', ['-names'])).code === 0;
    fs.writeFileSync(path.join(this.home, 'epmd-started-by-us'), epmdBefore ? 'no' : 'yes');
    const record: RunningRecord = { version: this.version, rabbitmq: this.config.rabbitmq };
    fs.writeFileSync(this.recordFile, `${JSON.stringify(record, null, 2)}\n`);
    const describe = (node: RabbitMqNode) =>
      `RabbitMQ ${this.version}: amqp 127.0.0.1:${node.address.amqpPort}, management ${node.managementUrl()}`;
    if (nodes.length === 1) {
      await nodes[0]!.start(log, describe(nodes[0]!));
      return;
    }
    // A cluster is formed fresh on every `up`: old membership never half-matches.
    for (const node of nodes) node.wipe();
    const started = Date.now();
    await nodes[0]!.start(log, describe(nodes[0]!));
    await Promise.all(nodes.slice(1).map((node) => node.start(log, describe(node))));
    for (const node of nodes.slice(1)) await this.join(node, nodes[0]!, log);
    log(`${nodes.length}-node cluster formed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }

  private async join(node: RabbitMqNode, seed: RabbitMqNode, log: (line: string) => void) {
    log(`joining ${node.name} to ${seed.name} ...`);
    await node.ctlOrThrow(['stop_app']);
    await node.ctlOrThrow(['join_cluster', seed.name], 120_000);
    await node.ctlOrThrow(['start_app'], 120_000);
  }

  /** Another version or size of broker from this state folder would clash on ports and data. */
  private async refuseOtherRunningBroker(): Promise<void> {
    const record = this.readRecord();
    if (!record || sameBroker(record, this.version, this.config.rabbitmq)) return;
    const other = nodesOf(record.rabbitmq, record.version, this.home, rootfsOf(record.version));
    for (const node of other) {
      if (node.pid() !== undefined) {
        throw new InfraError(
          `RabbitMQ ${record.version} (${other.length} node${other.length > 1 ? 's' : ''}) is running from ${this.home}, not the ${this.version} (${this.nodes.length}) asked for: run 'npm run infra -- down' first`,
        );
      }
    }
  }

  /** Stops every node of what this state folder started, then unmounts what it mounted. */
  async stop(log: (line: string) => void): Promise<void> {
    const record = this.readRecord();
    const version = record?.version ?? this.version;
    const root = rootfsOf(version);
    const nodes = record ? nodesOf(record.rabbitmq, version, this.home, root) : this.nodes;
    // Stop the others first: the first node is the seed a restarted cluster looks for.
    for (const node of [...nodes].reverse()) await node.stop(log);
    const marker = path.join(this.home, 'epmd-started-by-us');
    if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === 'yes') {
      // Only when no other Erlang node still relies on it.
      const names = await nodes[0]!.runProgram('epmd', ['-names']);
      if (!/^name /m.test(names.stdout)) await nodes[0]!.runProgram('epmd', ['-kill']);
      fs.rmSync(marker, { force: true });
    }
    if (root) {
      await unbindSamePath(root, this.home);
      await releaseProcWhenUnused(root);
    }
    fs.rmSync(this.recordFile, { force: true });
  }
}

function rootfsOf(version: RabbitMqVersion): string | undefined {
  const spec = RABBITMQ_VERSIONS[version].rootfs;
  return spec ? rootfsDir(spec) : undefined;
}

function nodesOf(
  rabbitmq: InfraConfig['rabbitmq'],
  version: RabbitMqVersion,
  home: string,
  root: string | undefined,
): RabbitMqNode[] {
  const runtime = { root, epmdPort: rabbitmq.epmdPort ?? 4369 };
  // A cluster's nodes remember their peers: a single node never starts from a cluster's data.
  const nodes = rabbitmq.nodes ?? 1;
  const dataFolder = nodes > 1 ? `${version}-cluster-${nodes}` : version;
  return rabbitMqNodeAddresses({ rabbitmq } as InfraConfig).map(
    (address) => new RabbitMqNode(address, home, runtime, path.join(home, dataFolder)),
  );
}

function sameBroker(
  record: RunningRecord,
  version: RabbitMqVersion,
  rabbitmq: InfraConfig['rabbitmq'],
): boolean {
  return (
    record.version === version &&
    (record.rabbitmq.nodes ?? 1) === (rabbitmq.nodes ?? 1) &&
    record.rabbitmq.amqpPort === rabbitmq.amqpPort &&
    record.rabbitmq.nodeName === rabbitmq.nodeName
  );
}
