import { ApiProperty } from '@nestjs/swagger';
import { QueryInteger } from '@warren/service-kit';
import { IsOptional, IsUUID } from 'class-validator';
import { NOTIFICATION_KINDS } from './compose';

export class ListNotificationsQuery {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'userId must be a UUID' })
  userId!: string;

  @QueryInteger({
    minimum: 1,
    maximum: 100,
    default: 50,
    description: 'At most this many, newest first',
  })
  @IsOptional()
  limit?: number;
}

export class NotificationView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() userId!: string;
  @ApiProperty({ enum: NOTIFICATION_KINDS }) kind!: string;
  @ApiProperty({ example: 'email' }) channel!: string;
  @ApiProperty() subject!: string;
  @ApiProperty() body!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The order it is about, if any' })
  orderId!: string | null;
  @ApiProperty({ description: 'The event that caused it' }) eventId!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
