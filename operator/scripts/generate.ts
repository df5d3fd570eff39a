/**
 * Writes the files generated from the operator's TypeScript (the chart's operator alerts and
 * Grafana dashboards, the event catalogue's JSON Schemas). `--check` writes nothing and exits 1
 * when a committed file is stale.
 */
import { runGenerator } from '@warren/crds';
import { operatorGeneratedFiles } from '../src/generated-files';

runGenerator(operatorGeneratedFiles);
