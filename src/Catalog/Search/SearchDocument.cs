namespace LlmMarketplace.Catalog.Search;

/// <summary>What the search index knows about one listing (its current routable version).</summary>
public sealed record SearchDocument
{
    public required string Id { get; init; }
    public required string Slug { get; init; }
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public IReadOnlyList<string> Tags { get; init; } = [];
    public string Publisher { get; init; } = "";
    public IReadOnlyList<string> Providers { get; init; } = [];
    public string Category { get; init; } = "";
    public string Kind { get; init; } = "chat";
    public IReadOnlyList<string> InputModalities { get; init; } = [];
    public IReadOnlyList<string> OutputModalities { get; init; } = [];
    public decimal? InputPrice { get; init; }
    public decimal? OutputPrice { get; init; }
    public int? ContextLength { get; init; }
    public IReadOnlyList<string> Certifications { get; init; } = [];
    public IReadOnlyList<string> Regions { get; init; } = [];
    public double Rating { get; init; }
    public long RatingCount { get; init; }
    public double Popularity { get; init; }
    public long Created { get; init; }
    public string Version { get; init; } = "";
    public string State { get; init; } = "";
    /// <summary>The SLA the version declares.</summary>
    public Listings.SlaSpec? Sla { get; init; }
}

/// <summary>A parsed search request. Lists are OR within a field and AND across fields.</summary>
public sealed record SearchQuery
{
    public string? Text { get; init; }
    public IReadOnlyList<string> Categories { get; init; } = [];
    public IReadOnlyList<string> Tags { get; init; } = [];
    public IReadOnlyList<string> Kinds { get; init; } = [];
    public IReadOnlyList<string> Modalities { get; init; } = [];
    public IReadOnlyList<string> Providers { get; init; } = [];
    public IReadOnlyList<string> Certifications { get; init; } = [];
    public IReadOnlyList<string> Regions { get; init; } = [];
    public decimal? MinPrice { get; init; }
    public decimal? MaxPrice { get; init; }
    public int? MinContext { get; init; }
    public double? MinRating { get; init; }
    public SearchSort Sort { get; init; } = SearchSort.Relevance;
    public int Offset { get; init; }
    public int Limit { get; init; } = 20;
    public bool Facets { get; init; } = true;
    /// <summary>Treat the last word as a prefix (search as you type).</summary>
    public bool PrefixLast { get; init; }
    public string? ExcludeId { get; init; }
}

public enum SearchSort
{
    Relevance,
    Price,
    PriceDesc,
    Popularity,
    Newest,
    Rating,
}

public sealed record SearchHit(SearchDocument Document, double Score);

public sealed record SearchResult(IReadOnlyList<SearchHit> Hits, int Total, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Facets);
