// Options several `cdnkit` commands share, declared once so that they read and fail alike.
import { InvalidArgumentError, Option } from 'commander';

/** `-c, --config <file>`, the kit config, cdnkit.yaml unless given. */
export const configOption = (description = 'the kit config') => new Option('-c, --config <file>', description).default('cdnkit.yaml');

/** A parser for a whole-number option value of at least `min`. */
export const wholeNumber = (min: number) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new InvalidArgumentError(`a whole number, at least ${min}`);
  return Number(value);
};
