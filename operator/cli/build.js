/**
 * Bundles the CLI (operator/src/cli/main.ts and everything it imports: the engine, the CRD
 * schemas, the kube and AMQP clients) into one CommonJS file, so the packed package declares no
 * dependencies and installs without the repository or the registry's @warren packages.
 * `npm pack` runs it (prepack); in the repository bin/launch.js runs it before every start
 * (about 0.5 s), so `npx warren` always runs the current sources.
 */
const path = require('node:path');

const DIST = path.join(__dirname, 'dist/warren.cjs');

function bundle(outfile = DIST) {
  const { buildSync } = require('esbuild');
  const cli = require('./package.json');
  const operator = require('../package.json');
  return buildSync({
    entryPoints: [path.join(__dirname, '../src/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20.19',
    // The workspace packages' TypeScript sources, as in the repository's tests.
    conditions: ['warren-source'],
    define: {
      WARREN_BUILT_VERSIONS: JSON.stringify({ cli: cli.version, engine: operator.version }),
    },
    legalComments: 'linked',
    logLevel: 'warning',
    metafile: true,
  });
}

module.exports = { bundle };

if (require.main === module) {
  const result = bundle();
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  process.stderr.write(
    `bundled ${path.relative(process.cwd(), DIST)} (${Math.round(bytes / 1024)} KiB)\n`,
  );
}
