using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Caching;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmMarketplace.Gateway.Admin;

/// <summary>The answer of an invalidation: how many semantic cache entries were removed.</summary>
public sealed record CacheInvalidationDto(long Removed);

internal static class CacheApi
{
    /// <summary>
    /// Removes semantic cache entries: of one model, of one team, older than an age, or any combination (every entry
    /// when none is given). In distributed mode the entries live in Redis, so every replica stops serving them at once.
    /// </summary>
    public static async Task<Results<Ok<CacheInvalidationDto>, ValidationProblem>> InvalidateSemanticAsync(HttpRequest request, SemanticCache cache, TimeProvider time)
    {
        var errors = new ValidationErrors();
        var query = request.Query;
        var model = QueryValues.Str(query, "model");
        var team = QueryValues.Str(query, "team");
        var olderThan = QueryValues.Int(query, "olderThanSeconds", -1, errors);
        if (query.ContainsKey("olderThanSeconds") && olderThan < 0 && errors.IsEmpty) errors.Add("olderThanSeconds", "olderThanSeconds must be 0 or more.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary(), title: "Invalid cache invalidation");
        DateTimeOffset? before = olderThan >= 0 ? time.GetUtcNow() - TimeSpan.FromSeconds(olderThan) : null;
        return TypedResults.Ok(new CacheInvalidationDto(await cache.Store.RemoveAsync(model, team, before)));
    }
}
