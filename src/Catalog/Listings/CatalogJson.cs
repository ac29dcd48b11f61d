using System.Text.Json.Serialization;

namespace LlmMarketplace.Catalog.Listings;

/// <summary>JSON settings for stored specs and API bodies: camelCase, nulls omitted.</summary>
internal static class CatalogJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) => JsonSerializer.Deserialize<T>(json, Options)!;
}
