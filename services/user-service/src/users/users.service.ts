import { randomUUID } from 'node:crypto';
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  isUniqueViolation,
  OUTBOX,
  runIdempotently,
  PointReads,
  SqlTransactions,
  type BatchedReads,
  type IdempotentAnswer,
  type SqlTx,
  type TransactionalOutbox,
} from '@warren/service-kit';
import { PrismaService } from '../database/prisma.service';
import {
  storedName,
  toUserView,
  type CreateUserDto,
  type UserRow,
  type UserView,
} from './user.dto';

/**
 * One statement, so one round trip and atomic without BEGIN/COMMIT: the user row, returned as the
 * answer shows it, and its user.created outbox row (parameters from $4).
 */
const REGISTER = (outboxRow: string) => `WITH u AS (
  INSERT INTO users (id, email, name) VALUES ($1::uuid, $2, $3)
  RETURNING id, email, name, blocked, created_at AS "createdAt"
), event AS (${outboxRow})
SELECT * FROM u`;

/** The users of a batch of GET /users/:id (see `PointReads`). */
const SELECT_USERS = `SELECT id, email, name, blocked, created_at AS "createdAt" FROM users WHERE id = ANY($1::uuid[])`;

@Injectable()
export class UsersService {
  /** By id, lower case (how PostgreSQL writes a uuid). */
  private readonly byId: BatchedReads<string, UserRow>;

  constructor(
    private readonly prisma: PrismaService,
    private readonly sql: SqlTransactions,
    @Inject(OUTBOX) private readonly outbox: TransactionalOutbox<SqlTx>,
    reads: PointReads,
  ) {
    this.byId = reads.create('users', async (ids: string[]) => {
      const { rows } = await sql.pool.query<UserRow>(SELECT_USERS, [ids]);
      return rows.map((row) => [row.id, row] as const);
    });
  }

  /**
   * Registers a user and emits user.created atomically: one statement without an
   * Idempotency-Key; with one, that statement inside the key's transaction.
   */
  register(
    dto: CreateUserDto,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentAnswer<UserView>> {
    return runIdempotently(
      this.sql,
      { key: idempotencyKey, scope: 'POST /users', body: dto, oneStatement: true },
      async (db) => {
        const id = randomUUID();
        const name = storedName(dto.name);
        const event = this.outbox.rowStatement(
          {
            type: 'user.created',
            payload: { userId: id, email: dto.email, name },
            aggregateKey: id,
          },
          4,
        );
        const [user] = await db
          .$queryRawUnsafe<UserRow[]>(REGISTER(event.sql), id, dto.email, name, ...event.values)
          .catch((error: unknown) => {
            if (isUniqueViolation(error)) {
              throw new ConflictException(`a user with email ${dto.email} already exists`);
            }
            throw error;
          });
        return { status: 201, body: toUserView(user!) };
      },
    );
  }

  /** A batched point read on the pool: one statement for the concurrent reads (no ORM either). */
  async get(id: string): Promise<UserView> {
    const user = await this.byId.get(id.toLowerCase());
    if (!user) throw new NotFoundException(`user ${id} does not exist`);
    return toUserView(user);
  }

  async setBlocked(id: string, blocked: boolean): Promise<UserView> {
    const updated = await this.prisma.user.updateManyAndReturn({
      where: { id },
      data: { blocked },
    });
    if (updated.length === 0) throw new NotFoundException(`user ${id} does not exist`);
    return toUserView(updated[0]!);
  }
}
