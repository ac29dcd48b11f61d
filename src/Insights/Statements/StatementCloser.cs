using LlmMarketplace.Access.Statements;
using LlmMarketplace.BuildingBlocks.Hosting;
using LlmMarketplace.Insights.Events;

namespace LlmMarketplace.Insights.Statements;

/// <summary>
/// Closes the month that has just ended: for every team that existed by then, publishes its statement's totals as one
/// <c>statement.closed</c> event through the events outbox. The closure row and the event are written in one
/// transaction under the (team, month) primary key, so however many replicas run this, each team and month is
/// announced exactly once; the one that commits first wins and the others find it done.
/// </summary>
internal sealed class StatementCloser(
    StatementService statements,
    InsightsStore store,
    EventLog log,
    InsightsOptions options,
    TimeProvider time,
    ILogger<StatementCloser> logger) : PeriodicWorker(time, logger)
{
    public const string EventType = "statement.closed";

    protected override TimeSpan Interval => options.StatementCloseInterval;

    protected override Task RunAsync(CancellationToken cancellationToken) => RunOnceAsync(cancellationToken);

    protected override void OnFailed(Exception exception) => Log.StatementCloseFailed(Logger, exception);

    /// <summary>Closes the previous month for every team not yet closed; returns how many this call closed.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var month = StatementMonth.Of(Time.GetUtcNow()).Previous();
        var monthText = month.ToString();
        var closed = 0;
        foreach (var team in statements.TeamsCreatedBefore(month.End))
        {
            await using (var connection = await store.OpenAsync(cancellationToken))
            {
                var done = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM insights_statement_closures WHERE team_id = @team AND month = @monthText", new { team, monthText }, cancellationToken: cancellationToken));
                if (done > 0) continue;
            }
            var statement = await statements.BuildAsync(team, month, cancellationToken);
            if (await CloseAsync(statement, cancellationToken)) closed++;
        }
        if (closed > 0)
        {
            log.Appended.Raise();
            Log.StatementsClosed(Logger, closed, monthText);
        }
        return closed;
    }

    private async Task<bool> CloseAsync(Statement statement, CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        var envelope = new EventEnvelope($"evt_statement_{statement.Team}_{statement.Month}", EventType, EventEnvelope.CurrentVersion, now, EventEnvelope.SourceName,
            JsonSerializer.SerializeToElement(new
            {
                team = statement.Team,
                month = statement.Month,
                currency = statement.Currency,
                from = statement.From,
                to = statement.To,
                subscriptionsUsd = statement.Totals.SubscriptionsUsd,
                usageUsd = statement.Totals.UsageUsd,
                adjustmentsUsd = statement.Totals.AdjustmentsUsd,
                totalUsd = statement.Totals.TotalUsd,
            }, InsightsJson.Options));
        await using var connection = await store.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var claimed = await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_statement_closures (team_id, month, event_id, closed_ms) VALUES (@team, @month, @eventId, @nowMs) ON CONFLICT (team_id, month) DO NOTHING",
            new { team = statement.Team, month = statement.Month, eventId = envelope.Id, nowMs = now.ToUnixTimeMilliseconds() }, transaction, cancellationToken: cancellationToken));
        if (claimed == 0) return false;
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO insights_events (event_id, type, payload, created_ms) VALUES (@Id, @Type, @Payload, @CreatedMs)",
            new { envelope.Id, envelope.Type, Payload = JsonSerializer.Serialize(envelope, InsightsJson.Options), CreatedMs = now.ToUnixTimeMilliseconds() },
            transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }
}
