namespace LlmMarketplace.BuildingBlocks.Storage;

public enum StorageProvider
{
    Sqlite,
    Postgres,
}

/// <summary>The <c>Storage</c> configuration section.</summary>
public sealed record StorageOptions
{
    public const string SectionName = "Storage";

    public StorageProvider Provider { get; init; } = StorageProvider.Sqlite;

    /// <summary>A connection string, or a reference to one (<c>env:NAME</c>). Empty means the embedded default.</summary>
    public string? ConnectionString { get; init; }

    /// <summary>The data directory; the embedded database lives here.</summary>
    public string DataDirectory { get; init; } = "data";

    public int MaxPoolSize { get; init; } = 50;
}
