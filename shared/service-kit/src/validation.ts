import {
  BadRequestException,
  ParseUUIDPipe,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';

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
export function uuidParam(name: string): ParseUUIDPipe {
  return new ParseUUIDPipe({
    exceptionFactory: () =>
      validationFailed([{ field: name, problems: [`${name} must be a UUID`] }]),
  });
}
