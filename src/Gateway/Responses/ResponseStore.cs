using System.Security.Claims;
using System.Text.Json.Nodes;
using Dapper;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Gateway.Responses;

/// <summary>A stored response: the items before it in its chain, its own input items, and the response object.</summary>
internal sealed record StoredResponse(string Id, string Owner, JsonArray Context, JsonArray Input, JsonObject Response)
{
    /// <summary>Everything a follow-up (<c>previous_response_id</c>) sees: the earlier items, this input, this output.</summary>
    public JsonArray Conversation()
    {
        var items = new JsonArray();
        foreach (var item in Context) items.Add(item!.DeepClone());
        foreach (var item in Input) items.Add(item!.DeepClone());
        if (Response["output"] is JsonArray output)
        {
            foreach (var item in output) items.Add(item!.DeepClone());
        }
        return items;
    }
}

/// <summary>
/// Responses stored for <c>previous_response_id</c> and <c>GET/DELETE /v1/responses/{id}</c>, in the gateway's own table.
/// Every read and delete is scoped to the owner: another team's response does not exist for the caller.
/// </summary>
internal sealed class ResponseStore(Database database, TimeProvider time)
{
    /// <summary>
    /// Whose responses the caller sees: its team (the first team of a key or user), else the key, else the user
    /// (the master key is its own owner).
    /// </summary>
    public static string OwnerOf(ClaimsPrincipal user)
    {
        if (user.FindFirst(MarketplaceClaims.TeamId)?.Value is { Length: > 0 } team) return "team:" + team;
        if (user.FindFirst(MarketplaceClaims.KeyId)?.Value is { Length: > 0 } key) return "key:" + key;
        if (user.FindFirst(MarketplaceClaims.UserId)?.Value is { Length: > 0 } id) return "user:" + id;
        return "principal:" + (user.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? user.Identity?.Name ?? "anonymous");
    }

    public async Task SaveAsync(string owner, JsonArray context, JsonArray input, JsonObject response, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gateway_responses (id, owner, created_ms, context, input, response) VALUES (@id, @owner, @created, @context, @input, @response)",
            new
            {
                id = response["id"]!.GetValue<string>(),
                owner,
                created = time.GetUtcNow().ToUnixTimeMilliseconds(),
                context = context.ToJsonString(),
                input = input.ToJsonString(),
                response = response.ToJsonString(),
            },
            cancellationToken: cancellationToken));
    }

    public async Task<StoredResponse?> GetAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            "SELECT id AS Id, owner AS Owner, context AS Context, input AS Input, response AS Response FROM gateway_responses WHERE id = @id AND owner = @owner",
            new { id, owner }, cancellationToken: cancellationToken));
        return row is null
            ? null
            : new StoredResponse(row.Id, row.Owner, JsonNode.Parse(row.Context)!.AsArray(), JsonNode.Parse(row.Input)!.AsArray(), JsonNode.Parse(row.Response)!.AsObject());
    }

    public async Task<bool> DeleteAsync(string owner, string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM gateway_responses WHERE id = @id AND owner = @owner", new { id, owner }, cancellationToken: cancellationToken)) > 0;
    }

    private sealed record Row(string Id, string Owner, string Context, string Input, string Response);
}
