// `cdnkit init`: the reference pipeline as a commented starter config.
import { dirname, join, relative, resolve, sep } from 'node:path';
import { stringify } from 'yaml';
import { registerHelper, render } from '../../generators/render.js';
import { packageRoot } from '../package-root.js';
import { referenceConfig } from './preset.js';
import { kitConfigSchema } from './schema.js';

registerHelper('scalar', (value: unknown) => stringify(value).trimEnd());
registerHelper('flow', (value: unknown) => stringify(value, { collectionStyle: 'flow' }).trimEnd());

/** The starter config for a file at `outputFile`; its schema link is relative to it, for editors. */
export function starterConfig(outputFile = 'cdnkit.yaml'): string {
  const schemaUrl = relative(dirname(resolve(outputFile)), join(packageRoot(), 'schema', 'cdnkit.schema.json')).split(sep).join('/');
  // Render from the parsed preset so every default is written out explicitly.
  const config = kitConfigSchema.parse(referenceConfig);
  const fields = config.fields.map((f) => ({ logKey: undefined, kit: undefined, fastly: undefined, varnish: undefined, description: undefined, ...f }));
  const bridgeList = Object.entries(config.bridges).map(([name, settings]) => ({ name, settings }));
  return render('config/cdnkit.yaml.hbs', { ...config, fields, bridgeList, schemaUrl });
}
