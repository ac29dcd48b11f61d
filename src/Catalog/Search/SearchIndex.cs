using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// An immutable in-memory inverted index over listings: BM25F over name (with slug), tags, provider and
/// description; typo tolerance by trigram candidate generation and edit distance over the term dictionary;
/// prefix completion; filters, sorts, facet counts and paging. Built once per catalog change and swapped
/// atomically; queries share it without locks.
/// </summary>
internal sealed class SearchIndex
{
    private const int FieldCount = 4;
    private const int NameField = 0;
    private const int TagsField = 1;
    private const int ProviderField = 2;
    private const int DescriptionField = 3;
    private static readonly float[] FieldWeights = [4f, 2.5f, 2f, 1f];
    private const float K1 = 1.2f;
    private const float B = 0.75f;

    private readonly SearchDocument[] _docs;
    private readonly FrozenDictionary<string, int> _termIds;
    private readonly Posting[][] _postings;
    private readonly float[] _idf;
    private readonly FrozenDictionary<string, int> _rawToTerm;
    private readonly string[] _rawSorted;
    private readonly FrozenDictionary<int, int[]> _trigrams;
    private readonly ushort[] _lengths;
    private readonly float[] _norms;
    private readonly float[] _avgLength = new float[FieldCount];
    private readonly Dictionary<string, Facet> _facets;
    private readonly double[] _price;
    private readonly double[] _inputPrice;
    private readonly int[] _context;
    private readonly double[] _rating;
    private readonly double[] _popularity;
    private readonly long[] _created;
    private readonly string[] _plainNames;
    private readonly FrozenDictionary<string, int> _byId;
    private readonly ConcurrentBag<Scratch> _scratch = [];

    /// <summary>Per-query accumulators, reused; entries a query touched are zeroed before it is returned.</summary>
    private sealed class Scratch(int n, int terms)
    {
        public readonly double[] Scores = new double[Math.Max(n, 1)];
        public readonly int[] Masks = new int[Math.Max(n, 1)];
        public readonly int[] TermHits = new int[Math.Max(terms, 1)];
    }

    public static readonly IReadOnlyList<string> FacetNames = ["category", "kind", "provider", "modality", "tags", "certification", "region"];

    private readonly float[]?[] _vectors;

