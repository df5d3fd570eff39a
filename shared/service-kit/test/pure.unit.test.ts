import type { ValidationError } from '@nestjs/common';
import { correlationIdFrom } from '../src/correlation';
import { integerFrom } from '../src/environment';
import { fieldErrors } from '../src/validation';

describe('fieldErrors', () => {
  it('names nested fields by path, array positions in brackets', () => {
    const errors = [
      { property: 'userId', constraints: { isUuid: 'userId must be a UUID' }, children: [] },
      {
        property: 'items',
        children: [
          {
            property: '0',
            children: [
              {
                property: 'quantity',
                constraints: { min: 'quantity must be at least 1' },
                children: [],
              },
            ],
          },
        ],
      },
    ] as unknown as ValidationError[];
    expect(fieldErrors(errors)).toEqual([
      { field: 'userId', problems: ['userId must be a UUID'] },
      { field: 'items[0].quantity', problems: ['quantity must be at least 1'] },
    ]);
  });
});

describe('correlation ids', () => {
  it('keeps a sane client id and replaces anything else', () => {
    expect(correlationIdFrom('abc-123:x')).toBe('abc-123:x');
    expect(correlationIdFrom('bad id with spaces')).toMatch(/^[0-9a-f-]{36}$/);
    expect(correlationIdFrom(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('integerFrom', () => {
  it('uses the default when unset and names the variable when invalid', () => {
    expect(integerFrom({}, 'PORT', 3001)).toBe(3001);
    expect(integerFrom({ PORT: '8080' }, 'PORT', 3001, 0, 65535)).toBe(8080);
    expect(() => integerFrom({ PORT: 'eighty' }, 'PORT', 3001, 0, 65535)).toThrow(
      'PORT must be a whole number from 0 to 65535, got "eighty"',
    );
  });
});
