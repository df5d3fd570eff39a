import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { PriceProperty, TextProperty } from '@warren/service-kit';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsUUID,
  Matches,
  Max,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { CANCEL_REASONS, ORDER_EVENT_TYPES, ORDER_STATUSES } from './order-rules';

const CURRENCY = /^[A-Z]{3}$/;

export class OrderItemDto {
  @TextProperty({ maxLength: 100, example: 'BOOK-42' })
  sku!: string;

  @ApiProperty({ type: 'integer', example: 2, minimum: 1, maximum: 10000 })
  @IsInt({ message: 'quantity must be a whole number' })
  @Min(1, { message: 'quantity must be at least 1' })
  @Max(10000)
  quantity!: number;

  @PriceProperty({
    minimum: 0,
    maximum: 1_000_000,
    example: 12.5,
    description: 'Price of one unit in the order currency, at most 2 decimals',
  })
  unitPrice!: number;
}

export class CreateOrderDto {
  @ApiProperty({
    format: 'uuid',
    description: 'Checked by user-service through the saga, never synchronously',
  })
  @IsUUID('all', { message: 'userId must be a UUID' })
  userId!: string;

  @ApiProperty({ type: [OrderItemDto], minItems: 1, maxItems: 100 })
  @IsArray()
  @ArrayMinSize(1, { message: 'items must contain at least one item' })
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => OrderItemDto)
  items!: OrderItemDto[];

  @ApiPropertyOptional({ example: 'EUR', default: 'EUR', pattern: CURRENCY.source })
  // Absent means the default; null is not a currency (IsOptional would let it through).
  @ValidateIf((_, value) => value !== undefined)
  @Matches(CURRENCY, { message: 'currency must be an ISO 4217 code such as EUR' })
  currency?: string;
}

export class OrderItemView {
  @ApiProperty() sku!: string;
  @ApiProperty({ type: 'integer' }) quantity!: number;
  @ApiProperty() unitPrice!: number;
}

export class OrderHistoryEntry {
  @ApiProperty({ enum: ORDER_EVENT_TYPES, example: 'order.cancelled' }) type!: string;
  @ApiProperty({ type: String, nullable: true, enum: ORDER_STATUSES }) fromStatus!: string | null;
  @ApiProperty({ enum: ORDER_STATUSES }) toStatus!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    enum: CANCEL_REASONS,
    description: 'Why the order was cancelled (null for other transitions)',
  })
  reason!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'user-blocked',
    description: "More detail: user-service's rejection reason, or the timeout",
  })
  detail!: string | null;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
}

export class OrderView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) userId!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: string;
  @ApiProperty({ example: 'EUR' }) currency!: string;
  @ApiProperty({ description: 'Sum of quantity × unitPrice' }) total!: number;
  @ApiProperty({ type: String, nullable: true, enum: CANCEL_REASONS })
  cancelReason!: string | null;
  @ApiProperty({ type: [OrderItemView] }) items!: OrderItemView[];
  @ApiProperty({ type: [OrderHistoryEntry] }) history!: OrderHistoryEntry[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