    private SearchIndex(SearchDocument[] docs, float[]?[]? vectors)
    {
        _docs = docs;
        _vectors = vectors ?? new float[]?[docs.Length];
        var n = docs.Length;
        _lengths = new ushort[n * FieldCount];
        _price = new double[n];
        _inputPrice = new double[n];
        _context = new int[n];
        _rating = new double[n];
        _popularity = new double[n];
        _created = new long[n];
        _plainNames = new string[n];
        var postings = new Dictionary<string, List<Posting>>(StringComparer.Ordinal);
        var raw = new Dictionary<string, string>(StringComparer.Ordinal);
        var counts = new Dictionary<string, Counts>(StringComparer.Ordinal);
        var totals = new double[FieldCount];
        var byId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        var fieldTokens = new List<string>[FieldCount];
        for (var d = 0; d < n; d++)
        {
            var doc = docs[d];
            byId.TryAdd(doc.Id, d);
            fieldTokens[NameField] = TextAnalyzer.RawTokens(doc.Name + " " + doc.Slug);
            fieldTokens[TagsField] = TextAnalyzer.RawTokens(string.Join(' ', doc.Tags) + " " + doc.Category);
            fieldTokens[ProviderField] = TextAnalyzer.RawTokens(doc.Publisher + " " + string.Join(' ', doc.Providers));
            fieldTokens[DescriptionField] = TextAnalyzer.RawTokens(doc.Description);
            counts.Clear();
            for (var f = 0; f < FieldCount; f++)
            {
                var tokens = fieldTokens[f];
                _lengths[d * FieldCount + f] = (ushort)Math.Min(tokens.Count, ushort.MaxValue);
                totals[f] += tokens.Count;
                foreach (var token in tokens)
                {
                    if (!raw.TryGetValue(token, out var stem))
                    {
                        stem = TextAnalyzer.Stem(token);
                        raw[token] = stem;
                    }
                    counts.TryGetValue(stem, out var c);
                    c.Increment(f);
                    counts[stem] = c;
                }
            }
            foreach (var (stem, c) in counts)
            {
                if (!postings.TryGetValue(stem, out var list)) postings[stem] = list = [];
                list.Add(new Posting(d, c));
            }
            var price = (double?)(doc.InputPrice + doc.OutputPrice);
            _price[d] = price ?? double.NaN;
            _inputPrice[d] = doc.InputPrice is { } ip ? (double)ip : double.NaN;
            _context[d] = doc.ContextLength ?? 0;
            _rating[d] = doc.Rating;
            _popularity[d] = doc.Popularity;
            _created[d] = doc.Created;
            _plainNames[d] = PlainName(doc.Name);
        }
        for (var f = 0; f < FieldCount; f++) _avgLength[f] = n == 0 ? 1 : (float)Math.Max(1, totals[f] / n);
        _norms = new float[n * FieldCount];
        for (var i = 0; i < _norms.Length; i++)
        {
            _norms[i] = K1 * (1 - B + (B * _lengths[i] / _avgLength[i % FieldCount]));
        }

        var termIds = new Dictionary<string, int>(postings.Count, StringComparer.Ordinal);
        _postings = new Posting[postings.Count][];
        _idf = new float[postings.Count];
        var id = 0;
        foreach (var (stem, list) in postings)
        {
            termIds[stem] = id;
            _postings[id] = list.ToArray();
            _idf[id] = (float)Math.Log(1 + ((n - list.Count + 0.5) / (list.Count + 0.5)));
            id++;
        }
        _termIds = termIds.ToFrozenDictionary(StringComparer.Ordinal);
        _rawToTerm = raw.ToFrozenDictionary(static kv => kv.Key, kv => termIds[kv.Value], StringComparer.Ordinal);
        _rawSorted = raw.Keys.Order(StringComparer.Ordinal).ToArray();
        var trigrams = new Dictionary<int, List<int>>();
        for (var i = 0; i < _rawSorted.Length; i++)
        {
            var term = _rawSorted[i];
            // Typos are forgiven in words, not in numbers: "3.5" must not match "3.6", nor "4o" match "40".
            if (term.Length < 4 || term.Any(char.IsDigit)) continue;
            foreach (var g in Trigrams(term))
            {
                if (!trigrams.TryGetValue(g, out var list)) trigrams[g] = list = [];
                if (list.Count == 0 || list[^1] != i) list.Add(i);
            }
        }
        _trigrams = trigrams.ToFrozenDictionary(static kv => kv.Key, static kv => kv.Value.ToArray());
        _byId = byId.ToFrozenDictionary(StringComparer.Ordinal);

        _facets = new Dictionary<string, Facet>(StringComparer.Ordinal)
        {
            ["category"] = Facet.Build(docs, static d => [d.Category]),
            ["kind"] = Facet.Build(docs, static d => [d.Kind]),
            ["provider"] = Facet.Build(docs, static d => [d.Publisher, .. d.Providers]),
            ["modality"] = Facet.Build(docs, static d => [.. d.InputModalities, .. d.OutputModalities]),
            ["tags"] = Facet.Build(docs, static d => d.Tags),
            ["certification"] = Facet.Build(docs, static d => d.Certifications),
            ["region"] = Facet.Build(docs, static d => d.Regions),
        };
    }

    public static SearchIndex Build(IEnumerable<SearchDocument> documents) => new(documents.ToArray(), null);

    /// <summary>An index whose documents may carry unit-length embedding vectors (computed when their version was published) for hybrid ranking.</summary>
    public static SearchIndex Build(IReadOnlyList<SearchDocument> documents, IReadOnlyList<float[]?> vectors) => new([.. documents], [.. vectors]);

    public bool HasVectors => _vectors.Any(static v => v is not null);

    /// <summary>A listing the words did not find is a match by meaning only from this cosine similarity on.</summary>
    public const double MinSimilarity = 0.15;

    /// <summary>... and only within this distance of the closest listing: when some listings are close, the far ones are noise.</summary>
    public const double SimilarityBand = 0.2;

