import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CANCEL_REASONS, ORDER_STATUSES } from '@warren/contracts';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

export class OrderItemDto {
  @ApiProperty({ example: 'BOOK-42', maxLength: 100 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  sku!: string;

  @ApiProperty({ example: 2, minimum: 1, maximum: 10000 })
  @IsInt({ message: 'quantity must be a whole number' })
  @Min(1, { message: 'quantity must be at least 1' })
  @Max(10000)
  quantity!: number;

  @ApiProperty({
    example: 12.5,
    minimum: 0,
    description: 'Price of one unit in the order currency, at most 2 decimals',
  })
  @IsNumber(
    { maxDecimalPlaces: 2, allowNaN: false, allowInfinity: false },
    { message: 'unitPrice must be a number with at most 2 decimals' },
  )
  @Min(0, { message: 'unitPrice must not be negative' })
  @Max(1_000_000)
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

  @ApiPropertyOptional({ example: 'EUR', default: 'EUR' })
  @IsOptional()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be an ISO 4217 code such as EUR' })
  currency?: string;
}

export class OrderItemView {
  @ApiProperty() sku!: string;
  @ApiProperty() quantity!: number;
  @ApiProperty() unitPrice!: number;
}

export class OrderHistoryEntry {
  @ApiProperty({ example: 'order.cancelled' }) type!: string;
  @ApiProperty({ nullable: true, enum: ORDER_STATUSES }) fromStatus!: string | null;
  @ApiProperty({ enum: ORDER_STATUSES }) toStatus!: string;
  @ApiProperty({ nullable: true }) reason!: string | null;
  @ApiProperty({ nullable: true }) detail!: string | null;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
}

export class OrderView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() userId!: string;
  @ApiProperty({ enum: ORDER_STATUSES }) status!: string;
  @ApiProperty() currency!: string;
  @ApiProperty({ description: 'Sum of quantity × unitPrice' }) total!: number;
  @ApiProperty({ nullable: true, enum: CANCEL_REASONS })
  cancelReason!: string | null;
  @ApiProperty({ type: [OrderItemView] }) items!: OrderItemView[];
  @ApiProperty({ type: [OrderHistoryEntry] }) history!: OrderHistoryEntry[];
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}
