#!/usr/bin/env node
// The installed `warren` command runs the compiled CLI; in the repository use `npm run warren --`.
require('../dist/cli/main.js');
