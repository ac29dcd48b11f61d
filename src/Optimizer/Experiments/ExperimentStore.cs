using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary>Experiments and their calls.</summary>
internal sealed class ExperimentStore(Database database) : ModuleStore(database)
{
    /// <summary>Inserts an experiment unless the model already has a running one (checked in the same transaction); false then.</summary>
    public async Task<bool> InsertAsync(ExperimentRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var running = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM insights_experiments WHERE model = @Model AND status <> 'stopped'", row, transaction, cancellationToken: cancellationToken));
        if (running > 0) return false;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO insights_experiments (id, name, model, status, allocation, sticky_by, min_share, max_cost_per_call, variants, winner, created_by, created_ms, updated_ms)
            VALUES (@Id, @Name, @Model, @Status, @Allocation, @StickyBy, @MinShare, @MaxCostPerCall, @Variants, @Winner, @CreatedBy, @CreatedMs, @UpdatedMs)
            """, row, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task UpdateStatusAsync(string id, string status, string? winner, long updatedMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE insights_experiments SET status = @status, winner = @winner, updated_ms = @updatedMs WHERE id = @id",
            new { id, status, winner, updatedMs }, cancellationToken: cancellationToken));
    }

    public async Task<ExperimentRow?> GetAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<ExperimentRow>(new CommandDefinition(
            "SELECT * FROM insights_experiments WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<ExperimentRow>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await connection.QueryAsync<ExperimentRow>(new CommandDefinition(
            "SELECT * FROM insights_experiments ORDER BY created_ms DESC, id", cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Experiments that still steer traffic: running ones and promoted ones (all traffic to the winner).</summary>
    public async Task<IReadOnlyList<ExperimentRow>> ActiveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await connection.QueryAsync<ExperimentRow>(new CommandDefinition(
            "SELECT * FROM insights_experiments WHERE status <> 'stopped'", cancellationToken: cancellationToken))).AsList();
    }

    public async Task<IReadOnlyList<ExperimentCallRow>> CallsAsync(string experimentId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await connection.QueryAsync<ExperimentCallRow>(new CommandDefinition(
            """
            SELECT c.variant, c.status, c.cost_usd, c.latency_ms, f.score
            FROM insights_experiment_calls c LEFT JOIN insights_feedback f ON f.request_id = c.request_id
            WHERE c.experiment_id = @experimentId
            """, new { experimentId }, cancellationToken: cancellationToken))).AsList();
    }
}
