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

    /// <summary>A latency in milliseconds: one decimal under 10 ms, whole milliseconds under 10 s, else seconds.</summary>
    public static string Latency(double? ms) => ms switch
    {
        null => "n/a",
        < 10 => ms.Value.ToString("0.0", CultureInfo.InvariantCulture) + " ms",
        < 10_000 => ms.Value.ToString("0", CultureInfo.InvariantCulture) + " ms",
        _ => (ms.Value / 1000).ToString("0.#", CultureInfo.InvariantCulture) + " s",
    };

    /// <summary>An uptime in percent, with up to two decimals (99.95 %).</summary>
    public static string Uptime(double? percent) => percent is { } p ? p.ToString("0.##", CultureInfo.InvariantCulture) + " %" : "n/a";

    /// <summary>A measured service level in a few words: "p95 12.3 ms · 99.5 % uptime", or "no traffic yet".</summary>
    public static string Measured(double? p95LatencyMs, double? uptimePercent, long requests) =>
        requests == 0 ? "no traffic yet" : $"p95 {Latency(p95LatencyMs)} · {Uptime(uptimePercent)} uptime";

    /// <summary>The start of a Markdown text as plain words (no <c>**</c>, no link syntax), cut at a word near <paramref name="max"/>.</summary>
    public static string Excerpt(string? markdown, int max)
    {
        var text = string.Join(' ', Markdig.Markdown.ToPlainText(markdown ?? "").Split((char[])['\n', '\r', '\t', ' '], StringSplitOptions.RemoveEmptyEntries));
        if (text.Length <= max) return text;
        var cut = text.LastIndexOf(' ', max);
        return text[..(cut > max / 2 ? cut : max)] + "…";
    }

    /// <summary>A chart value with its unit: <c>USD</c> exactly (tiny amounts included), <c>ms</c>, <c>tokens</c>, <c>requests</c>, <c>%</c>.</summary>
    public static string Amount(double value, string unit) => unit switch
    {
        "USD" => Usd((decimal)value),
        "ms" => Latency(value),
        "%" => Uptime(value),
        _ => Number((long)Math.Round(value)) + " " + unit,
    };
}
