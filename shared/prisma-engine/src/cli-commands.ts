import { canConnect, createDatabase } from './database-admin';
import { toRpcError } from './rpc-errors';

/**
 * `schema-engine --datasource '{"url":…}' cli <command>`. The Prisma CLI reads the outcome from
 * the exit code and, on failure, from JSON log lines on stderr after the first line.
 */
export async function runCliCommand(command: string, url: string | undefined): Promise<number> {
  const log = (level: 'INFO' | 'ERROR', fields: object) =>
    process.stderr.write(
      `${JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target: 'schema_engine::logger' })}\n`,
    );
  log('INFO', { message: `Starting schema engine CLI command ${command}` });
  try {
    if (!url) throw new Error('--datasource with a url is required');
    if (command === 'can-connect-to-database') await canConnect(url);
    else if (command === 'create-database') {
      const name = await createDatabase(url);
      log('INFO', { message: `Database '${name}' was successfully created.` });
    } else throw new Error(`Unknown cli command: ${command}`);
    return 0;
  } catch (error) {
    const { data } = toRpcError(error);
    log('ERROR', {
      is_panic: data.is_panic,
      error_code: data.error_code ?? '',
      message: data.message,
    });
    return 1;
  }
}
