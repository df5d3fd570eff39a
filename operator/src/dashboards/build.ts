/**
 * Grafana dashboard JSON from the dashboard specs, with the Grafana Foundation SDK's typed
 * builders: one datasource variable, the spec's query variables, a row per group, panels laid
 * out three to a row.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { DASHBOARDS, type DashboardSpec, type PanelSpec } from './model';

export type GrafanaDashboard = dashboard.Dashboard;

const DATASOURCE: { type: string; uid: string } = { type: 'prometheus', uid: '${datasource}' };
const WIDTH = 24;
const PANEL_HEIGHT = 8;

const legend = () =>
  new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);

function panelBuilder(spec: PanelSpec, id: number, gridPos: dashboard.GridPos) {
  const builder =
    spec.kind === 'stat' ? new stat.PanelBuilder() : new timeseries.PanelBuilder().legend(legend());
  builder
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .unit(spec.unit)
    .datasource(DATASOURCE)
    .gridPos(gridPos);
  spec.queries.forEach((query, index) =>
    builder.withTarget(
      new prometheus.DataqueryBuilder()
        .refId(String.fromCharCode(65 + index))
        .datasource(DATASOURCE)
        .expr(query.expr)
        .legendFormat(query.legend),
    ),
  );
  return builder;
}

export function buildDashboard(spec: DashboardSpec): GrafanaDashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['warren', 'generated'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new dashboard.DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'),
    );
  for (const variable of spec.variables) {
    const query = new dashboard.QueryVariableBuilder(variable.name)
      .label(variable.label)
      .datasource(DATASOURCE)
      .query({ query: variable.query, refId: 'variable' })
      .definition(variable.query)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc);
    builder.withVariable(variable.regex ? query.regex(variable.regex) : query);
  }
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    builder.withRow(
      new dashboard.RowBuilder(row.title).id(id++).gridPos({ x: 0, y, w: WIDTH, h: 1 }),
    );
    y += 1;
    const width = Math.floor(WIDTH / Math.min(3, row.panels.length));
    row.panels.forEach((panel, index) => {
      const x = (index % 3) * width;
      if (index > 0 && index % 3 === 0) y += PANEL_HEIGHT;
      builder.withPanel(panelBuilder(panel, id++, { x, y, w: width, h: PANEL_HEIGHT }));
    });
    y += PANEL_HEIGHT;
  }
  return builder.build();
}

export const buildDashboards = (): GrafanaDashboard[] => DASHBOARDS.map(buildDashboard);

/** `<uid>.json` for import into Grafana (or the sidecar). */
export const dashboardFileName = (built: GrafanaDashboard): string => `${built.uid}.json`;
