// The composable index template for error logs: one mapping per declared log field, so
// Elasticsearch types follow the kit config instead of being guessed from the first document.
import type { FieldType, KitConfig } from '../src/config/schema.js';
import { fieldViews, logKeyOf } from '../src/config/model.js';
import type { Artifact } from './artifact.js';

/** Keyword values longer than this stay in _source but are not indexed (a term is capped at 32 KiB). */
const KEYWORD_IGNORE_ABOVE = 8191;

const MAPPINGS: Record<FieldType, object> = {
  string: { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE },
  integer: { type: 'long' },
  float: { type: 'double' },
  boolean: { type: 'boolean' },
  timestamp: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
  ip: { type: 'ip' },
};

export function indexTemplateName(config: KitConfig): string {
  return config.sinks.elasticsearch.indexPrefix;
}

export function indexTemplate(config: KitConfig): object {
  const properties: Record<string, object> = { '@timestamp': { type: 'date' } };
  for (const field of fieldViews(config).log) properties[logKeyOf(field)] = MAPPINGS[field.type];
  return {
    index_patterns: [`${config.sinks.elasticsearch.indexPrefix}-*`],
    priority: 200,
    template: {
      settings: { 'index.refresh_interval': '1s' },
      mappings: {
        // Keys nobody declared (a receiver's envelope, a typo) are kept in _source, not mapped:
        // no mapping explosion, no surprise types.
        dynamic: false,
        properties,
      },
    },
    _meta: { generated_by: 'cdnkit', product: config.product },
  };
}

export function generateElasticsearch(config: KitConfig): Artifact[] {
  return [
    {
      path: 'elasticsearch/index-template.json',
      content: `${JSON.stringify(indexTemplate(config), null, 2)}\n`,
      description: `composable index template; PUT _index_template/${indexTemplateName(config)}`,
    },
  ];
}
