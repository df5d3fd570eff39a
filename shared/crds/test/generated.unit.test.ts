import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

// Prettier (which formats the output) loads plugins with dynamic import, which Jest's module
// system cannot run, so the check runs the generator itself as a child process.
describe('generated files', () => {
  it('crds/*.yaml and the TypeScript types match the schemas (else run `npm run generate -w @warren/crds`)', async () => {
    const result = await promisify(execFile)(
      process.execPath,
      ['--conditions=warren-source', '--import', 'tsx', 'scripts/generate.ts', '--check'],
      { cwd: resolve(__dirname, '..') },
    ).catch((error: { stderr: string; code: number }) => error);
    expect(result).toMatchObject({ stderr: '' });
  });
});
