import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { PrismaService } from '../database/prisma.service';
import { ListNotificationsQuery, NotificationView } from './notification.dto';

@ApiTags('notifications')
@Controller('notifications')
export class NotificationsController {
  constructor(private readonly prisma: PrismaService) {}

  @Get()
  @ApiOkResponse({
    type: [NotificationView],
    description: "The user's notifications, newest first",
  })
  async list(@Query() query: ListNotificationsQuery): Promise<NotificationView[]> {
    const rows = await this.prisma.notification.findMany({
      where: { userId: query.userId },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      take: query.limit ?? 50,
    });
    return rows.map((n) => ({ ...n, createdAt: n.createdAt.toISOString() }));
  }
}
