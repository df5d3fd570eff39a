/**
 * One broker fault at a time: suites that stop or kill a cluster node run in parallel Jest
 * workers, and two nodes down at once would take the majority from every 3-node quorum queue
 * (a failure neither suite is about). `withBrokerFault` holds a lock file in the infra state
 * folder for the length of the fault; a lock left by a dead process is taken over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadInfraConfig } from './infra';

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function withBrokerFault<T>(fn: () => Promise<T>, waitMs = 300_000): Promise<T> {
  const lock = path.join(loadInfraConfig().stateDir, 'broker-fault.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.mkdirSync(path.dirname(lock), { recursive: true });
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lock, 'utf8'));
      if (!holder || !isAlive(holder)) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline)
        throw new Error(`another suite (pid ${holder}) holds ${lock} for over ${waitMs} ms`, {
          cause: error,
        });
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
