import { readdir } from 'node:fs/promises';
import { Controller, Get, HttpCode, Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { RawSqlClient } from './idempotency';

/** One condition the service needs before it takes traffic; `probe` throws (with a reason) when unmet. */
export interface ReadinessCheck {
  name: string;
  probe(): Promise<void>;
}

export interface CheckOutcome {
  name: string;
  ok: boolean;
  reason?: string;
}

const PROBE_TIMEOUT_MS = 2_000;

class LivenessView {
  @ApiProperty({ enum: ['ok'] }) status!: 'ok';
}

class CheckOutcomeView implements CheckOutcome {
  @ApiProperty({ example: 'database' }) name!: string;
  @ApiProperty() ok!: boolean;
  @ApiPropertyOptional({ type: String, description: 'Why the check failed' }) reason?: string;
}

class ReadinessView {
  @ApiProperty({ enum: ['ready'] }) status!: 'ready';
  @ApiProperty({ type: [CheckOutcomeView] }) checks!: CheckOutcome[];
}

class NotReadyView {
  @ApiProperty({ enum: [503] }) statusCode!: 503;
  @ApiProperty({ enum: ['not ready'] }) status!: 'not ready';
  @ApiProperty({ type: [CheckOutcomeView] }) checks!: CheckOutcome[];
}

/**
 * The checks behind /readyz. Services register theirs at start-up (database, migrations);
 * the messaging integration adds broker and topology checks the same way.
 */
@Injectable()
export class ReadinessChecks {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  names(): string[] {
    return this.checks.map((check) => check.name);
  }

  /** Every check, or those named. */
  run(names?: string[]): Promise<CheckOutcome[]> {
    const chosen = names ? this.checks.filter((c) => names.includes(c.name)) : this.checks;
    return Promise.all(chosen.map(runWithTimeout));
  }
}

async function runWithTimeout(check: ReadinessCheck): Promise<CheckOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([check.probe(), timeout]);
    return { name: check.name, ok: true };
  } catch (error) {
    return { name: check.name, ok: false, reason: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessChecks) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up and serving HTTP' })
  @ApiOkResponse({ type: LivenessView })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Readiness: every registered check passes (503 with the failing ones otherwise)',
  })
  @ApiOkResponse({ type: ReadinessView })
  @ApiServiceUnavailableResponse({ type: NotReadyView, description: 'A check failed' })
  async ready(): Promise<{ status: 'ready'; checks: CheckOutcome[] }> {
    const checks = await this.readiness.run();
    if (checks.some((c) => !c.ok)) {
      throw new ServiceUnavailableException({ statusCode: 503, status: 'not ready', checks });
    }
    return { status: 'ready', checks };
  }
}

export function databaseReachable(db: RawSqlClient): ReadinessCheck {
  return { name: 'database', probe: async () => void (await db.$queryRawUnsafe('SELECT 1')) };
}

/**
 * Every migration folder shipped with the service is recorded as applied (and none failed) in
 * `_prisma_migrations`: the service never serves on a schema older than its code.
 */
export function migrationsApplied(db: RawSqlClient, migrationsDir: string): ReadinessCheck {
  return {
    name: 'migrations',
    probe: async () => {
      const shipped = (await readdir(migrationsDir, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
      const rows = await db
        .$queryRawUnsafe<{ migration_name: string; finished_at: Date | null }[]>(
          'SELECT migration_name, finished_at FROM _prisma_migrations WHERE rolled_back_at IS NULL',
        )
        .then(
          (r) => r,
          () => {
            throw new Error('no _prisma_migrations table: run prisma migrate deploy');
          },
        );
      const failed = rows.filter((r) => r.finished_at === null).map((r) => r.migration_name);
      if (failed.length) throw new Error(`migrations failed or in progress: ${failed.join(', ')}`);
      const applied = new Set(rows.map((r) => r.migration_name));
      const pending = shipped.filter((name) => !applied.has(name));
      if (pending.length) throw new Error(`migrations not applied: ${pending.join(', ')}`);
    },
  };
}

/** What every service's database needs before it serves: reachable, and fully migrated. */
export function databaseChecks(db: RawSqlClient, migrationsDir: string): ReadinessCheck[] {
  return [databaseReachable(db), migrationsApplied(db, migrationsDir)];
}
