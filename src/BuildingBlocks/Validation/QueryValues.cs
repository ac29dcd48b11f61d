using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>Query-string values of management endpoints, read with every malformed one reported to <see cref="ValidationErrors"/>.</summary>
public static class QueryValues
{
    /// <summary>The value, or null when absent or empty.</summary>
    public static string? Str(IQueryCollection q, string name) => q[name].ToString() is { Length: > 0 } v ? v : null;

    public static int Int(IQueryCollection q, string name, int fallback, ValidationErrors errors)
    {
        var raw = q[name].ToString();
        if (raw.Length == 0) return fallback;
        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) return value;
        errors.Add(name, $"{name} must be an integer.");
        return fallback;
    }

    /// <summary>
    /// <c>limit</c> (default 100, at most <paramref name="maxLimit"/>) and <c>offset</c> (default 0) of a paged list, each
    /// malformed or out-of-range one reported.
    /// </summary>
    public static (int Limit, int Offset) Page(IQueryCollection q, int maxLimit, ValidationErrors errors)
    {
        var limit = Int(q, "limit", 100, errors);
        var offset = Int(q, "offset", 0, errors);
        if (limit < 1 || limit > maxLimit) errors.Add("limit", $"limit must be between 1 and {maxLimit}.");
        if (offset < 0) errors.Add("offset", "offset must be zero or more.");
        return (limit, offset);
    }

    public static bool Bool(IQueryCollection q, string name, bool fallback, ValidationErrors errors)
    {
        var raw = q[name].ToString();
        if (raw.Length == 0) return fallback;
        if (bool.TryParse(raw, out var value)) return value;
        errors.Add(name, $"{name} must be true or false.");
        return fallback;
    }

    /// <summary>An ISO 8601 time (UTC when it names no offset), or null when absent.</summary>
    public static DateTimeOffset? Time(IQueryCollection q, string name, ValidationErrors errors)
    {
        var raw = q[name].ToString();
        if (raw.Length == 0) return null;
        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)) return value;
        errors.Add(name, $"{name} must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z.");
        return null;
    }
}
