import { spawn } from 'node:child_process';
import { schemaEngineBinaryPath } from './engine-path';

export interface PrismaRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the ordinary Prisma CLI (`prisma migrate deploy`, ...) in a service folder, with the
 * stand-in engine and the given database, and collects its output.
 */
export function runPrisma(
  args: readonly string[],
  options: { cwd: string; databaseUrl: string },
): Promise<PrismaRun> {
  const cli = require.resolve('prisma/build/index.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: options.cwd,
      env: {
        ...process.env,
        DATABASE_URL: options.databaseUrl,
        PRISMA_SCHEMA_ENGINE_BINARY:
          process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? schemaEngineBinaryPath,
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
        CHECKPOINT_DISABLE: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
