import {
  applyDecorators,
  BadRequestException,
  ParseUUIDPipe,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';
import { ApiParam, ApiProperty } from '@nestjs/swagger';
import { codePointLength } from '@warren/contracts';
import { Transform } from 'class-transformer';
import {
  IsInt,
  IsNumber,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';

/** One invalid field of a request body: its path (`items[0].quantity`) and what is wrong with it. */
export interface FieldError {
  field: string;
  problems: string[];
}

/** Flattens class-validator's nested errors into one entry per offending field, named by path. */
export function fieldErrors(errors: readonly ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const path = /^\d+$/.test(error.property)
      ? `${parent}[${error.property}]`
      : parent
        ? `${parent}.${error.property}`
        : error.property;
    const own: FieldError[] = error.constraints
      ? [{ field: path, problems: Object.values(error.constraints) }]
      : [];
    return [...own, ...fieldErrors(error.children ?? [], path)];
  });
}

/** The 400 every service answers for an invalid body: a summary message plus the field list. */
export function validationFailed(fields: FieldError[]): BadRequestException {
  const summary = fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ');
  return new BadRequestException({
    statusCode: 400,
    error: 'Bad Request',
    message: `Validation failed: ${summary}`,
    fields,
  });
}

/** Strict DTO validation: unknown fields are refused, values are converted to the declared types. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => validationFailed(fieldErrors(errors)),
  });
}

/** A path or query parameter that must be a UUID; a 400 names it otherwise. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether an id from an event (whose contract only says "a string") can name a uuid row: a
 * handler answers "no such row" for anything else, rather than failing on PostgreSQL's cast.
 */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () =>
      validationFailed([{ field: name, problems: [`${name} must be a UUID`] }]),
  });
}

/**
 * Text a person typed: no NUL (PostgreSQL text cannot hold it) and at least one character that is
 * not ASCII white space. Written once, for the validator (with the `u` flag: code points) and for
 * the OpenAPI `pattern` (ECMA-262 and Python read it alike).
 */
export const TEXT_PATTERN = '^[^\\u0000]*[^\\u0000\\t\\n\\v\\f\\r ][^\\u0000]*$';
const TEXT = new RegExp(TEXT_PATTERN, 'u');

/** At most `max` characters counted as JSON Schema counts them (code points). */
export function MaxCodePoints(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxCodePoints',
      constraints: [max],
      validator: {
        validate: (value) => typeof value === 'string' && codePointLength(value) <= max,
        defaultMessage: (args) => `${args?.property} must be at most ${max} characters`,
      },
    },
    options,
  );
}

/** A text field: its OpenAPI schema and its validators from the same numbers. */
export function TextProperty(options: {
  maxLength: number;
  example?: string;
  description?: string;
}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: String,
      minLength: 1,
      maxLength: options.maxLength,
      pattern: TEXT_PATTERN,
      ...(options.example ? { example: options.example } : {}),
      ...(options.description ? { description: options.description } : {}),
    }),
    IsString(),
    Matches(TEXT, {
      message: ({ property }) =>
        `${property} must not be blank and must not contain NUL characters`,
    }),
    MaxCodePoints(options.maxLength),
  );
}

/**
 * How many whole cents a price is, or undefined when it has more than 2 decimals. Binary floats
 * cannot hold most decimals exactly (0.07 * 100 = 7.000000000000001), so "whole" allows for that.
 */
export function wholeCents(amount: number): number | undefined {
  const cents = amount * 100;
  const rounded = Math.round(cents);
  // Only the rounding error of `amount * 100` is forgiven (a few ulps: 0.07 * 100 is
  // 7.000000000000001); a relative 1e-6 let 456006.15038 pass as whole cents.
  const ulps = 8 * Number.EPSILON * Math.max(1, Math.abs(cents));
  return Math.abs(cents - rounded) <= ulps ? rounded : undefined;
}

/** A price: a number from `minimum` to `maximum` with at most 2 decimals (`multipleOf: 0.01`). */
export function PriceProperty(options: {
  minimum: number;
  maximum: number;
  example?: number;
  description?: string;
}): PropertyDecorator {
  const { minimum, maximum } = options;
  return applyDecorators(
    ApiProperty({
      type: Number,
      minimum,
      maximum,
      multipleOf: 0.01,
      ...(options.example !== undefined ? { example: options.example } : {}),
      ...(options.description ? { description: options.description } : {}),
    }),
    IsNumber(
      { allowNaN: false, allowInfinity: false },
      { message: ({ property }) => `${property} must be a number` },
    ),
    Min(minimum, {
      message: ({ property }) =>
        minimum === 0
          ? `${property} must not be negative`
          : `${property} must be at least ${minimum}`,
    }),
    Max(maximum),
    ValidateBy({
      name: 'wholeCents',
      validator: {
        validate: (value) => typeof value === 'number' && wholeCents(value) !== undefined,
        defaultMessage: (args) => `${args?.property} must have at most 2 decimals`,
      },
    }),
  );
}

/**
 * A whole number in a query string: "5" and "5.0" are 5; anything else ("0x10", " 5", "5e0")
 * stays text, so the integer check refuses it, as the OpenAPI `type: integer` does.
 */
export function QueryInteger(options: {
  minimum: number;
  maximum: number;
  default?: number;
  description?: string;
}): PropertyDecorator {
  const { minimum, maximum } = options;
  return applyDecorators(
    ApiProperty({
      type: 'integer',
      required: false,
      minimum,
      maximum,
      ...(options.default !== undefined ? { default: options.default } : {}),
      ...(options.description ? { description: options.description } : {}),
    }),
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' && /^[+-]?\d+(\.0*)?$/.test(value) ? Number(value) : value,
    ),
    IsInt({ message: ({ property }) => `${property} must be a whole number` }),
    Min(minimum),
    Max(maximum),
  );
}

/** The OpenAPI side of `uuidParam(name)`: the path parameter's format. */
export function ApiUuidParam(name: string): MethodDecorator {
  return ApiParam({ name, type: String, format: 'uuid', description: `${name} (a UUID)` });
}
