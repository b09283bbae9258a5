// The three datasources every dashboard and rule refers to, each by a fixed uid: Grafana stops
// reconciling provisioned datasources whose uid changed, and dashboards provisioned from files
// cannot use `__inputs` / `${DS_...}`, so the uids are the contract between the files.
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import type { KitConfig } from '../src/config/schema.js';

export const DATASOURCE_UIDS = {
  influxdb: 'cdnkit-influxdb',
  elasticsearch: 'cdnkit-elasticsearch',
  prometheus: 'cdnkit-prometheus',
} as const;

export const influxRef: DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UIDS.influxdb };
export const elasticsearchRef: DataSourceRef = { type: 'elasticsearch', uid: DATASOURCE_UIDS.elasticsearch };
export const prometheusRef: DataSourceRef = { type: 'prometheus', uid: DATASOURCE_UIDS.prometheus };
/** Grafana's server-side expressions (math, reduce, threshold). */
export const expressionRef: DataSourceRef = { type: '__expr__', uid: '__expr__' };

/** The field the Elasticsearch sink writes every document's event time to. */
export const ES_TIME_FIELD = '@timestamp';

/** A value Grafana takes from the environment when it reads the provisioning file. */
export interface EnvReference {
  env: string;
}

/** A value with environment references in it: Token ${CDNKIT_INFLUX_TOKEN} is ['Token ', { env }]. */
export type Interpolated = string | EnvReference | (string | EnvReference)[];

export const isEnvReference = (value: unknown): value is EnvReference =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as EnvReference).env === 'string';

/** One entry of a datasource provisioning file, as Grafana documents it. */
export interface ProvisionedDatasource {
  name: string;
  uid: string;
  type: 'influxdb' | 'elasticsearch' | 'prometheus';
  access: 'proxy';
  url: string;
  isDefault: boolean;
  editable: boolean;
  basicAuth?: boolean;
  basicAuthUser?: string | EnvReference;
  jsonData: Record<string, string | number | boolean>;
  secureJsonData?: Record<string, Interpolated>;
}

export function datasources(config: KitConfig): ProvisionedDatasource[] {
  const { influxdb, elasticsearch } = config.sinks;
  const es: ProvisionedDatasource = {
    name: 'cdnkit Elasticsearch',
    uid: DATASOURCE_UIDS.elasticsearch,
    type: 'elasticsearch',
    access: 'proxy',
    url: elasticsearch.url,
    isDefault: false,
    editable: true,
    jsonData: { index: `${elasticsearch.indexPrefix}-*`, timeField: ES_TIME_FIELD, maxConcurrentShardRequests: 5 },
  };
  if (elasticsearch.usernameEnv && elasticsearch.passwordEnv) {
    es.basicAuth = true;
    es.basicAuthUser = { env: elasticsearch.usernameEnv };
    es.secureJsonData = { basicAuthPassword: { env: elasticsearch.passwordEnv } };
  }
  return [
    {
      // InfluxQL, so the same dashboards work on InfluxDB 1.x, 2.x (through the bucket's DBRP
      // mapping: database = bucket, retention policy autogen) and 3.x.
      name: 'cdnkit InfluxDB',
      uid: DATASOURCE_UIDS.influxdb,
      type: 'influxdb',
      access: 'proxy',
      url: influxdb.url,
      isDefault: true,
      editable: true,
      jsonData: { version: 'InfluxQL', dbName: influxdb.bucket, httpMode: 'POST', httpHeaderName1: 'Authorization' },
      secureJsonData: { httpHeaderValue1: ['Token ', { env: influxdb.tokenEnv }] },
    },
    es,
    {
      name: 'cdnkit Prometheus',
      uid: DATASOURCE_UIDS.prometheus,
      type: 'prometheus',
      access: 'proxy',
      url: config.grafana.prometheusUrl,
      isDefault: false,
      editable: true,
      jsonData: { httpMethod: 'POST', timeInterval: '15s' },
    },
  ];
}