    /// <summary>
    /// Hybrid ranking: the text ranking and the vector-similarity ranking (cosine against the query's embedding, among
    /// documents passing the filters) fused by reciprocal rank fusion, score = Σ 1/(k + rank), k = 60. A document only
    /// the vectors found joins the results when its similarity reaches <see cref="MinSimilarity"/> and lies within
    /// <see cref="SimilarityBand"/> of the best one; otherwise every query would list the whole catalog.
    /// </summary>
    public SearchResult SearchHybrid(SearchQuery query, float[] queryVector, int window = 200)
    {
        const double K = 60;
        var text = Search(query with { Offset = 0, Limit = window });
        var filter = CompileFilter(query);
        var byVector = new List<(int Doc, double Similarity)>();
        for (var d = 0; d < _docs.Length; d++)
        {
            var v = _vectors[d];
            if (v is null || v.Length != queryVector.Length || (filter is not null && !filter(d)) || _docs[d].Id == query.ExcludeId) continue;
            var sim = 0.0;
            for (var i = 0; i < v.Length; i++) sim += v[i] * queryVector[i];
            byVector.Add((d, sim));
        }
        byVector.Sort(static (a, b) => b.Similarity.CompareTo(a.Similarity));
        var fused = new Dictionary<string, (SearchDocument Doc, double Score)>(StringComparer.Ordinal);
        for (var r = 0; r < text.Hits.Count; r++)
        {
            var doc = text.Hits[r].Document;
            fused[doc.Id] = (doc, 1 / (K + r + 1));
        }
        var floor = byVector.Count == 0 ? MinSimilarity : Math.Max(MinSimilarity, byVector[0].Similarity - SimilarityBand);
        var byMeaningOnly = 0;
        for (var r = 0; r < Math.Min(window, byVector.Count); r++)
        {
            var doc = _docs[byVector[r].Doc];
            if (fused.TryGetValue(doc.Id, out var f))
            {
                fused[doc.Id] = (doc, f.Score + (1 / (K + r + 1)));
            }
            else if (byVector[r].Similarity >= floor)
            {
                fused[doc.Id] = (doc, 1 / (K + r + 1));
                byMeaningOnly++;
            }
        }
        var hits = fused.Values.OrderByDescending(static f => f.Score).ThenBy(static f => f.Doc.Id, StringComparer.Ordinal)
            .Skip(Math.Max(0, query.Offset)).Take(query.Limit).Select(static f => new SearchHit(f.Doc, Math.Round(f.Score, 6))).ToList();
        return new SearchResult(hits, text.Total + byMeaningOnly, text.Facets);
    }

    public int Count => _docs.Length;

    public int TermCount => _postings.Length;

    public SearchDocument? Find(string id) => _byId.TryGetValue(id, out var d) ? _docs[d] : null;

    public SearchResult Search(SearchQuery query)
    {
        var n = _docs.Length;
        var filter = CompileFilter(query);
        var matched = new List<int>();
        double[]? scores = null;
        if (!string.IsNullOrWhiteSpace(query.Text))
        {
            var scratch = _scratch.TryTake(out var s0) ? s0 : new Scratch(n, _rawSorted.Length);
            scores = scratch.Scores;
            var masks = scratch.Masks;
            var touched = new List<int>();
            try
            {
                var queryTerms = Expand(query.Text, query.PrefixLast, scratch.TermHits);
                var active = 0;
                for (var qi = 0; qi < queryTerms.Count && qi < 30; qi++)
                {
                    var expansions = queryTerms[qi];
                    if (expansions.Count == 0) continue;
                    active++;
                    var bit = 1 << qi;
                    foreach (var (termId, weight) in expansions)
                    {
                        var idf = _idf[termId] * weight;
                        foreach (var p in _postings[termId])
                        {
                            var d = p.Doc;
                            if (masks[d] == 0 && scores[d] == 0)
                            {
                                touched.Add(d);
                            }
                            var s = 0f;
                            var baseIndex = d * FieldCount;
                            var packed = p.Counts.Packed;
                            for (var f = 0; packed != 0; f++, packed >>= 8)
                            {
                                var tf = (float)(packed & 0xFF);
                                if (tf == 0) continue;
                                s += FieldWeights[f] * (tf * (K1 + 1) / (tf + _norms[baseIndex + f]));
                            }
                            scores[d] += idf * s;
                            masks[d] |= bit;
                        }
                    }
                }
                foreach (var d in touched)
                {
                    if (filter is not null && !filter(d)) continue;
                    var coverage = active == 0 ? 0 : (double)int.PopCount(masks[d]) / active;
                    scores[d] *= coverage * coverage;
                    if (_docs[d].Id == query.ExcludeId) continue;
                    matched.Add(d);
                }
                var result = Rank(query, matched, scores, queryTerms);
                return result;
            }
            finally
            {
                foreach (var d in touched)
                {
                    scores[d] = 0;
                    masks[d] = 0;
                }
                _scratch.Add(scratch);
            }
        }
        for (var d = 0; d < n; d++)
        {
            if ((filter is null || filter(d)) && _docs[d].Id != query.ExcludeId) matched.Add(d);
        }
        return Rank(query, matched, null, null);
    }

