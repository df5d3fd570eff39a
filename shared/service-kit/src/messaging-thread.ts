import type { INestApplicationContext } from '@nestjs/common';
import type { Logger } from 'pino';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { CheckOutcome } from './health';
import type { MetricsJson } from './metrics';

/**
 * Which part of a service a thread runs. By default one thread runs it all. With
 * MESSAGING_WORKER=true the main thread serves HTTP and a worker thread runs the outbox relay,
 * the consumers and the service's background work (e.g. the order timeout sweep): what an event
 * costs is then not paid on the event loop that answers the next request. Measured on 2 cores
 * (docs/benchmarks.md), that is 24 % more orders/s at one connection, consumers that keep pace
 * with a burst, and about 40 % more CPU per order at 16 connections, where a busy single loop
 * batches the relay's and the consumers' work and an idle worker does not.
 */
export type ServiceThread =
  /** Everything on one thread (the default, and service tests). */
  | { role: 'all' }
  /** HTTP only; a worker thread runs `workerEntry` (the service's main file) for the rest. */
  | { role: 'http'; workerEntry: string }
  /** That worker: messaging and background work, no HTTP. */
  | { role: 'messaging' };

const WORKER_MARK = 'warrenMessagingWorker';

/** True on the worker thread a service's HTTP thread started for its messaging. */
export function isMessagingWorker(): boolean {
  return !isMainThread && (workerData as Record<string, unknown> | null)?.[WORKER_MARK] === true;
}

/** This thread's part: the worker's is fixed; the main thread starts one with MESSAGING_WORKER=true. */
export function serviceThreadFrom(env: NodeJS.ProcessEnv, workerEntry: string): ServiceThread {
  if (isMessagingWorker()) return { role: 'messaging' };
  const setting = env.MESSAGING_WORKER || 'false';
  if (setting !== 'true' && setting !== 'false') {
    throw new Error(`MESSAGING_WORKER must be true or false, not "${setting}"`);
  }
  return setting === 'true' ? { role: 'http', workerEntry } : { role: 'all' };
}

/** Whether this thread runs the service's own background work (timers such as sweeps). */
export function runsBackgroundWork(thread: ServiceThread): boolean {
  return thread.role !== 'http';
}

/** The Nest provider token of this thread's `ServiceThread`. */
export const SERVICE_THREAD = Symbol('SERVICE_THREAD');

type Call = { kind: 'call'; id: number } & (
  { method: 'metrics' } | { method: 'readiness'; names: string[] }
);
type ToWorker = Call | { kind: 'stop' };
type FromWorker =
  | { kind: 'log'; text: string }
  | { kind: 'started'; checks: string[] }
  | { kind: 'reply'; id: number; value?: unknown; error?: string };

/** What the HTTP thread asks of the worker: its metrics and its readiness checks. */
export interface WorkerSide {
  metrics(): Promise<MetricsJson>;
  readiness(names: string[]): Promise<CheckOutcome[]>;
}

const CALL_TIMEOUT_MS = 2_000;
// Under the pod's 30 s termination grace period, so the worker is ended before the kubelet kills us.
const STOP_TIMEOUT_MS = 25_000;

/**
 * The HTTP thread's end of the worker: starts it, writes its log chunks to this thread's stdout,
 * answers for it (metrics, readiness), stops it first on shutdown (consumers finish their work,
 * the relay its batch), and takes the process down when it dies, as a crash of one thread would.
 */
