/** Tokens one attempt used, as the provider reported them. */
export interface Usage {
  /** Every input token, those read from or written to the provider's prompt cache included. */
  inputTokens: number;
  outputTokens: number;
  /** Of `inputTokens`, read from the provider's prompt cache (priced at its cache-read price). */
  cacheReadTokens?: number;
  /** Of `inputTokens`, written to the provider's prompt cache (priced at its cache-write price). */
  cacheWriteTokens?: number;
  /** Of `outputTokens`, spent reasoning. */
  reasoningTokens?: number;
}