    private SearchResult Rank(SearchQuery query, List<int> matched, double[]? scores, List<List<(int Term, float Weight)>>? queryTerms)
    {
        var facets = query.Facets ? CountFacets(matched) : new Dictionary<string, IReadOnlyDictionary<string, int>>();
        var k = Math.Max(0, query.Offset) + Math.Max(0, query.Limit);
        if (k == 0 || matched.Count == 0) return new SearchResult([], matched.Count, facets);
        var sort = scores is null && query.Sort == SearchSort.Relevance ? SearchSort.Popularity : query.Sort;
        Func<int, double> key = sort switch
        {
            SearchSort.Relevance => d => scores![d],
            SearchSort.Price => d => double.IsNaN(_price[d]) ? double.NegativeInfinity : -_price[d],
            SearchSort.PriceDesc => d => double.IsNaN(_price[d]) ? double.NegativeInfinity : _price[d],
            SearchSort.Popularity => d => _popularity[d],
            SearchSort.Newest => d => _created[d],
            SearchSort.Rating => d => _rating[d],
            _ => d => 0,
        };
        // Relevance: take a wider window by BM25, then apply exact-name boosts, then cut.
        var window = sort == SearchSort.Relevance ? Math.Max(k * 3, 60) : k;
        var top = TopK(matched, window, key);
        var hits = new List<(int Doc, double Score)>(top.Count);
        var phrase = scores is null ? null : NormalizePhrase(query.Text!);
        foreach (var d in top)
        {
            var score = scores?[d] ?? 0;
            if (sort == SearchSort.Relevance && phrase is not null) score *= Boost(d, phrase);
            hits.Add((d, score));
        }
        if (sort == SearchSort.Relevance)
        {
            hits.Sort((a, b) => b.Score != a.Score ? b.Score.CompareTo(a.Score) : _popularity[b.Doc].CompareTo(_popularity[a.Doc]) is var p && p != 0 ? p : a.Doc.CompareTo(b.Doc));
        }
        var page = hits.Skip(Math.Max(0, query.Offset)).Take(query.Limit).Select(h => new SearchHit(_docs[h.Doc], Math.Round(h.Score, 4))).ToList();
        return new SearchResult(page, matched.Count, facets);
    }

    private double Boost(int d, string phrase)
    {
        var doc = _docs[d];
        var name = _plainNames[d];
        var slugTail = doc.Slug[(doc.Slug.LastIndexOf('/') + 1)..].Replace('-', ' ');
        if (name == phrase || slugTail == phrase || doc.Slug.Equals(phrase, StringComparison.OrdinalIgnoreCase)) return 3;
        if (name.StartsWith(phrase, StringComparison.Ordinal) || slugTail.StartsWith(phrase, StringComparison.Ordinal)) return 1.8;
        if (name.Contains(phrase, StringComparison.Ordinal)) return 1.4;
        return 1;
    }

    private static string NormalizePhrase(string text) => string.Join(' ', TextAnalyzer.RawTokens(text, keepStopWords: true).Where(static t => !t.Contains('.', StringComparison.Ordinal) || t.Any(char.IsDigit)).Distinct());

    /// <summary>The display name without its "Publisher: " prefix or "(free)" suffix, lower-cased and word-joined.</summary>
    private static string PlainName(string name)
    {
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        var plain = colon >= 0 ? name[(colon + 1)..] : name;
        return string.Join(' ', TextAnalyzer.RawTokens(plain, keepStopWords: true).Distinct());
    }

