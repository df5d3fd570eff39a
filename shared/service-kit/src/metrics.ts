import { Controller, Get, Header, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { isMessagingWorker } from './messaging-thread';

/** A registry's `getMetricsAsJSON()`: what another thread's registry hands over. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** The service's own Prometheus registry: process metrics plus HTTP request counts and latencies. */
@Injectable()
export class ServiceMetrics {
  readonly registry = new Registry();
  /** Other threads' registries (the messaging worker's), scraped with this one. */
  private readonly sources: (() => Promise<MetricsJson>)[] = [];
  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests handled, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Requests answered 503 at the door because a dependency is the limit (see load-shedding). */
  readonly shed = new Counter({
    name: 'http_requests_shed_total',
    help: 'HTTP requests refused with 503 and Retry-After because the database pool was saturated, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Keys per statement of each batched point reader (`PointReads`). */
  readonly readBatchKeys = new Histogram({
    name: 'database_read_batch_keys',
    help: 'Keys fetched by each statement of a batched point read (requests it answered, duplicates aside), by reader',
    labelNames: ['reader'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 100],
    registers: [this.registry],
  });

  constructor() {
    // Process metrics once per process: the HTTP thread's registry has them, the worker's not.
    if (!isMessagingWorker()) collectDefaultMetrics({ register: this.registry });
  }

  addSource(source: () => Promise<MetricsJson>): void {
    this.sources.push(source);
  }

  /**
   * The text format of this registry and its sources, series of the same name and labels
   * summed (both threads' pools, for example); a source that does not answer fails the scrape.
   */
  async scrape(): Promise<string> {
    if (this.sources.length === 0) return this.registry.metrics();
    const all = await Promise.all([
      this.registry.getMetricsAsJSON(),
      ...this.sources.map((source) => source()),
    ]);
    // A metric of one source only keeps its value: 'omit' (process_start_time_seconds) would drop it.
    const merged = all.map((metrics) =>
      metrics.map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m)),
    );
    return AggregatorRegistry.aggregate(merged).metrics();
  }

  /** The pool's connections by state (in use, idle) and the requests waiting for one, read at scrape time. */
  watchPool(pool: Pool, size: number): void {
    new Gauge({
      name: 'database_pool_connections',
      help: 'Database pool connections by state: in_use, idle, waiting (requests queued for one), max',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ state: 'in_use' }, pool.totalCount - pool.idleCount);
        this.set({ state: 'idle' }, pool.idleCount);
        this.set({ state: 'waiting' }, pool.waitingCount);
        this.set({ state: 'max' }, size);
      },
    });
  }

  /** Express middleware timing every request; the route label is the pattern, never the raw path. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const stop = this.duration.startTimer();
    res.on('finish', () => {
      const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
      stop(labels);
      this.requests.inc(labels);
    });
    next();
  };
}

function routeLabel(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return route ? `${req.baseUrl}${route}` : 'unmatched';
}

@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: ServiceMetrics) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
