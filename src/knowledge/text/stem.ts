/**
 * A conservative English stemmer: the inflectional steps of Porter's
 * algorithm (1a plurals, 1b -ed/-ing, 1c y→i, 5 final e and ll), without the
 * derivational steps (-ation, -ize, -ful, …) that merge words security text
 * keeps apart ("execution" and "executive", "policy" and "political").
 * Written from the published description of the algorithm.
 *
 * @example stem('dumping') // 'dump'; stem('credentials') // 'credential'
 */

function isConsonant(w: string, i: number): boolean {
  const c = w.charCodeAt(i);
  // a e i o u
  if (c === 97 || c === 101 || c === 105 || c === 111 || c === 117) return false;
  if (c === 121) return i === 0 ? true : !isConsonant(w, i - 1); // y after a consonant is a vowel
  return true;
}

/** Porter's m: the number of vowel–consonant sequences in `w`. */
function measure(w: string): number {
  let m = 0;
  let i = 0;
  const n = w.length;
  while (i < n && isConsonant(w, i)) i++;
  while (i < n) {
    while (i < n && !isConsonant(w, i)) i++;
    if (i >= n) break;
    while (i < n && isConsonant(w, i)) i++;
    m++;
  }
  return m;
}

function hasVowel(w: string): boolean {
  for (let i = 0; i < w.length; i++) if (!isConsonant(w, i)) return true;
  return false;
}

function endsDoubleConsonant(w: string): boolean {
  const n = w.length;
  return n >= 2 && w[n - 1] === w[n - 2] && isConsonant(w, n - 1);
}

/** consonant–vowel–consonant at the end, the last not w, x or y (hop, not hoe). */
function endsCvc(w: string): boolean {
  const n = w.length;
  if (n < 3) return false;
  if (!isConsonant(w, n - 1) || isConsonant(w, n - 2) || !isConsonant(w, n - 3)) return false;
  const last = w[n - 1];
  return last !== 'w' && last !== 'x' && last !== 'y';
}

/** Words the plural rule would damage. */
const KEEP = new Set(['alias', 'atlas', 'canvas', 'bias', 'whereas', 'gas', 'its', 'this', 'thus', 'us']);

/**
 * Stem one lower-case word. Words of three letters or fewer, and words with
 * digits, are returned unchanged (acronyms: aws, dns, ssh, ec2, s3).
 *
 * @example stem('scheduled') === stem('schedule') // true
 */
export function stem(word: string): string {
  if (word.length <= 3 || /[^a-z]/.test(word) || KEEP.has(word)) return word;
  let w = word;
  // Step 1a: plurals.
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !/(?:ss|us|is|os)$/.test(w)) w = w.slice(0, -1);
  // Step 1b: -eed, -ed, -ing.
  let restore = false;
  if (w.endsWith('eed')) {
    if (measure(w.slice(0, -3)) > 0) w = w.slice(0, -1);
  } else if (w.endsWith('ed') && hasVowel(w.slice(0, -2))) {
    w = w.slice(0, -2);
    restore = true;
  } else if (w.endsWith('ing') && hasVowel(w.slice(0, -3)) && w.length >= 5) {
    w = w.slice(0, -3);
    restore = true;
  }
  if (restore) {
    if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) w += 'e';
    else if (endsDoubleConsonant(w) && !/[lsz]$/.test(w)) w = w.slice(0, -1);
    else if (measure(w) === 1 && endsCvc(w)) w += 'e';
  }
  // Step 1c: y → i after a vowel-bearing stem (policy, policies → polici).
  if (w.endsWith('y') && w.length > 2 && hasVowel(w.slice(0, -1))) w = `${w.slice(0, -1)}i`;
  // Step 5a: a final e goes when the stem is long enough (create, created → creat).
  if (w.endsWith('e')) {
    const s = w.slice(0, -1);
    const m = measure(s);
    if (m > 1 || (m === 1 && !endsCvc(s))) w = s;
  }
  // Step 5b: -ll → -l on long stems (controll → control).
  if (measure(w) > 1 && w.endsWith('ll')) w = w.slice(0, -1);
  return w;
}
