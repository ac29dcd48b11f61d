using System.Globalization;

namespace LlmMarketplace.Portal.Client;

/// <summary>How the portal writes numbers: prices per million tokens, context lengths, costs.</summary>
public static class Format
{
    public static string PerMTok(decimal? price) => price is { } p ? "$" + p.ToString("0.####", CultureInfo.InvariantCulture) : "n/a";

    public static string Context(int? tokens) => tokens switch
    {
        null => "n/a",
        >= 1_000_000 => (tokens.Value / 1_000_000d).ToString("0.#", CultureInfo.InvariantCulture) + "M tokens",
        >= 1_000 => (tokens.Value / 1_000d).ToString("0.#", CultureInfo.InvariantCulture) + "K tokens",
        _ => tokens.Value.ToString(CultureInfo.InvariantCulture) + " tokens",
    };

    public static string Usd(decimal cost) => "$" + cost.ToString(cost < 0.01m ? "0.########" : "0.00##", CultureInfo.InvariantCulture);

    public static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset? t) => t?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "";
}
