import { Body, Controller, Get, Headers, Param, Post, Put, Res } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { answerWith, ApiUuidParam, IDEMPOTENCY_HEADER, uuidParam } from '@warren/service-kit';
import type { Response } from 'express';
import { CreateUserDto, SetBlockedDto, UserView } from './user.dto';
import { UsersService } from './users.service';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiHeader({
    name: IDEMPOTENCY_HEADER,
    required: false,
    description: 'Repeats with the same key get the first answer',
  })
  @ApiCreatedResponse({ type: UserView })
  @ApiConflictResponse({ description: 'A user with this email already exists' })
  async register(
    @Body() dto: CreateUserDto,
    @Headers(IDEMPOTENCY_HEADER) idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<UserView> {
    return answerWith(res, await this.users.register(dto, idempotencyKey));
  }

  @Get(':id')
  @ApiUuidParam('id')
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse({ description: 'No user with this id' })
  get(@Param('id', uuidParam('id')) id: string): Promise<UserView> {
    return this.users.get(id);
  }

  @Put(':id/blocked')
  @ApiUuidParam('id')
  @ApiOkResponse({ type: UserView })
  @ApiNotFoundResponse({ description: 'No user with this id' })
  setBlocked(
    @Param('id', uuidParam('id')) id: string,
    @Body() dto: SetBlockedDto,
  ): Promise<UserView> {
    return this.users.setBlocked(id, dto.blocked);
  }
}
