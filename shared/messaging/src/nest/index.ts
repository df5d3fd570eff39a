import 'reflect-metadata';

export * from './tokens';
export * from './handle-event.decorator';
export * from './correlation.middleware';
export * from './messaging.health';
export * from './messaging.lifecycle';
export * from './messaging.module';
