/** Least estimated entropy of PROMPTLAB_ADMIN_KEY, in bits. @defaultValue 128 */
export const MIN_ADMIN_KEY_BITS = 128;

/** How to make a key that passes, for the message that refuses one. */
export const HOW_TO_MAKE_A_KEY = "generate one with `openssl rand -base64 32` or `node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"`";

const CLASSES: [RegExp, number][] = [[/[a-z]/, 26], [/[A-Z]/, 26], [/[0-9]/, 10], [/[^a-zA-Z0-9]/, 33]];

/**
 * A rough estimate of a secret's entropy in bits, meant to refuse keys people type rather than
 * generate: the string is read left to right, a repeat of 3+ characters seen before (`password`
 * × 4) or a run of 3+ equal or consecutive characters (`aaaa`, `0123`, `fedc`) counting as one
 * token, each token worth log2 of the alphabet its character classes span (lower, upper, digits,
 * other). Random base64 of 32 bytes scores about 280; 32 random hex characters about 160.
 */
export function estimateBits(secret: string): number {
  const s = secret.slice(0, 256);
  const alphabet = CLASSES.reduce((n, [re, size]) => (re.test(s) ? n + size : n), 0);
  let tokens = 0;
  for (let i = 0; i < s.length; tokens++) {
    let repeat = 0;
    for (let j = 0; j < i; j++) {
      let k = 0;
      while (i + k < s.length && s[j + k] === s[i + k]) k++;
      repeat = Math.max(repeat, k);
    }
    let run = 1;
    const step = s.charCodeAt(i + 1) - s.charCodeAt(i);
    if (Math.abs(step) <= 1) while (i + run < s.length && s.charCodeAt(i + run) - s.charCodeAt(i + run - 1) === step) run++;
    i += Math.max(repeat >= 3 ? repeat : 1, run >= 3 ? run : 1);
  }
  return Math.floor(tokens * Math.log2(Math.max(alphabet, 2)));
}