    private static List<int> TopK(List<int> docs, int k, Func<int, double> key)
    {
        if (docs.Count <= k)
        {
            var all = docs.ToList();
            all.Sort((a, b) => key(b).CompareTo(key(a)) is var c && c != 0 ? c : a.CompareTo(b));
            return all;
        }
        var heap = new PriorityQueue<int, (double Key, int Doc)>(k + 1, WorstFirst.Instance);
        foreach (var d in docs)
        {
            var v = key(d);
            if (heap.Count < k) heap.Enqueue(d, (v, d));
            else if (heap.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare((v, d), worst) > 0)
            {
                heap.DequeueEnqueue(d, (v, d));
            }
        }
        var result = new List<int>(heap.Count);
        while (heap.TryDequeue(out var d, out _)) result.Add(d);
        result.Reverse();
        return result;
    }

    /// <summary>Orders (key, doc) so that the worst candidate (lowest key, then highest doc) comes first.</summary>
    private sealed class WorstFirst : IComparer<(double Key, int Doc)>
    {
        public static readonly WorstFirst Instance = new();

        public int Compare((double Key, int Doc) x, (double Key, int Doc) y) =>
            x.Key != y.Key ? x.Key.CompareTo(y.Key) : y.Doc.CompareTo(x.Doc);
    }

