/** The database connection string from DATABASE_URL, or an error that says what is expected. */
export function databaseUrlFrom(env: NodeJS.ProcessEnv): string {
  const url = env.DATABASE_URL;
  if (!url)
    throw new Error('DATABASE_URL is required (postgresql://user:password@host:port/database)');
  return url;
}

/** A whole number from the environment within bounds, or the default when unset. */
export function integerFrom(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}
