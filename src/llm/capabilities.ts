/**
 * What a provider can do, declared by its definition: `chat` (a generation), `stream` (the same
 * answer in pieces), `json` (structured output), and room for `tools`, `vision` and `embed`.
 */
export const CAPABILITIES = ['chat', 'stream', 'json', 'tools', 'vision', 'embed'] as const;
export type Capability = (typeof CAPABILITIES)[number];
