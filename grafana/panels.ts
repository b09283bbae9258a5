// The panel factories every dashboard shares: a title, a description, a unit and the queries;
// layout and styling are decided here once.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { LogsSortOrder } from '@grafana/grafana-foundation-sdk/common';
import type { DashboardLink } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as LogsPanelBuilder } from '@grafana/grafana-foundation-sdk/logs';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export interface PanelSpec {
  title: string;
  description: string;
  /** A Grafana unit id: reqpm, percentunit, ms, s, short, none. */
  unit: string;
  targets: Builder<Dataquery>[];
  /** Grid columns of 24. */
  width?: number;
  /** Data links: may use the clicked value, e.g. ${__data.fields.product}. */
  links?: Builder<DashboardLink>[];
  /** Smallest time bucket ($__interval never goes below it): rates per minute need 1m. */
  interval?: string;
}

export type PanelKind = 'timeseries' | 'stat' | 'table' | 'logs';

export type AnyPanelBuilder = TimeSeriesPanelBuilder | StatPanelBuilder | TablePanelBuilder | LogsPanelBuilder;

/** Grafana's refIds: A, B, C... in the order the queries are listed, unless a query names its own. */
function withRefIds(targets: Builder<Dataquery>[]): Builder<Dataquery>[] {
  return targets.map((target, i) => ({ build: () => ({ refId: String.fromCharCode(65 + i), ...target.build() }) }));
}

export function panel(kind: PanelKind, spec: PanelSpec): AnyPanelBuilder {
  const common = <T extends AnyPanelBuilder>(builder: T): T => {
    builder.title(spec.title).description(spec.description).targets(withRefIds(spec.targets)).span(spec.width ?? 12).height(8);
    if (spec.interval) builder.interval(spec.interval);
    if (spec.links) builder.dataLinks(spec.links);
    return builder;
  };
  switch (kind) {
    case 'timeseries':
      return common(new TimeSeriesPanelBuilder().unit(spec.unit).fillOpacity(10));
    case 'stat':
      return common(new StatPanelBuilder().unit(spec.unit));
    case 'table':
      return common(new TablePanelBuilder().unit(spec.unit));
    case 'logs':
      return common(new LogsPanelBuilder().unit(spec.unit).showTime(true).wrapLogMessage(true).sortOrder(LogsSortOrder.Descending));
  }
}
