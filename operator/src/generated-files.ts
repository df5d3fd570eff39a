/**
 * Files generated from the operator's TypeScript (`npm run generate -w @warren/operator`): the
 * chart's, and the catalogue's event schemas.
 */
import { resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { GeneratedFile } from '@warren/crds';
import { OPERATOR_ALERTS_TEMPLATE, operatorAlertsTemplate } from './alerts/chart-template';
import { CHART_DASHBOARDS_DIR, dashboardFiles } from './dashboards/files';
import { EVENT_SCHEMAS_MODULE, eventSchemasSource } from './engine/event-schemas.source';

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

/** The event catalogue's JSON Schemas as a TypeScript module, formatted as the repository's Prettier would. */
export async function eventSchemasFile(): Promise<GeneratedFile> {
  const path = resolve(REPO_ROOT, EVENT_SCHEMAS_MODULE);
  const content = await format(eventSchemasSource(), {
    ...(await resolveConfig(path)),
    filepath: path,
  });
  return { path, content };
}

export async function operatorGeneratedFiles(): Promise<GeneratedFile[]> {
  return [...chartGeneratedFiles(), await eventSchemasFile()];
}
