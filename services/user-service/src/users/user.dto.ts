import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEmail, IsNotEmpty, IsString, MaxLength } from 'class-validator';

const trimmed = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value;

export class CreateUserDto {
  @ApiProperty({ example: 'ada@example.com', description: 'Unique, compared case-insensitively' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @IsEmail({}, { message: 'email must be an email address' })
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'Ada Lovelace', maxLength: 200 })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;
}

export class SetBlockedDto {
  @ApiProperty({ description: 'A blocked user may not place orders' })
  @IsBoolean()
  blocked!: boolean;
}

export class UserView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty() name!: string;
  @ApiProperty() blocked!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export function toUserView(user: {
  id: string;
  email: string;
  name: string;
  blocked: boolean;
  createdAt: Date;
}): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    blocked: user.blocked,
    createdAt: user.createdAt.toISOString(),
  };
}
