import * as fs from 'node:fs';
import {
  type PerformanceEntry,
  PerformanceObserver,
  constants,
  monitorEventLoopDelay,
} from 'node:perf_hooks';
import * as v8 from 'node:v8';
import { Counter, Gauge, Histogram, type Registry } from './metric-registry';

/** Reads a Linux /proc file; undefined elsewhere (macOS development) or when it is unreadable. */
function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `VmRSS:  1234 kB` -> bytes, from /proc/self/status. */
function statusBytes(status: string | undefined, field: string): number | undefined {
  const match = status && new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * The process and Node.js runtime metrics prom-client's `collectDefaultMetrics` exports, under
 * the same names (dashboards written for it keep working), each with `prefix` in front. Values
 * are read at scrape time; event-loop delay and GC pauses are sampled in between.
 */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  const registers = [registry];
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name: prefix + name, help, labelNames, registers });

  let lastCpu = process.cpuUsage();
  const cpuUser = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect: () => {
      const now = process.cpuUsage();
      const user = (now.user - lastCpu.user) / 1e6;
      const system = (now.system - lastCpu.system) / 1e6;
      lastCpu = now;
      cpuUser.inc(user);
      cpuSystem.inc(system);
      cpuTotal.inc(user + system);
    },
  });
  const cpuSystem = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: 'Total system CPU time spent in seconds.',
    registers,
  });
  const cpuTotal = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers,
  });

  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.').set(
    Math.round(Date.now() / 1000 - process.uptime()),
  );

  const resident = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const virtual = gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
  const heap = gauge('process_heap_bytes', 'Process heap size in bytes.');
  const openFds = gauge('process_open_fds', 'Number of open file descriptors.');
  const maxFds = gauge('process_max_fds', 'Maximum number of open file descriptors.');
  const limit = /^Max open files\s+(\d+)/m.exec(readProc('/proc/self/limits') ?? '');
  if (limit) maxFds.set(Number(limit[1]));

  const lag = gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.');
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const delayGauges = {
    min: gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.'),
    max: gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.'),
    mean: gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.'),
    stddev: gauge(
      'nodejs_eventloop_lag_stddev_seconds',
      'The standard deviation of the recorded event loop delays.',
    ),
    p50: gauge(
      'nodejs_eventloop_lag_p50_seconds',
      'The 50th percentile of the recorded event loop delays.',
    ),
    p90: gauge(
      'nodejs_eventloop_lag_p90_seconds',
      'The 90th percentile of the recorded event loop delays.',
    ),
    p99: gauge(
      'nodejs_eventloop_lag_p99_seconds',
      'The 99th percentile of the recorded event loop delays.',
    ),
  };

  const resources = gauge(
    'nodejs_active_resources',
    'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    ['type'],
  );
  const resourcesTotal = gauge(
    'nodejs_active_resources_total',
    'Total number of active resources.',
  );
  // Undocumented in Node's types, and what prom-client reads too.
  const internals = process as unknown as {
    _getActiveHandles?: () => unknown[];
    _getActiveRequests?: () => unknown[];
  };
  const handlesTotal = gauge('nodejs_active_handles_total', 'Total number of active handles.');
  const requestsTotal = gauge('nodejs_active_requests_total', 'Total number of active requests.');
  const heapTotal = gauge(
    'nodejs_heap_size_total_bytes',
    'Process heap size from Node.js in bytes.',
  );
  const heapUsed = gauge(
    'nodejs_heap_size_used_bytes',
    'Process heap size used from Node.js in bytes.',
  );
  const external = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');
  const spaceLabels = ['space'];
  const spaceTotal = gauge(
    'nodejs_heap_space_size_total_bytes',
    'Process heap space size total from Node.js in bytes.',
    spaceLabels,
  );
  const spaceUsed = gauge(
    'nodejs_heap_space_size_used_bytes',
    'Process heap space size used from Node.js in bytes.',
    spaceLabels,
  );
  const spaceAvailable = gauge(
    'nodejs_heap_space_size_available_bytes',
    'Process heap space size available from Node.js in bytes.',
    spaceLabels,
  );

  const [major, minor, patch] = process.versions.node.split('.');
  gauge('nodejs_version_info', 'Node.js version info.', ['version', 'major', 'minor', 'patch']).set(
    { version: process.version, major: major!, minor: minor!, patch: patch! },
    1,
  );

  const gc = new Histogram({
    name: `${prefix}nodejs_gc_duration_seconds`,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers,
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      const kind = GC_KINDS[detail?.kind ?? -1];
      if (kind) gc.observe({ kind }, entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });

  // One hook reads everything a scrape reports.
  resident.collect = async () => {
    const memory = process.memoryUsage();
    const status = readProc('/proc/self/status');
    resident.set(statusBytes(status, 'VmRSS') ?? memory.rss);
    const vmSize = statusBytes(status, 'VmSize');
    const vmData = statusBytes(status, 'VmData');
    if (vmSize !== undefined) virtual.set(vmSize);
    if (vmData !== undefined) heap.set(vmData);
    const fds = fs.existsSync('/proc/self/fd') && fs.readdirSync('/proc/self/fd').length - 1;
    if (fds !== false) openFds.set(fds);

    heapTotal.set(memory.heapTotal);
    heapUsed.set(memory.heapUsed);
    external.set(memory.external);
    for (const space of v8.getHeapSpaceStatistics()) {
      const name = space.space_name.replace(/_space$/, '');
      spaceTotal.set({ space: name }, space.space_size);
      spaceUsed.set({ space: name }, space.space_used_size);
      spaceAvailable.set({ space: name }, space.space_available_size);
    }

    resources.reset();
    const types = process.getActiveResourcesInfo();
    for (const type of types) resources.inc({ type });
    resourcesTotal.set(types.length);
    handlesTotal.set(internals._getActiveHandles?.().length ?? 0);
    requestsTotal.set(internals._getActiveRequests?.().length ?? 0);

    if (delay.count > 0) {
      const { min, max, mean, stddev } = delay;
      const stats = {
        min,
        max,
        mean,
        stddev,
        p50: delay.percentile(50),
        p90: delay.percentile(90),
        p99: delay.percentile(99),
      };
      for (const [stat, nanoseconds] of Object.entries(stats))
        delayGauges[stat as keyof typeof stats].set(nanoseconds / 1e9);
      delay.reset();
    }
    // The time a callback queued now waits for the loop.
    const queued = process.hrtime.bigint();
    await new Promise<void>((resolve) => setImmediate(resolve));
    lag.set(Number(process.hrtime.bigint() - queued) / 1e9);
  };
}
