/**
 * The generated Grafana dashboards. No JSON schema of Grafana's dashboard model is to be had on
 * this machine (Grafana defines it in CUE; the Foundation SDK ships TypeScript types only), so
 * they are checked against the SDK's typed model (the TypeScript compiler, at build time) and
 * against the rules Grafana enforces on import, here. That every query returns series is
 * checked against the real Prometheus in shared/platform/test/on-call.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@warren/testing';
import { buildDashboards } from '../src/dashboards/build';
import { CHART_DASHBOARDS_DIR, dashboardFiles } from '../src/dashboards/files';
import { DASHBOARDS } from '../src/dashboards/model';
import { createOperatorMetrics } from '../src/observability/metrics';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { refId: string; expr: string; datasource: { uid: string } }[];
}

const built = buildDashboards();

it('are the files the chart ships (run `npm run generate -w @warren/operator`)', () => {
  for (const file of dashboardFiles()) {
    expect(fs.readFileSync(path.join(repoRoot, CHART_DASHBOARDS_DIR, file.name), 'utf8')).toBe(
      file.content,
    );
  }
  expect(fs.readdirSync(path.join(repoRoot, CHART_DASHBOARDS_DIR)).sort()).toEqual(
    dashboardFiles()
      .map((file) => file.name)
      .sort(),
  );
});

describe.each(built.map((dashboard) => [dashboard.uid!, dashboard] as const))(
  '%s',
  (_uid, dashboard) => {
    const panels = dashboard.panels as unknown as Panel[];
    const variables = new Set(dashboard.templating!.list!.map((variable) => variable.name));

    it('has the fields Grafana requires: uid (<= 40 chars), title, schemaVersion, time', () => {
      expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(dashboard.title).toMatch(/^Warren \//);
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(dashboard.time).toEqual({ from: 'now-1h', to: 'now' });
    });

    it('has unique panel ids and panels inside the 24-column grid, never overlapping', () => {
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const cells = new Set<string>();
      for (const panel of panels) {
        const { x, y, w, h } = panel.gridPos;
        expect(x + w).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i++)
          for (let j = y; j < y + h; j++) {
            expect(cells.has(`${i},${j}`)).toBe(false);
            cells.add(`${i},${j}`);
          }
      }
    });

    it('queries only through its datasource variable and uses only variables it defines', () => {
      expect(variables.has('datasource')).toBe(true);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(panel.targets!.length).toBeGreaterThan(0);
        expect(new Set(panel.targets!.map((t) => t.refId)).size).toBe(panel.targets!.length);
        for (const target of panel.targets!) {
          for (const [, name] of target.expr.matchAll(/\$\{?(\w+)/g))
            if (!name!.startsWith('__')) expect(variables).toContain(name);
        }
      }
    });
  },
);

it('the operator dashboard reads only metrics the operator exports', () => {
  const exported = new Set(
    createOperatorMetrics()
      .registry.getMetricsAsArray()
      .map((metric) => metric.name),
  );
  const spec = DASHBOARDS.find((d) => d.uid === 'warren-operator')!;
  for (const query of spec.rows.flatMap((row) => row.panels).flatMap((p) => p.queries)) {
    for (const name of query.expr.match(/warren_[a-z_]+/g) ?? [])
      expect(exported).toContain(name.replace(/_bucket$/, ''));
  }
});
