namespace LlmMarketplace.Insights;

/// <summary>JSON as the API writes it (camelCase), for payloads Insights sends out.</summary>
internal static class InsightsJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
