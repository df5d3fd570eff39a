/**
 * Writes the chart's files generated from the operator's TypeScript (the operator alerts, the
 * Grafana dashboards). `--check` writes nothing and exits 1 when a committed file is stale.
 */
import { runGenerator } from '@warren/crds';
import { chartGeneratedFiles } from '../src/generated-files';

runGenerator(chartGeneratedFiles);
