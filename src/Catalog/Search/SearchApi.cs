using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.Catalog.Publishing;
using LlmMarketplace.Catalog.ServiceLevels;
using Microsoft.AspNetCore.Http.HttpResults;
using LlmMarketplace.Catalog.Contracts;

namespace LlmMarketplace.Catalog.Search;

/// <summary><c>GET /api/v1/search</c>, <c>/api/v1/autocomplete</c> and similar services over the in-memory index.</summary>
internal static class SearchApi
{
    /// <summary>The query parameters of <c>GET /api/v1/search</c>, for the door check and the OpenAPI document.</summary>
    public static QueryParameter[] Query =>
    [
        new("q", Description: "Search text (typo tolerant)."), new("limit", QueryType.Integer, "Page size (0-100, default 20)."),
        new("offset", QueryType.Integer, "Hits to skip (0-100000)."), new("sort", Values: [.. Sorts.Keys]),
        new("category", Description: "Comma-separated categories."), new("tag", Description: "Comma-separated tags."), new("tags", Description: "Alias of tag."),
        new("kind", Description: "Comma-separated listing kinds."), new("modality"), new("provider"),
        new("minPrice", QueryType.Number, "USD per 1M input tokens."), new("maxPrice", QueryType.Number, "USD per 1M input tokens."),
        new("minContext", QueryType.Integer), new("certification"), new("region"), new("minRating", QueryType.Number, "0 to 5."),
        new("facets", QueryType.Boolean, "Whether to count facets (default true)."),
    ];

    private static readonly HashSet<string> Parameters = new(StringComparer.Ordinal)
    {
        "q", "limit", "offset", "sort", "category", "tag", "tags", "kind", "modality", "provider", "minPrice", "maxPrice",
        "minContext", "certification", "region", "minRating", "facets",
    };

    private static readonly Dictionary<string, SearchSort> Sorts = new(StringComparer.Ordinal)
    {
        ["relevance"] = SearchSort.Relevance,
        ["price"] = SearchSort.Price,
        ["-price"] = SearchSort.PriceDesc,
        ["price_desc"] = SearchSort.PriceDesc,
        ["popularity"] = SearchSort.Popularity,
        ["newest"] = SearchSort.Newest,
        ["rating"] = SearchSort.Rating,
    };

