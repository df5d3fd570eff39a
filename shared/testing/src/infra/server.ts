/** One project-owned server process: install, start, stop and describe it. */
export interface LocalServer {
  readonly name: string;
  /** Installs the server's package when missing. */
  install(log: (line: string) => void): Promise<void>;
  /** True when our own instance (from this state folder) is running and answering. */
  isRunning(): Promise<boolean>;
  /** Starts it and waits until it really answers; throws with the log tail on failure. */
  start(log: (line: string) => void): Promise<void>;
  /** Stops our instance and anything it started; a no-op when it is not running. */
  stop(log: (line: string) => void): Promise<void>;
  /** Where it listens, for `infra status`. */
  describe(): string;
}
