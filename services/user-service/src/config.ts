/** Settings read from the environment once, at start-up, with the variable named on error. */
export interface UserServiceConfig {
  databaseUrl: string;
  port: number;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): UserServiceConfig {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is required (postgresql://user:password@host:port/database)');
  const port = Number(env.PORT ?? 3001);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a TCP port, got "${env.PORT}"`);
  return { databaseUrl, port };
}
