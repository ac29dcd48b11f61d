using System.Text.Json.Serialization;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.BuildingBlocks.Hosting;

namespace LlmMarketplace.Insights.Events;

/// <summary>
/// One event for other systems, version 1: <c>id</c> is unique and stable across redeliveries (consumers deduplicate on
/// it), <c>type</c> says what happened (<c>usage.recorded</c>, <c>listing.published</c>, <c>approval.decided</c>,
/// <c>key.revoked</c>, <c>policy.changed</c>, <c>alert.fired</c>, ...), <c>data</c> carries the details.
/// </summary>
public sealed record EventEnvelope(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("time")] DateTimeOffset Time,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("data")] JsonElement Data)
{
    public const int CurrentVersion = 1;
    public const string SourceName = "llm-marketplace";
}

/// <summary>A batch of events as webhooks receive it.</summary>
public sealed record EventBatch([property: JsonPropertyName("events")] IReadOnlyList<EventEnvelope> Events);

/// <summary>An event as the log holds it: its position, creation time, id, type and JSON envelope.</summary>
internal sealed record LoggedEvent(long Seq, long CreatedMs, string Id, string Type, string Json)
{
    /// <summary>The envelope, parsed from the stored JSON.</summary>
    public EventEnvelope Envelope() => JsonSerializer.Deserialize<EventEnvelope>(Json, InsightsJson.Options)!;
}

/// <summary>The durable log of domain events (usage records are read from Access's usage feed instead).</summary>
internal sealed class EventLog(InsightsStore store, TimeProvider time)
{
    /// <summary>Raised after an event is appended (event sinks wake on it).</summary>
    public WorkSignal Appended { get; } = new();

    public async Task<EventEnvelope> AppendAsync(string type, JsonElement data, CancellationToken cancellationToken)
    {
        var envelope = new EventEnvelope("evt_" + Guid.CreateVersion7().ToString("N"), type, EventEnvelope.CurrentVersion, time.GetUtcNow(), EventEnvelope.SourceName, data);
        await using var connection = await store.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_events (event_id, type, payload, created_ms) VALUES (@Id, @Type, @Payload, @CreatedMs)",
            new { envelope.Id, envelope.Type, Payload = JsonSerializer.Serialize(envelope, InsightsJson.Options), CreatedMs = envelope.Time.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken));
        Appended.Raise();
        return envelope;
    }

    /// <summary>Events after a position, lowest first, as stored: sinks that forward the JSON need not parse it.</summary>
    public async Task<IReadOnlyList<LoggedEvent>> ReadAfterAsync(long afterSeq, int max, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long Seq, long CreatedMs, string EventId, string Type, string Payload)>(new CommandDefinition(
            "SELECT seq, created_ms, event_id, type, payload FROM insights_events WHERE seq > @afterSeq ORDER BY seq LIMIT @max", new { afterSeq, max }, cancellationToken: cancellationToken));
        return [.. rows.Select(static r => new LoggedEvent(r.Seq, r.CreatedMs, r.EventId, r.Type, r.Payload))];
    }

    /// <summary>A usage record as an event; its id derives from the record's position, so redeliveries keep it.</summary>
    public static EventEnvelope ForUsage(UsageEvent usage) => new(
        $"evt_usage_{usage.Seq}", "usage.recorded", EventEnvelope.CurrentVersion, DateTimeOffset.FromUnixTimeMilliseconds(usage.AtMs), EventEnvelope.SourceName,
        JsonSerializer.SerializeToElement(new
        {
            usage.RequestId,
            usage.Operation,
            usage.TeamId,
            usage.AppId,
            usage.KeyId,
            usage.UserId,
            usage.Model,
            usage.Provider,
            usage.Deployment,
            usage.PromptTokens,
            usage.CompletionTokens,
            usage.CachedTokens,
            usage.ReasoningTokens,
            usage.CostUsd,
            usage.LatencyMs,
            TimeToFirstTokenMs = usage.TtftMs,
            usage.Status,
            usage.Cache,
            usage.Stream,
        }, InsightsJson.Options));
}
