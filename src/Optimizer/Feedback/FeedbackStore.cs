using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Optimizer.Feedback;

/// <summary>A row of <c>insights_feedback</c>.</summary>
internal sealed class FeedbackRow
{
    public string RequestId { get; set; } = "";
    public string Model { get; set; } = "";
    public string? Deployment { get; set; }
    public string? KeyId { get; set; }
    public string? AppId { get; set; }
    public string? TeamId { get; set; }
    public string? UserId { get; set; }
    public double Score { get; set; }
    public string? Label { get; set; }
    public string? Comment { get; set; }
    public decimal CostUsd { get; set; }
    public double LatencyMs { get; set; }
    public long Status { get; set; }
    public long CreatedMs { get; set; }
    public long UpdatedMs { get; set; }
}

/// <summary>What <c>GET /api/v1/feedback</c> narrows by.</summary>
internal sealed record FeedbackFilter
{
    public string? RequestId { get; init; }
    public string? Model { get; init; }
    public string? Deployment { get; init; }
    public string? KeyId { get; init; }
    public string? TeamId { get; init; }
    public long? FromMs { get; init; }
    public long? ToMs { get; init; }

    /// <summary>When set, only feedback on calls of these teams (a non-admin caller's view).</summary>
    public IReadOnlyList<string>? TeamIds { get; init; }
}

/// <summary>Feedback storage: one row per request id, upserted.</summary>
internal sealed class FeedbackStore(Database database) : ModuleStore(database)
{
    /// <summary>Inserts or replaces the feedback of a request in one transaction; true when it was new.</summary>
    public async Task<bool> UpsertAsync(FeedbackRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var existing = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT created_ms FROM insights_feedback WHERE request_id = @RequestId", row, transaction, cancellationToken: cancellationToken));
        if (existing is { } created)
        {
            row.CreatedMs = created;
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE insights_feedback SET score = @Score, label = @Label, comment = @Comment, updated_ms = @UpdatedMs WHERE request_id = @RequestId",
                row, transaction, cancellationToken: cancellationToken));
        }
        else
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO insights_feedback (request_id, model, deployment, key_id, app_id, team_id, user_id, score, label, comment, cost_usd, latency_ms, status, created_ms, updated_ms)
                VALUES (@RequestId, @Model, @Deployment, @KeyId, @AppId, @TeamId, @UserId, @Score, @Label, @Comment, @CostUsd, @LatencyMs, @Status, @CreatedMs, @UpdatedMs)
                """, row, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        return existing is null;
    }

    public async Task<(IReadOnlyList<FeedbackRow> Rows, long Total)> QueryAsync(FeedbackFilter filter, int limit, int offset, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter);
        parameters.Add("limit", limit);
        parameters.Add("offset", offset);
        await using var connection = await OpenAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM insights_feedback{where}", parameters, cancellationToken: cancellationToken));
        var rows = (await connection.QueryAsync<FeedbackRow>(new CommandDefinition(
            $"SELECT * FROM insights_feedback{where} ORDER BY created_ms DESC, request_id LIMIT @limit OFFSET @offset", parameters, cancellationToken: cancellationToken))).AsList();
        return (rows, total);
    }

    private static (string Where, DynamicParameters Parameters) Where(FeedbackFilter filter)
    {
        var where = new SqlFilter()
            .Add("request_id = @requestId", "requestId", filter.RequestId)
            .Add("model = @model", "model", filter.Model)
            .Add("deployment = @deployment", "deployment", filter.Deployment)
            .Add("key_id = @keyId", "keyId", filter.KeyId)
            .Add("team_id = @teamId", "teamId", filter.TeamId)
            .Add("created_ms >= @fromMs", "fromMs", filter.FromMs)
            .Add("created_ms < @toMs", "toMs", filter.ToMs)
            // A non-admin caller's view: only the teams in their claims.
            .AddIn("team_id", "team", filter.TeamIds);
        return (where.Where, where.Parameters);
    }
}