export class MessagingWorkerHost {
  private worker: Worker | undefined;
  private started: Promise<string[]> | undefined;
  private readonly calls = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }
  >();
  private nextId = 1;
  private stopping = false;
  private exited: Promise<number> | undefined;

  constructor(
    private readonly entry: string,
    private readonly logger: Logger,
    private readonly writeLog: (text: string) => void,
  ) {}

  /** Starts the worker; `ready` resolves once its messaging is up (its readiness check names). */
  start(): void {
    const begun = Date.now();
    const worker = new Worker(this.entry, { workerData: { [WORKER_MARK]: true } });
    this.worker = worker;
    let starting = true;
    this.started = new Promise<string[]>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.kind === 'started') {
          starting = false;
          this.logger.info(
            { threadId: worker.threadId, startMs: Date.now() - begun },
            'relay and consumers run in the messaging worker thread',
          );
          resolve(message.checks);
        } else this.receive(message);
      });
      worker.on('error', (error) => {
        if (starting) reject(error);
        else this.died(`failed: ${error.stack ?? error.message}`);
      });
      this.exited = new Promise((settle) =>
        worker.once('exit', (code) => {
          settle(code);
          if (starting)
            reject(new Error(`the messaging worker exited with ${code} while starting`));
          else if (!this.stopping) this.died(`exited with ${code}`);
          for (const call of this.calls.values()) {
            clearTimeout(call.timer);
            call.reject(new Error('the worker is gone'));
          }
          this.calls.clear();
        }),
      );
    });
  }

  ready(): Promise<string[]> {
    if (!this.started) throw new Error('the messaging worker was not started');
    return this.started;
  }

  readonly side: WorkerSide = {
    metrics: () => this.call({ method: 'metrics' }) as ReturnType<WorkerSide['metrics']>,
    readiness: (names) =>
      this.call({ method: 'readiness', names }) as ReturnType<WorkerSide['readiness']>,
  };

  /** Asks the worker to close its context and waits for it (then terminates it, after 25 s). */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.stopping) return this.exited?.then(() => undefined);
    this.stopping = true;
    this.post({ kind: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS);
    });
    if ((await Promise.race([this.exited, late])) === 'late') {
      this.logger.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'messaging worker did not stop in time');
      await worker.terminate();
    }
    clearTimeout(timer);
  }

  private call(request: { method: 'metrics' } | { method: 'readiness'; names: string[] }) {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.calls.delete(id);
        reject(new Error(`the messaging worker did not answer within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.calls.set(id, { resolve, reject, timer });
      this.post({ kind: 'call', id, ...request } as Call);
    });
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private receive(message: Exclude<FromWorker, { kind: 'started' }>): void {
    if (message.kind === 'log') this.writeLog(message.text);
    else if (message.kind === 'reply') {
      const call = this.calls.get(message.id);
      if (!call) return;
      this.calls.delete(message.id);
      clearTimeout(call.timer);
      if (message.error !== undefined) call.reject(new Error(message.error));
      else call.resolve(message.value);
    }
  }

  private died(how: string): void {
    this.logger.fatal(`the messaging worker ${how}: the service stops`);
    this.logger.flush();
    process.exit(1);
  }
}

/**
 * The worker's end: answers the HTTP thread's calls from the worker's own context, and on
 * `stop` closes it (Nest's shutdown hooks: consumers, relay, pools), flushes its logs and ends.
 */
export function serveHttpThread(
  app: INestApplicationContext,
  side: WorkerSide & { checkNames(): string[]; flushLogs(): void },
): void {
  const port = parentPort;
  if (!port) throw new Error('serveHttpThread runs on the messaging worker only');
  const post = (message: FromWorker) => port.postMessage(message);
  port.on('message', (message: ToWorker) => {
    if (message.kind === 'stop') {
      void app
        .close()
        .catch(() => undefined)
        .then(() => {
          side.flushLogs();
          port.close(); // nothing else holds the thread: it ends, and the host sees it exit
        });
      return;
    }
    const answer = message.method === 'metrics' ? side.metrics() : side.readiness(message.names);
    answer.then(
      (value) => post({ kind: 'reply', id: message.id, value }),
      (error: Error) => post({ kind: 'reply', id: message.id, error: error.message }),
    );
  });
  post({ kind: 'started', checks: side.checkNames() });
}

/**
 * Log lines of the worker, sent to the HTTP thread in chunks (at least 4 KiB or once a second,
 * every line with LOG_SYNC=true), which writes them with its own: one writer on the output, so
 * lines of the two threads never interleave mid-line.
 */
export class WorkerLogDestination {
  private buffer = '';
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sync = process.env.LOG_SYNC === 'true') {
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  write(text: string): void {
    this.buffer += text;
    if (this.sync || this.buffer.length >= 4096) this.flush();
  }

  flush(): void {
    if (!this.buffer) return;
    parentPort?.postMessage({ kind: 'log', text: this.buffer } satisfies FromWorker);
    this.buffer = '';
  }
}