    /// <summary>For each query word, the index terms it reaches with a weight: exact, stem, fuzzy (edit distance) or prefix.</summary>
    private List<List<(int Term, float Weight)>> Expand(string text, bool prefixLast, int[] termHits)
    {
        var words = TextAnalyzer.RawTokens(text);
        // Sub-pieces are added by RawTokens after the whole token; keep whole tokens as query words and let pieces help only when the whole is unknown.
        var result = new List<List<(int, float)>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < words.Count; i++)
        {
            var word = words[i];
            if (!seen.Add(word)) continue;
            var expansions = new Dictionary<int, float>();
            if (_rawToTerm.TryGetValue(word, out var exact) || _termIds.TryGetValue(TextAnalyzer.Stem(word), out exact))
            {
                expansions[exact] = 1f;
            }
            else
            {
                var edits = word.Any(char.IsDigit) ? 0 : TextAnalyzer.AllowedEdits(word.Length);
                if (edits > 0)
                {
                    foreach (var (candidate, distance) in Fuzzy(word, edits, termHits))
                    {
                        var t = _rawToTerm[candidate];
                        var w = distance == 1 ? 0.8f : 0.6f;
                        if (!expansions.TryGetValue(t, out var old) || old < w) expansions[t] = w;
                    }
                }
            }
            var isLast = i == words.Count - 1 || words.Skip(i + 1).All(w => word.Contains(w, StringComparison.Ordinal));
            if (prefixLast && isLast && word.Length >= 2)
            {
                foreach (var candidate in Prefixed(word, 64))
                {
                    var t = _rawToTerm[candidate];
                    if (!expansions.ContainsKey(t)) expansions[t] = 0.7f;
                }
            }
            result.Add(expansions.Select(static kv => (kv.Key, kv.Value)).ToList());
        }
        return result;
    }

    private IEnumerable<string> Prefixed(string prefix, int max)
    {
        var lo = Array.BinarySearch(_rawSorted, prefix, StringComparer.Ordinal);
        if (lo < 0) lo = ~lo;
        for (var i = lo; i < _rawSorted.Length && max > 0 && _rawSorted[i].StartsWith(prefix, StringComparison.Ordinal); i++, max--)
        {
            if (_rawSorted[i] != prefix) yield return _rawSorted[i];
        }
    }

    private List<(string Term, int Distance)> Fuzzy(string word, int maxEdits, int[] hits)
    {
        var grams = Trigrams(word).Distinct().ToArray();
        // Each edit destroys at most three trigrams.
        var needed = Math.Max(1, grams.Length - (3 * maxEdits));
        var touched = new List<int>();
        var result = new List<(string, int)>();
        try
        {
            foreach (var g in grams)
            {
                if (!_trigrams.TryGetValue(g, out var list)) continue;
                foreach (var i in list)
                {
                    if (hits[i]++ == 0) touched.Add(i);
                }
            }
            foreach (var i in touched)
            {
                if (hits[i] < needed) continue;
                var term = _rawSorted[i];
                if (Math.Abs(term.Length - word.Length) > maxEdits) continue;
                var dist = TextAnalyzer.Distance(word, term, maxEdits);
                if (dist <= maxEdits) result.Add((term, dist));
            }
        }
        finally
        {
            foreach (var i in touched) hits[i] = 0;
        }
        var best = result.Count == 0 ? 0 : result.Min(static r => r.Item2);
        return result.Where(r => r.Item2 == best).ToList();
    }

    private static IEnumerable<int> Trigrams(string term)
    {
        var padded = "\u0002" + term + "\u0003";
        for (var i = 0; i + 3 <= padded.Length; i++)
        {
            yield return padded[i] | (padded[i + 1] << 10) | (padded[i + 2] << 20);
        }
    }

    private Func<int, bool>? CompileFilter(SearchQuery q)
    {
        var filter = new Filter(this, q);
        return filter.IsEmpty ? null : filter.Matches;
    }

    /// <summary>A compiled filter: facet values become document bitsets (from the facets' value → documents lists), numbers are compared in place.</summary>
    private sealed class Filter
    {
        private readonly SearchIndex _index;
        private readonly ulong[][] _sets;
        private readonly double _minPrice;
        private readonly double _maxPrice;
        private readonly int _minContext;
        private readonly double _minRating;
        private readonly bool _prices;

        public Filter(SearchIndex index, SearchQuery q)
        {
            _index = index;
            var sets = new List<ulong[]>();
            void Dim(string name, IReadOnlyList<string> values)
            {
                if (values.Count == 0) return;
                sets.Add(index._facets[name].DocumentsWithAny(values, index._docs.Length));
            }
            Dim("category", q.Categories);
            Dim("kind", q.Kinds);
            Dim("provider", q.Providers);
            Dim("modality", q.Modalities);
            Dim("tags", q.Tags);
            Dim("certification", q.Certifications);
            Dim("region", q.Regions);
            _sets = [.. sets];
            _prices = q.MinPrice is not null || q.MaxPrice is not null;
            _minPrice = (double?)q.MinPrice ?? double.NegativeInfinity;
            _maxPrice = (double?)q.MaxPrice ?? double.PositiveInfinity;
            _minContext = q.MinContext ?? 0;
            _minRating = q.MinRating ?? double.NegativeInfinity;
            IsEmpty = _sets.Length == 0 && !_prices && q.MinContext is null && q.MinRating is null;
        }

        public bool IsEmpty { get; }

        public bool Matches(int d)
        {
            foreach (var set in _sets)
            {
                if ((set[d >> 6] & (1UL << (d & 63))) == 0) return false;
            }
            if (_prices)
            {
                var price = _index._inputPrice[d];
                if (double.IsNaN(price) || price < _minPrice || price > _maxPrice) return false;
            }
            return _index._context[d] >= _minContext && _index._rating[d] >= _minRating;
        }
    }

    private Dictionary<string, IReadOnlyDictionary<string, int>> CountFacets(List<int> matched)
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, int>>(StringComparer.Ordinal);
        foreach (var name in FacetNames)
        {
            result[name] = _facets[name].Count(matched, name == "tags" ? 30 : 20);
        }
        return result;
    }

    private readonly record struct Posting(int Doc, Counts Counts);

    /// <summary>Term frequencies in the four fields, saturated at 255.</summary>
    private struct Counts
    {
        private byte _f0;
        private byte _f1;
        private byte _f2;
        private byte _f3;

        public readonly byte this[int field] => field switch { 0 => _f0, 1 => _f1, 2 => _f2, _ => _f3 };

        /// <summary>The four counts in one integer, field 0 in the lowest byte.</summary>
        public readonly uint Packed => _f0 | ((uint)_f1 << 8) | ((uint)_f2 << 16) | ((uint)_f3 << 24);

        public void Increment(int field)
        {
            switch (field)
            {
                case 0: if (_f0 < 255) _f0++; break;
                case 1: if (_f1 < 255) _f1++; break;
                case 2: if (_f2 < 255) _f2++; break;
                default: if (_f3 < 255) _f3++; break;
            }
        }
    }

    /// <summary>A facet dimension: interned values and, per document, its value ids (compressed rows).</summary>
    private sealed class Facet
    {
        private readonly string[] _values;
        private readonly FrozenDictionary<string, int> _ids;
        private readonly int[] _offsets;
        private readonly int[] _refs;
        private readonly int[] _valueOffsets;
        private readonly int[] _valueDocs;

        private Facet(string[] values, FrozenDictionary<string, int> ids, int[] offsets, int[] refs)
        {
            _values = values;
            _ids = ids;
            _offsets = offsets;
            _refs = refs;
            // Transpose: for each value, the documents that have it.
            _valueOffsets = new int[values.Length + 1];
            foreach (var r in refs) _valueOffsets[r + 1]++;
            for (var i = 0; i < values.Length; i++) _valueOffsets[i + 1] += _valueOffsets[i];
            _valueDocs = new int[refs.Length];
            var fill = (int[])_valueOffsets.Clone();
            for (var d = 0; d + 1 < offsets.Length; d++)
            {
                for (var i = offsets[d]; i < offsets[d + 1]; i++) _valueDocs[fill[refs[i]]++] = d;
            }
        }

        /// <summary>A bitset of the documents having any of <paramref name="values"/> (unknown values match nothing).</summary>
        public ulong[] DocumentsWithAny(IReadOnlyList<string> values, int count)
        {
            var set = new ulong[(count + 63) >> 6];
            foreach (var value in values)
            {
                var id = IdOf(value);
                if (id < 0) continue;
                for (var i = _valueOffsets[id]; i < _valueOffsets[id + 1]; i++)
                {
                    var d = _valueDocs[i];
                    set[d >> 6] |= 1UL << (d & 63);
                }
            }
            return set;
        }

        public static Facet Build(SearchDocument[] docs, Func<SearchDocument, IReadOnlyList<string>> select)
        {
            var ids = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var values = new List<string>();
            var offsets = new int[docs.Length + 1];
            var refs = new List<int>(docs.Length);
            for (var d = 0; d < docs.Length; d++)
            {
                offsets[d] = refs.Count;
                foreach (var v in select(docs[d]))
                {
                    if (string.IsNullOrWhiteSpace(v)) continue;
                    if (!ids.TryGetValue(v, out var id))
                    {
                        id = values.Count;
                        ids[v] = id;
                        values.Add(v.ToLowerInvariant());
                    }
                    var dup = false;
                    for (var i = offsets[d]; i < refs.Count; i++) dup |= refs[i] == id;
                    if (!dup) refs.Add(id);
                }
            }
            offsets[docs.Length] = refs.Count;
            return new Facet([.. values], ids.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), offsets, [.. refs]);
        }

        public int IdOf(string value) => _ids.TryGetValue(value.Trim(), out var id) ? id : -1;

        public bool HasAny(int doc, HashSet<int> ids)
        {
            for (var i = _offsets[doc]; i < _offsets[doc + 1]; i++)
            {
                if (ids.Contains(_refs[i])) return true;
            }
            return false;
        }

        public IReadOnlyDictionary<string, int> Count(List<int> docs, int top)
        {
            var counts = new int[_values.Length];
            var offsets = _offsets;
            var refs = _refs;
            foreach (var d in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(docs))
            {
                var end = offsets[d + 1];
                for (var i = offsets[d]; i < end; i++) counts[refs[i]]++;
            }
            // Keep the top values by count (ties by name) without sorting every value.
            var best = new List<int>(top + 1);
            for (var v = 0; v < counts.Length; v++)
            {
                if (counts[v] == 0) continue;
                if (best.Count == top && !Better(v, best[^1])) continue;
                var at = best.Count;
                while (at > 0 && Better(v, best[at - 1])) at--;
                best.Insert(at, v);
                if (best.Count > top) best.RemoveAt(best.Count - 1);
            }
            var result = new Dictionary<string, int>(best.Count, StringComparer.Ordinal);
            foreach (var v in best) result[_values[v]] = counts[v];
            return result;

            bool Better(int a, int b) => counts[a] != counts[b] ? counts[a] > counts[b] : string.CompareOrdinal(_values[a], _values[b]) < 0;
        }
    }
}
