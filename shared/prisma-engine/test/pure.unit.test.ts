import { parseEngineArguments } from '../src/arguments';
import { databaseName, redact, withDatabase } from '../src/connection-url';
import { reportUnknownBuiltinTypesAsText } from '../src/pg-adapter';
import { toRpcError } from '../src/rpc-errors';
import { KnownEngineError } from '../src/database-admin';

describe('engine arguments', () => {
  it('reads what the Prisma CLI passes for a JSON-RPC session', () => {
    const args = parseEngineArguments([
      '--datamodels',
      'a.prisma',
      '--datamodels',
      'b.prisma',
      '--datasource',
      '{"url":"postgresql://u@h/db"}',
      '--enabled-preview-features',
      'views',
    ]);
    expect(args).toEqual({
      datamodels: ['a.prisma', 'b.prisma'],
      datasource: { url: 'postgresql://u@h/db' },
      printVersion: false,
    });
  });

  it('reads a cli sub-command and refuses unknown arguments by name', () => {
    expect(
      parseEngineArguments(['--datasource', '{"url":"x"}', 'cli', 'create-database']).cliCommand,
    ).toBe('create-database');
    expect(() => parseEngineArguments(['--bogus'])).toThrow('Unknown argument: --bogus');
    expect(() => parseEngineArguments(['--datasource'])).toThrow('--datasource needs a value');
  });
});

describe('connection strings', () => {
  it('switches the database and hides the password in messages', () => {
    expect(withDatabase('postgresql://u:secret@h:5432/app?sslmode=disable', 'shadow')).toBe(
      'postgresql://u:secret@h:5432/shadow?sslmode=disable',
    );
    expect(databaseName('postgresql://u@h/my%20db')).toBe('my db');
    expect(redact('postgresql://u:secret@h/db')).toBe('postgresql://u:***@h/db');
  });
});

describe('type mapping workaround', () => {
  it('reports built-in types adapter-pg cannot convert as text, and leaves the rest alone', () => {
    const fields = [
      { dataTypeID: 18 /* "char" */ },
      { dataTypeID: 24 /* regproc */ },
      { dataTypeID: 23 /* int4 */ },
      { dataTypeID: 20000 /* user type */ },
    ];
    reportUnknownBuiltinTypesAsText(fields);
    expect(fields.map((f) => f.dataTypeID)).toEqual([25, 25, 23, 20000]);
  });
});

describe('JSON-RPC errors', () => {
  it('carries the P-code the CLI acts on', () => {
    expect(toRpcError(new KnownEngineError('P1003', 'Database `x` does not exist')).data).toEqual({
      is_panic: false,
      message: 'Database `x` does not exist',
      error_code: 'P1003',
    });
    expect(
      toRpcError({ code: 'P3005', message: 'The database schema is not empty.', meta: {} }).data
        .error_code,
    ).toBe('P3005');
  });
});
