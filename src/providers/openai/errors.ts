import OpenAI from 'openai';
import { sdkErrorMapping } from '../errors.js';

/** The OpenAI SDK's errors in the retry table's terms (`errors.ts`). */
export const openaiErrors = sdkErrorMapping(OpenAI);
