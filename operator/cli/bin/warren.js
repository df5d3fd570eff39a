#!/usr/bin/env node
require('./launch')('warren');
