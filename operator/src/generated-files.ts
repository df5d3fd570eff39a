/** Files of the chart generated from the operator's TypeScript (`npm run generate -w @warren/operator`). */
import { resolve } from 'node:path';
import type { GeneratedFile } from '@warren/crds';
import { OPERATOR_ALERTS_TEMPLATE, operatorAlertsTemplate } from './alerts/chart-template';
import { CHART_DASHBOARDS_DIR, dashboardFiles } from './dashboards/files';

const REPO_ROOT = resolve(__dirname, '../..');

export function chartGeneratedFiles(): GeneratedFile[] {
  return [
    { path: resolve(REPO_ROOT, OPERATOR_ALERTS_TEMPLATE), content: operatorAlertsTemplate() },
    // Helm reads files only from inside the chart: the dashboards JSON, for their ConfigMaps.
    ...dashboardFiles().map((file) => ({
      path: resolve(REPO_ROOT, CHART_DASHBOARDS_DIR, file.name),
      content: file.content,
    })),
  ];
}
