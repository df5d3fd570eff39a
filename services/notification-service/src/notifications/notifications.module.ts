import { Module } from '@nestjs/common';
import { NotificationRecorder } from './notification-recorder';
import { NotificationsController } from './notifications.controller';

@Module({
  controllers: [NotificationsController],
  providers: [NotificationRecorder],
  exports: [NotificationRecorder],
})
export class NotificationsModule {}
