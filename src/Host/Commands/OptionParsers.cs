using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace LlmMarketplace.Host.Commands;

/// <summary>Option values parsed with errors in words (<c>--rpm: 'lots' is not a whole number</c>), not .NET type names.</summary>
internal static class OptionParsers
{
    public static long? WholeNumber(ArgumentResult result) =>
        Parse(result, static (string s, out long v) => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v), "is not a whole number");

    public static decimal? Amount(ArgumentResult result) =>
        Parse(result, static (string s, out decimal v) => decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out v), "is not an amount (e.g. 25 or 12.50)");

    public static DateTimeOffset? Instant(ArgumentResult result) =>
        Parse(result, static (string s, out DateTimeOffset v) => DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out v),
            "is not a date and time (ISO 8601, e.g. 2027-01-31T00:00:00Z)");

    private delegate bool TryParse<T>(string text, out T value);

    private static T? Parse<T>(ArgumentResult result, TryParse<T> tryParse, string problem)
        where T : struct
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (tryParse(text, out var value)) return value;
        var name = result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;
        result.AddError($"{name}: '{text}' {problem}");
        return null;
    }
}
