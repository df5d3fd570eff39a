/**
 * Starts the CLI from its bundle. Installed from the package, that is dist/warren.cjs. In the
 * repository (after `npm ci`, `npx warren`), the sources are bundled afresh first (esbuild,
 * about 0.5 s), so it is never a stale build and needs no build step.
 */
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const BUILD = join(__dirname, '../build.js'); // not packed: present only in the repository
const BUNDLE = join(__dirname, '../dist/warren.cjs');

function bundleOfSources() {
  const fresh = join(
    __dirname,
    '../../../node_modules/.cache/warren-cli',
    `warren-${process.pid}.cjs`,
  );
  require(BUILD).bundle(fresh);
  const loaded = require(fresh);
  require('node:fs').rmSync(fresh, { force: true });
  require('node:fs').rmSync(`${fresh}.LEGAL.txt`, { force: true });
  return loaded;
}

module.exports = function launch(invokedAs) {
  if (!existsSync(BUILD) && !existsSync(BUNDLE)) {
    process.stderr.write(`${invokedAs}: ${BUNDLE} is missing; reinstall the package\n`);
    process.exit(1);
  }
  const cli = existsSync(BUILD) ? bundleOfSources() : require(BUNDLE);
  cli.main(process.argv.slice(2), invokedAs);
};