    public static async Task<Results<Ok<SearchResponse>, ValidationProblem>> SearchAsync(HttpRequest request, CatalogState state, CatalogMetrics metrics, ListingServiceLevels levels, PublisherNames names, ILoggerFactory loggers, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var errors = new ValidationErrors();
        var query = Parse(request.Query, errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid search request");
        var index = state.Current.Index;
        SearchResult? result = null;
        if (query.Text is not null && query.Sort == SearchSort.Relevance && state.Embeddings.Enabled && index.HasVectors)
        {
            try
            {
                // The query is embedded here; listings were embedded when published.
                var vector = await state.Embeddings.EmbedAsync([query.Text], TimeSpan.FromSeconds(2), ct);
                if (vector is not null) result = index.SearchHybrid(query, vector[0]);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !ct.IsCancellationRequested)
            {
                Log.QueryEmbeddingFailed(loggers.CreateLogger("LlmMarketplace.Catalog"), ex);
            }
        }
        result ??= index.Search(query);
        var items = await ToResultsAsync(result.Hits, levels, names, ct);
        metrics.Searched("search", System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return TypedResults.Ok(new SearchResponse(items, result.Facets, result.Total, query.Offset, query.Limit) { FacetLabels = ProviderLabels(result.Facets, names) });
    }

    /// <summary>Names people read for <c>provider</c> facet values that are a publishing team's id; other values read as they are.</summary>
    private static Dictionary<string, string>? ProviderLabels(IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> facets, PublisherNames names)
    {
        if (!facets.TryGetValue("provider", out var providers)) return null;
        Dictionary<string, string>? labels = null;
        foreach (var value in providers.Keys)
        {
            var name = names.Of(value);
            if (!string.Equals(name, value, StringComparison.Ordinal)) (labels ??= new(StringComparer.Ordinal))[value] = name;
        }
        return labels;
    }

    public static Results<Ok<AutocompleteResponse>, ValidationProblem> Autocomplete(string? q, int? limit, CatalogState state)
    {
        var errors = new ValidationErrors();
        if (string.IsNullOrWhiteSpace(q)) errors.Add("q", "is required");
        if (limit is < 1 or > 50) errors.Add("limit", "must be between 1 and 50");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid autocomplete request");
        var result = state.Current.Index.Search(new SearchQuery { Text = q, PrefixLast = true, Limit = limit ?? 8, Facets = false });
        return TypedResults.Ok(new AutocompleteResponse(result.Hits.Select(static h => new Suggestion(h.Document.Id, h.Document.Slug, h.Document.Name, h.Score)).ToList()));
    }

    public static async Task<Results<Ok<SearchResponse>, ProblemHttpResult>> SimilarAsync(string id, int? limit, CatalogState state, ListingServiceLevels levels, PublisherNames names, CancellationToken ct)
    {
        var snapshot = state.Current;
        id = Uri.UnescapeDataString(id);
        var doc = snapshot.ById.TryGetValue(id, out var byId) ? snapshot.Index.Find(byId.Service.Id)
            : snapshot.BySlug.TryGetValue(id, out var bySlug) ? snapshot.Index.Find(bySlug.Service.Id) : null;
        if (doc is null) return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"No routable listing '{id}'.");
        var text = string.Join(' ', new[] { doc.Name[(doc.Name.IndexOf(':', StringComparison.Ordinal) + 1)..], string.Join(' ', doc.Tags), doc.Category, doc.Publisher });
        var result = snapshot.Index.Search(new SearchQuery { Text = text, Kinds = [doc.Kind], ExcludeId = doc.Id, Limit = Math.Clamp(limit ?? 5, 1, 50), Facets = false });
        return TypedResults.Ok(new SearchResponse(await ToResultsAsync(result.Hits, levels, names, ct), new Dictionary<string, IReadOnlyDictionary<string, int>>(), result.Total, 0, limit ?? 5));
    }

    public static async Task<Ok<TrendingResponse>> TrendingAsync(int? limit, CatalogState state, UsageTracker usage, CancellationToken ct)
    {
        var snapshot = state.Current;
        var items = (await usage.TrendingAsync(Math.Clamp(limit ?? 10, 1, 100), ct))
            .Where(t => snapshot.ById.ContainsKey(t.ServiceId))
            .Select(t => new TrendingItem(t.ServiceId, snapshot.ById[t.ServiceId].Service.Slug, snapshot.ById[t.ServiceId].Current.Spec.Name ?? "", t.Calls))
            .ToList();
        return TypedResults.Ok(new TrendingResponse(items));
    }

    /// <summary>For each listing the caller's teams use (most used first), similar listings they do not use yet; trending ones when the teams use nothing.</summary>
    public static async Task<Ok<AutocompleteResponse>> RecommendationsAsync(int? limit, System.Security.Claims.ClaimsPrincipal user, CatalogState state, UsageTracker usage, CancellationToken ct)
    {
        var max = Math.Clamp(limit ?? 5, 1, 50);
        var snapshot = state.Current;
        var usedInOrder = await usage.UsedByAsync([.. user.FindAll(BuildingBlocks.Security.MarketplaceClaims.TeamId).Select(static c => c.Value).Distinct(StringComparer.Ordinal)], ct);
        var used = usedInOrder.ToHashSet(StringComparer.Ordinal);
        var picks = new List<Suggestion>();
        foreach (var id in usedInOrder)
        {
            var doc = snapshot.Index.Find(id);
            if (doc is null) continue;
            var text = string.Join(' ', doc.Name[(doc.Name.IndexOf(':', StringComparison.Ordinal) + 1)..], string.Join(' ', doc.Tags), doc.Category);
            foreach (var hit in snapshot.Index.Search(new SearchQuery { Text = text, Kinds = [doc.Kind], Limit = max + used.Count, Facets = false }).Hits)
            {
                if (used.Contains(hit.Document.Id) || picks.Any(p => p.Id == hit.Document.Id)) continue;
                picks.Add(new Suggestion(hit.Document.Id, hit.Document.Slug, hit.Document.Name, hit.Score));
                if (picks.Count >= max) break;
            }
            if (picks.Count >= max) break;
        }
        if (picks.Count == 0)
        {
            picks = (await usage.TrendingAsync(max, ct)).Where(t => snapshot.ById.ContainsKey(t.ServiceId))
                .Select(t => new Suggestion(t.ServiceId, snapshot.ById[t.ServiceId].Service.Slug, snapshot.ById[t.ServiceId].Current.Spec.Name ?? "", t.Calls)).ToList();
        }
        return TypedResults.Ok(new AutocompleteResponse(picks));
    }

    internal static SearchQuery Parse(IQueryCollection q, ValidationErrors errors)
    {
        foreach (var key in q.Keys)
        {
            if (!Parameters.Contains(key)) errors.Add(key, $"'{key}' is not a search parameter; use one of {string.Join(", ", Parameters.Order(StringComparer.Ordinal))}");
        }
        IReadOnlyList<string> List(string name) => q[name].SelectMany(static v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        decimal? Dec(string name)
        {
            var v = q[name].ToString();
            if (v.Length == 0) return null;
            if (decimal.TryParse(v, NumberStyles.Number, CultureInfo.InvariantCulture, out var d) && d >= 0) return d;
            errors.Add(name, "must be a non-negative number (USD per 1M input tokens)");
            return null;
        }
        int? Int(string name, int min, int max)
        {
            var v = q[name].ToString();
            if (v.Length == 0) return null;
            if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i >= min && i <= max) return i;
            errors.Add(name, $"must be an integer between {min} and {max}");
            return null;
        }
        var sortText = q["sort"].ToString();
        var sort = SearchSort.Relevance;
        if (sortText.Length > 0 && !Sorts.TryGetValue(sortText, out sort))
        {
            errors.Add("sort", $"'{sortText}' is not a sort field; use one of {string.Join(", ", Sorts.Keys)}");
        }
        var kinds = List("kind");
        foreach (var k in kinds.Where(static k => !ListingKinds.All.Contains(k))) errors.Add("kind", $"'{k}' is not a kind ({string.Join(", ", ListingKinds.All)})");
        double? minRating = null;
        if (q["minRating"].ToString() is { Length: > 0 } mr)
        {
            if (double.TryParse(mr, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is >= 0 and <= 5) minRating = r;
            else errors.Add("minRating", "must be a number between 0 and 5");
        }
        var minPrice = Dec("minPrice");
        var maxPrice = Dec("maxPrice");
        if (minPrice > maxPrice) errors.Add("maxPrice", "must not be below minPrice");
        var facetsText = q["facets"].ToString();
        if (facetsText is not ("" or "true" or "false" or "1" or "0")) errors.Add("facets", "must be true or false");
        return new SearchQuery
        {
            Text = q["q"].ToString() is { Length: > 0 } text ? text[..Math.Min(text.Length, 500)] : null,
            Categories = List("category"),
            Tags = [.. List("tag"), .. List("tags")],
            Kinds = kinds,
            Modalities = List("modality"),
            Providers = List("provider"),
            Certifications = List("certification"),
            Regions = List("region"),
            MinPrice = minPrice,
            MaxPrice = maxPrice,
            MinContext = Int("minContext", 0, int.MaxValue),
            MinRating = minRating,
            Sort = sort,
            Offset = Int("offset", 0, 100_000) ?? 0,
            Limit = Int("limit", 0, 100) ?? 20,
            Facets = facetsText is not ("false" or "0"),
        };
    }

    /// <summary>The page of hits, with the measured service level of all of them read at once.</summary>
    private static async Task<List<SearchResultItem>> ToResultsAsync(IReadOnlyList<SearchHit> hits, ListingServiceLevels levels, PublisherNames names, CancellationToken ct)
    {
        var measured = await levels.ReadAsync(hits.Select(static h => ListingServiceLevels.Name(h.Document.Slug, h.Document.Version)).ToList(), ct);
        return hits.Select(h => ToResult(h, measured, names)).ToList();
    }

    private static SearchResultItem ToResult(SearchHit h, IReadOnlyDictionary<string, MeasuredServiceLevel>? measured, PublisherNames names)
    {
        var d = h.Document;
        return new SearchResultItem(d.Id, d.Slug, d.Name, h.Score, d.Description.Length > 300 ? d.Description[..300] + "…" : d.Description,
            d.Publisher, d.Category, d.Kind, d.Tags, d.InputModalities, d.OutputModalities, d.InputPrice, d.OutputPrice, d.ContextLength,
            d.Providers, d.Certifications, d.Regions, d.Rating, d.RatingCount, d.Version, d.State, d.Sla,
            ListingServiceLevels.Summary(measured, d.Slug, d.Version), names.Of(d.Publisher));
    }
}

internal sealed record SearchResponse(IReadOnlyList<SearchResultItem> Results, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Facets, int Total, int Offset, int Limit)
{
    /// <summary>Display names of facet values that are ids (a publishing team's id in <c>provider</c>): value → name; absent when none.</summary>
    public IReadOnlyDictionary<string, string>? FacetLabels { get; init; }
}

internal sealed record SearchResultItem(string Id, string Slug, string Name, double Score, string Description, string Publisher, string Category, string Kind,
    IReadOnlyList<string> Tags, IReadOnlyList<string> InputModalities, IReadOnlyList<string> OutputModalities, decimal? InputPerMTok, decimal? OutputPerMTok,
    int? ContextLength, IReadOnlyList<string> Providers, IReadOnlyList<string> Certifications, IReadOnlyList<string> Regions, double Rating, long RatingCount,
    string Version, string State, SlaSpec? Sla, MeasuredSlaSummary? MeasuredSla, string PublisherName);

internal sealed record TrendingResponse(IReadOnlyList<TrendingItem> Results);

internal sealed record TrendingItem(string Id, string Slug, string Name, long Calls);

internal sealed record AutocompleteResponse(IReadOnlyList<Suggestion> Suggestions);

internal sealed record Suggestion(string Id, string Slug, string Name, double Score);
