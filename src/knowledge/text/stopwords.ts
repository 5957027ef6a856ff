/**
 * Function words that carry no topic. Kept short on purpose: BM25's idf
 * already discounts frequent words; this list only removes words that would
 * otherwise dominate posting lists (and so query time) without helping rank.
 */
export const STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being ' +
    'below between both but by can could did do does doing down during each either few for from further ' +
    'had has have having he her here hers him his how i if in into is it its itself just me more most ' +
    'my no nor not now of off on once only or other our ours out over own same she should so some such ' +
    'than that the their theirs them then there these they this those through to too under until up ' +
    'upon us very was we were what when where which while who whom why will with within without would ' +
    'you your yours via may might must shall use used uses using'
  ).split(' '),
);
