/** The dashboards as files: `<uid>.json`, for `npm start` (.warren/dashboards/) and the chart. */
import { buildDashboards, dashboardFileName } from './build';

export const CHART_DASHBOARDS_DIR = 'charts/warren/files/dashboards';

export const dashboardFiles = (): { name: string; content: string }[] =>
  buildDashboards().map((built) => ({
    name: dashboardFileName(built),
    content: `${JSON.stringify(built, null, 2)}\n`,
  }));
