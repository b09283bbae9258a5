// The reference pipeline as a kit config: the fields of Target's Fastly API gateway, logged as
// error JSON and as the `cdnmetrics` measurement. `cdnkit init` writes this as the starter config.
import type { KitConfigInput } from './schema.js';

type FieldInput = KitConfigInput['fields'][number];

export const referenceFields: FieldInput[] = [
  { name: 'product', roles: ['log', 'tag'], kit: 'product', description: 'the kit-level product, a constant' },
  { name: 'environment', roles: ['tag'], kit: 'environment' },
  { name: 'x-api-id', roles: ['log'], fastly: 'req.http.X-API-ID', varnish: 'req.http.X-API-ID', description: 'parsed from the URL by your own VCL' },
  { name: 'api_name', roles: ['log', 'tag'], fastly: 'req.http.API-Name', varnish: 'req.http.API-Name' },
  { name: 'request_url', roles: ['log'], fastly: 'req.url', varnish: 'req.url', description: 'unbounded: logs only, never a tag' },
  { name: 'req_body_read', type: 'integer', roles: ['log'], fastly: 'req.bytes_read', varnish: { ncsa: '%{VSL:ReqAcct[2]}x' } },
  { name: 'resp_body_written', type: 'integer', roles: ['log'], fastly: 'resp.bytes_written', varnish: { ncsa: '%{VSL:ReqAcct[5]}x' } },
  { name: 'request_backend', roles: ['log', 'tag'], fastly: 'req.http.Request-Backend', varnish: 'req.http.Request-Backend', description: 'the backend the request was meant for' },
  { name: 'actual_backend', logKey: 'actual_backend_name', roles: ['log', 'tag'], fastly: 'req.http.Actual-Backend-Name', varnish: 'req.http.Actual-Backend-Name', description: 'the one it went to (directors may differ)' },
  { name: 'actual_backend_ip', type: 'ip', roles: ['log'], fastly: 'req.http.Actual-Backend-IP', varnish: 'req.http.Actual-Backend-IP' },
  { name: 'client_ip', type: 'ip', roles: ['log'], fastly: 'client.ip', varnish: 'client.ip' },
  { name: 'event_timestamp', type: 'timestamp', roles: ['log'], fastly: 'strftime({"%Y-%m-%dT%H:%M:%SZ"}, now)', varnish: { ncsa: '%{%Y-%m-%dT%H:%M:%S}t.%{msec_frac}tZ' }, description: 'ISO-8601, UTC' },
  { name: 'method', roles: ['log'], fastly: 'req.method', varnish: 'req.method' },
  { name: 'resp_status', type: 'integer', roles: ['log', 'tag'], fastly: 'resp.status', varnish: 'resp.status' },
  { name: 'resp_message', roles: ['log'], fastly: 'resp.response', varnish: 'resp.reason' },
  { name: 'cache_status', roles: ['log', 'tag'], fastly: 'resp.http.X-Cache', varnish: { ncsa: '%{Varnish:handling}x' } },
  { name: 'elapsed_time', type: 'integer', roles: ['log', 'field'], fastly: 'std.atoi(time.elapsed.msec)', varnish: { ncsa: '%{ms}T' }, description: 'milliseconds from request to the end of the response' },
  { name: 'time_to_first_byte', type: 'float', roles: ['field'], fastly: 'time.to_first_byte', varnish: { ncsa: '%{Varnish:time_firstbyte}x' }, description: 'seconds' },
  { name: 'info_state', logKey: 'fastly_info_state', roles: ['log', 'tag'], fastly: 'fastly_info.state', varnish: { ncsa: '%{Varnish:handling}x' } },
  { name: 'pop', logKey: 'fastly_pop', roles: ['log', 'tag'], fastly: 'server.datacenter', varnish: 'server.hostname' },
  { name: 'region', logKey: 'fastly_region', roles: ['log', 'tag'], fastly: 'server.region', varnish: 'req.http.X-Region' },
  { name: 'fastly_server', roles: ['log'], fastly: 'server.identity', varnish: 'server.identity' },
  { name: 'scheme_type', roles: ['log'], fastly: 'req.http.SchemeType', varnish: 'req.http.SchemeType' },
];

export const referenceConfig: KitConfigInput = {
  product: 'api',
  environment: 'prod',
  fields: referenceFields,
};
