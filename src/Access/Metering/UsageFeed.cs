namespace LlmMarketplace.Access.Metering;

/// <summary>One committed usage record, as other modules (Insights) read it.</summary>
public sealed record UsageEvent(
    long Seq,
    string RequestId,
    long AtMs,
    string Operation,
    string? KeyId,
    string? AppId,
    string? TeamId,
    string? UserId,
    string? SubscriptionId,
    string Model,
    string? Provider,
    string? Deployment,
    long PromptTokens,
    long CompletionTokens,
    long CachedTokens,
    long ReasoningTokens,
    decimal CostUsd,
    double LatencyMs,
    double? TtftMs,
    int Status,
    string Cache,
    bool Stream);

/// <summary>
/// Reads committed usage records in the order of their sequence number, for consumers that keep a durable cursor.
/// Sequence numbers only grow, but on PostgreSQL a lower one may commit after a higher one is visible: consumers
/// treat a gap as "maybe still in flight" for a while before they step over it.
/// </summary>
public interface IUsageFeed
{
    /// <summary>Up to <paramref name="max"/> records with a sequence number above <paramref name="afterSeq"/>, lowest first.</summary>
    Task<IReadOnlyList<UsageEvent>> ReadAfterAsync(long afterSeq, int max, CancellationToken cancellationToken);
}

internal sealed class UsageFeed(AccessStore store) : IUsageFeed
{
    public async Task<IReadOnlyList<UsageEvent>> ReadAfterAsync(long afterSeq, int max, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenUsageAsync(cancellationToken);
        var rows = await connection.QueryAsync<UsageRow>(new CommandDefinition(
            "SELECT * FROM access_usage WHERE seq > @afterSeq ORDER BY seq LIMIT @max", new { afterSeq, max }, cancellationToken: cancellationToken));
        return [.. rows.Select(static r => new UsageEvent(
            r.Seq, r.RequestId, r.AtMs, r.Operation, r.KeyId, r.AppId, r.TeamId, r.UserId, r.SubscriptionId, r.Model, r.Provider, r.Deployment,
            r.PromptTokens, r.CompletionTokens, r.CachedTokens, r.ReasoningTokens, r.CostUsd, r.LatencyMs, r.TtftMs, (int)r.Status, r.Cache, r.Stream == 1))];
    }
}
