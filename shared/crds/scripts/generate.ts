/**
 * Writes crds/<plural>.yaml and shared/crds/src/types.generated.ts from the TypeScript schemas.
 * `--check` writes nothing and exits 1 when a committed file is stale.
 */
import { generatedFiles } from '../src/generated-files';
import { runGenerator } from '../src/sync-generated';

runGenerator(generatedFiles);
