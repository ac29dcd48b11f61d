namespace LlmMarketplace.Governance;

/// <summary>JSON settings of the module's API (camelCase, as ASP.NET Core's defaults).</summary>
internal static class GovernanceJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
