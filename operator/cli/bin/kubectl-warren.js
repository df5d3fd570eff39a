#!/usr/bin/env node
// `kubectl warren ...`: kubectl finds this bin on PATH; it is `warren --kube ...`.
require('./launch')('kubectl-warren');
