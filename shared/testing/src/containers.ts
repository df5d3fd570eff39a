import type { TestServers } from './environment';
import { loadInfraConfig, PrometheusServer } from './infra';

/** Images matching what the local servers run: RabbitMQ of the chosen version with management + prometheus, PostgreSQL 15. */
const rabbitmqImage = () => `rabbitmq:${loadInfraConfig().rabbitmq.version}-management`;
const POSTGRES_IMAGE = 'postgres:15-alpine';

/**
 * The Docker path: RabbitMQ and PostgreSQL in throwaway containers (Testcontainers), and a local
 * Prometheus scraping the container's metrics port. Used wherever a Docker engine answers.
 */
export async function startContainers(log: (line: string) => void): Promise<TestServers> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  await getContainerRuntimeClient();
  const RABBITMQ_IMAGE = rabbitmqImage();
  log(`starting ${RABBITMQ_IMAGE} and ${POSTGRES_IMAGE} with Testcontainers ...`);
  const [rabbit, postgres] = await Promise.all([
    new GenericContainer(RABBITMQ_IMAGE)
      .withExposedPorts(5672, 15672, 15692)
      .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
      .start(),
    new GenericContainer(POSTGRES_IMAGE)
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start(),
  ]);
  const host = rabbit.getHost();
  const metricsPort = rabbit.getMappedPort(15692);
  const prometheus = await startLocalPrometheusFor(metricsPort, log).catch((error: Error) => {
    log(`no Prometheus for this run: ${error.message}`);
    return undefined;
  });
  return {
    source: 'testcontainers',
    urls: {
      RABBITMQ_URL: `amqp://guest:guest@${host}:${rabbit.getMappedPort(5672)}`,
      RABBITMQ_MANAGEMENT_URL: `http://guest:guest@${host}:${rabbit.getMappedPort(15672)}`,
      RABBITMQ_PROMETHEUS_URL: `http://${host}:${metricsPort}`,
      DATABASE_URL: `postgresql://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/postgres`,
      PROMETHEUS_URL: prometheus?.url ?? '',
      ALERTMANAGER_URL: '',
    },
    stop: async () => {
      await prometheus?.stop();
      await Promise.all([rabbit.stop(), postgres.stop()]);
    },
  };
}

/** Starts the local Prometheus (if installed) to scrape a broker whose metrics port is given. */
export async function startLocalPrometheusFor(
  brokerPrometheusPort: number,
  log: (line: string) => void,
) {
  const base = loadInfraConfig();
  const config = { ...base, rabbitmq: { ...base.rabbitmq, prometheusPort: brokerPrometheusPort } };
  const prometheus = new PrometheusServer(config);
  if (!(await prometheus.isRunning())) {
    await prometheus.install(log);
    await prometheus.start(log);
  }
  return { url: prometheus.describe(), stop: () => prometheus.stop(log) };
}
