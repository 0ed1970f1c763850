import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as english from '@zxcvbn-ts/language-en';

/**
 * How much of a password the estimator reads, in code points. zxcvbn's matching grows faster than linearly
 * with length (measured on this code: a 100-character digit run took ~600 ms with the library's defaults), so
 * a sign-up form must not hand it whatever a client sends. 64 characters of real randomness are far past the
 * strongest score; a password whose first 64 characters are guessable is judged guessable.
 */
export const STRENGTH_INPUT_LIMIT = 64;

/**
 * l33t substitutions tried per password (the library's default is 100). The l33t matcher dominates the cost
 * (~400 ms for 64 random characters at 100, ~35 ms at 5); five still see "P@$$w0rd" as "password".
 */
const L33T_MAX_SUBSTITUTIONS = 5;

/** zxcvbn's 0–4 score and its advice, in English, safe to show (it never quotes the password). */
export interface StrengthEstimate {
  score: 0 | 1 | 2 | 3 | 4;
  warning: string | null;
  suggestions: string[];
}

// Built on first use, once per process: ranking the bundled dictionaries costs ~120 ms.
let estimator: ZxcvbnFactory | undefined;

function getEstimator(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
    maxLength: STRENGTH_INPUT_LIMIT,
    l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
  });
  return estimator;
}

/**
 * Estimates how guessable `password` is: dictionaries of common passwords, names and English words, keyboard
 * walks ("1qaz2wsx", "zxcvbnm,./"), repeats, sequences, dates and l33t spellings — and `userInputs` (the
 * user's e-mail, name, organisation), which count as words an attacker tries first. Only the first
 * `STRENGTH_INPUT_LIMIT` code points are read. Synchronous: it holds the event loop for a few tens of
 * milliseconds at most, so callers run it only once cheaper rules have passed.
 */
export function estimateStrength(password: string, userInputs: readonly string[]): StrengthEstimate {
  const head = Array.from(password).slice(0, STRENGTH_INPUT_LIMIT).join('');
  const inputs = userInputs.map((input) => Array.from(input).slice(0, STRENGTH_INPUT_LIMIT).join(''));
  const result = getEstimator().check(head, inputs);
  return {
    score: result.score,
    warning: result.feedback.warning,
    suggestions: result.feedback.suggestions,
  };
}
