/** A bad environment value: the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
