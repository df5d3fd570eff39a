/** What the Prisma CLI passes on the schema engine's command line. */
export interface EngineArguments {
  datamodels: string[];
  datasource?: { url?: string; shadowDatabaseUrl?: string };
  /** `cli <command>`: run one command and exit instead of serving JSON-RPC. */
  cliCommand?: string;
  printVersion: boolean;
}

const IGNORED_WITH_VALUE = new Set(['--enabled-preview-features', '--extension-types']);

export function parseEngineArguments(argv: readonly string[]): EngineArguments {
  const parsed: EngineArguments = { datamodels: [], printVersion: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--datamodels' || arg === '-d') parsed.datamodels.push(value());
    else if (arg === '--datasource') parsed.datasource = parseDatasource(value());
    else if (arg === '--version' || arg === '-V') parsed.printVersion = true;
    else if (IGNORED_WITH_VALUE.has(arg)) value();
    else if (arg === 'cli') {
      const command = argv[++i];
      if (!command)
        throw new Error('cli needs a command: can-connect-to-database or create-database');
      parsed.cliCommand = command;
    } else throw new Error(`Unknown argument: ${arg}`);
  }
  return parsed;
}

function parseDatasource(text: string): EngineArguments['datasource'] {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null)
    throw new Error('--datasource must be a JSON object');
  return value as EngineArguments['datasource'];
}
