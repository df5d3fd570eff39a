import { ApiProperty } from '@nestjs/swagger';
import { EMAIL_PATTERN as EMAIL } from '@warren/contracts';
import { TextProperty } from '@warren/service-kit';
import { Transform } from 'class-transformer';
import { IsBoolean, Matches, MaxLength } from 'class-validator';

export class CreateUserDto {
  @ApiProperty({
    example: 'ada@example.com',
    maxLength: 254,
    pattern: EMAIL.source,
    description:
      "The user.created contract's email rule. Unique, compared case-insensitively; surrounding white space is dropped and it is stored in lower case",
  })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @Matches(EMAIL, { message: 'email must be an email address' })
  @MaxLength(254)
  email!: string;

  @TextProperty({
    maxLength: 200,
    example: 'Ada Lovelace',
    description: 'Stored without surrounding white space',
  })
  name!: string;
}

/** The name as stored: without the ASCII white space around it. */
export function storedName(name: string): string {
  return name.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
}

export class SetBlockedDto {
  @ApiProperty({ description: 'A blocked user may not place orders' })
  @IsBoolean()
  blocked!: boolean;
}

export class UserView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'ada@example.com' }) email!: string;
  @ApiProperty({ example: 'Ada Lovelace' }) name!: string;
  @ApiProperty() blocked!: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

/** A users row as Prisma and the raw SQL of the write path both return it. */
export interface UserRow {
  id: string;
  email: string;
  name: string;
  blocked: boolean;
  createdAt: Date;
}

export function toUserView(user: UserRow): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    blocked: user.blocked,
    createdAt: user.createdAt.toISOString(),
  };
}
