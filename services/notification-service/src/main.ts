import 'reflect-metadata';
import { databaseUrlFrom, integerFrom, runService } from '@warren/service-kit';
import { AppModule, SERVICE } from './app.module';

void runService(AppModule.forRoot({ databaseUrl: databaseUrlFrom(process.env) }), SERVICE, integerFrom(process.env, 'PORT', 3003, 0, 65535));
