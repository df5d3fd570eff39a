import { randomUUID } from 'node:crypto';
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  isUniqueViolation,
  OUTBOX,
  runIdempotently,
  SqlTransactions,
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

/** One round trip: the user row, returned as the answer shows it. */
const INSERT_USER = `INSERT INTO users (id, email, name) VALUES ($1::uuid, $2, $3)
RETURNING id, email, name, blocked, created_at AS "createdAt"`;

@Injectable()
export class UsersService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly sql: SqlTransactions,
    @Inject(OUTBOX) private readonly outbox: TransactionalOutbox<SqlTx>,
  ) {}

  /**
   * Registers a user and emits user.created in the same transaction: BEGIN, the user row, the
   * outbox row, COMMIT (plus the key's two statements with an Idempotency-Key).
   */
  register(
    dto: CreateUserDto,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentAnswer<UserView>> {
    return runIdempotently(
      this.sql,
      { key: idempotencyKey, scope: 'POST /users', body: dto },
      async (tx) => {
        const [user] = await tx
          .$queryRawUnsafe<UserRow[]>(INSERT_USER, randomUUID(), dto.email, storedName(dto.name))
          .catch((error: unknown) => {
            if (isUniqueViolation(error)) {
              throw new ConflictException(`a user with email ${dto.email} already exists`);
            }
            throw error;
          });
        await this.outbox.append(tx, {
          type: 'user.created',
          payload: { userId: user!.id, email: user!.email, name: user!.name },
          aggregateKey: user!.id,
        });
        return { status: 201, body: toUserView(user!) };
      },
    );
  }

  async get(id: string): Promise<UserView> {
    const user = await this.prisma.user.findUnique({ where: { id } });
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
