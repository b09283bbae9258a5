// `cdnkit init`: the reference pipeline as a commented starter config.
import { stringify } from 'yaml';
import { registerHelper, render } from '../../generators/render.js';
import { referenceConfig } from './preset.js';
import { kitConfigSchema } from './schema.js';

export const SCHEMA_URL = 'https://raw.githubusercontent.com/cdnkit/cdnkit/main/schema/cdnkit.schema.json';

registerHelper('scalar', (value: unknown) => stringify(value).trimEnd());
registerHelper('flow', (value: unknown) => stringify(value, { collectionStyle: 'flow' }).trimEnd());

export function starterConfig(): string {
  // Render from the parsed preset so every default is written out explicitly.
  const config = kitConfigSchema.parse(referenceConfig);
  const fields = config.fields.map((f) => ({ logKey: undefined, kit: undefined, fastly: undefined, varnish: undefined, description: undefined, ...f }));
  return render('config/cdnkit.yaml.hbs', { ...config, fields, schemaUrl: SCHEMA_URL });
}
