import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';

const UsdPerMTok = Type.Number({ minimum: 0, maximum: 1_000_000, description: 'USD per million tokens' });
const Price = Type.Object({
  input: UsdPerMTok, output: UsdPerMTok,
  /** Input tokens read from the provider's prompt cache; default: `input`. */
  cacheRead: Type.Optional(UsdPerMTok),
  /** Input tokens written to it; default: `input`. */
  cacheWrite: Type.Optional(UsdPerMTok),
}, { additionalProperties: false });
// Non-empty names: an empty one would be a prefix of every model and price them all.
const Models = Type.Record(Type.String({ pattern: '^.{1,200}$' }), Price, { additionalProperties: false });

/**
 * The shape of `PRICING_JSON`: `{"provider":{"model":{"input":USD/MTok,"output":USD/MTok}}}`,
 * prices finite and not negative. That its providers exist is the provider registry's to check, at boot.
 */
export const PricingJsonSchema = Type.Record(Type.String(), Models);

export type PricingJson = Static<typeof PricingJsonSchema>;

/**
 * Parses and checks the shape of `PRICING_JSON`. Returns the overrides, or a one-line problem
 * naming the variable and the place in the document (never the whole value).
 */
export function parsePricingJson(text: string): { value: PricingJson } | { problem: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { problem: `PRICING_JSON is not valid JSON (${(err as Error).message})` };
  }
  const e = Value.Errors(PricingJsonSchema, doc).find((x) => x.message !== 'schema is false');
  if (!e) return { value: doc as PricingJson };
  const extra = (e.params as { additionalProperties?: string[] }).additionalProperties;
  const where = e.instancePath || '(root)';
  if (extra && where.split('/').length === 2) return { problem: `PRICING_JSON ${where}: model names must be 1 to 200 characters` };
  if (extra) return { problem: `PRICING_JSON ${where} has unknown field ${JSON.stringify(extra[0])} (a price is {"input","output","cacheRead"?,"cacheWrite"?})` };
  return { problem: `PRICING_JSON ${where} ${e.message}; expected {"provider":{"model":{"input":USD/MTok,"output":USD/MTok}}}` };
}
