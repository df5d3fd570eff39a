import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import {
  OUTBOX,
  runIdempotently,
  type IdempotentAnswer,
  type TransactionalOutbox,
} from '@warren/service-kit';
import { Prisma } from '../generated/prisma/client';
import { PrismaService, type Tx } from '../database/prisma.service';
import { toUserView, type CreateUserDto, type UserView } from './user.dto';

@Injectable()
export class UsersService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(OUTBOX) private readonly outbox: TransactionalOutbox<Tx>,
  ) {}

  /** Registers a user and emits user.created in the same transaction. */
  register(
    dto: CreateUserDto,
    idempotencyKey: string | undefined,
  ): Promise<IdempotentAnswer<UserView>> {
    return runIdempotently(
      this.prisma,
      { key: idempotencyKey, scope: 'POST /users', body: dto },
      async (tx) => {
        const user = await tx.user
          .create({ data: { email: dto.email, name: dto.name } })
          .catch((error: unknown) => {
            if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
              throw new ConflictException(`a user with email ${dto.email} already exists`);
            }
            throw error;
          });
        await this.outbox.append(tx, {
          type: 'user.created',
          payload: { userId: user.id, email: user.email, name: user.name },
          aggregateKey: user.id,
        });
        return { status: 201, body: toUserView(user) };
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
