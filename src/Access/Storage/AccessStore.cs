using System.Data.Common;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Access.Storage;

/// <summary>The Access module's tables, through Dapper and plain SQL that both SQLite and PostgreSQL accept.</summary>
internal sealed class AccessStore(Database database) : ModuleStore(database)
{
    /// <summary>A connection to the usage records (<c>access_usage</c>): on the embedded database, a file of their own (<see cref="Database.UsageFile"/>).</summary>
    public Task<DbConnection> OpenUsageAsync(CancellationToken cancellationToken) => Database.OpenAsync(Database.UsageFile, cancellationToken);

    /// <summary>The usage file's writer turn, held by every usage commit.</summary>
    public UsageFileTurn UsageTurn { get; } = new(database.Provider == StorageProvider.Sqlite);

    public async Task<DirectoryData> LoadDirectoryAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var teams = (await connection.QueryAsync<TeamRow>(new CommandDefinition("SELECT * FROM access_teams", cancellationToken: cancellationToken))).AsList();
        var apps = (await connection.QueryAsync<AppRow>(new CommandDefinition("SELECT * FROM access_apps", cancellationToken: cancellationToken))).AsList();
        var keys = (await connection.QueryAsync<KeyRow>(new CommandDefinition(
            "SELECT * FROM access_keys WHERE revoked_at_ms IS NULL OR revoked_at_ms > @nowMs", new { nowMs }, cancellationToken: cancellationToken))).AsList();
        var budgets = (await connection.QueryAsync<BudgetRow>(new CommandDefinition("SELECT * FROM access_budgets", cancellationToken: cancellationToken))).AsList();
        var plans = (await connection.QueryAsync<PlanRow>(new CommandDefinition("SELECT * FROM access_plans", cancellationToken: cancellationToken))).AsList();
        var subscriptions = (await connection.QueryAsync<SubscriptionRow>(new CommandDefinition("SELECT * FROM access_subscriptions", cancellationToken: cancellationToken))).AsList();
        return new DirectoryData(teams, apps, keys, budgets, plans, subscriptions);
    }

    /// <summary>Spend in [<paramref name="fromMs"/>, <paramref name="toMs"/>) of one scope (<paramref name="column"/> = <paramref name="scopeId"/>), or of every call when <paramref name="column"/> is null.</summary>
    public async Task<SpendRow> SpendBetweenAsync(string? column, string scopeId, long fromMs, long toMs, CancellationToken cancellationToken)
    {
        // column is one of a fixed set, never user input.
        var where = column is null ? "" : $"{column} = @scopeId AND ";
        await using var connection = await OpenUsageAsync(cancellationToken);
        return await connection.QuerySingleAsync<SpendRow>(new CommandDefinition(
            $"SELECT SUM(cost_usd) AS cost, SUM(prompt_tokens + completion_tokens) AS tokens FROM access_usage WHERE {where}at_ms >= @fromMs AND at_ms < @toMs",
            new { scopeId, fromMs, toMs }, cancellationToken: cancellationToken));
    }

    private const string UsageColumns = "request_id, at_ms, operation, key_id, app_id, team_id, user_id, subscription_id, model, provider, deployment, "
        + "listing, listing_version, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, latency_ms, ttft_ms, status, cache, stream, record_id";

    private const int UsageColumnCount = 24;

    /// <summary>
    /// Writes the records in one transaction: on PostgreSQL one INSERT of the batch's columns as arrays (one round trip);
    /// on SQLite, which runs in the process, one single-record INSERT prepared once and executed for each record. A
    /// multi-record INSERT would cost more there: binding a parameter by name searches the statement's names one by one,
    /// so a statement of many records spends time quadratic in their number. A record whose id is already stored
    /// (delivered twice) is skipped, whether the earlier copy is in the table or earlier in the same batch; the others
    /// are written.
    /// </summary>
    public async Task InsertUsageBatchAsync(IReadOnlyList<UsageRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return;
        using var turn = await UsageTurn.TakeAsync(cancellationToken);
        await using var connection = await OpenUsageAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (Database.Provider == StorageProvider.Postgres)
        {
            await using var command = InsertUsageArraysCommand(connection, rows);
            command.Transaction = transaction;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        else
        {
            await using var insert = new UsageInsert(connection, transaction);
            foreach (var row in rows)
            {
                await insert.ExecuteAsync(row, cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// PostgreSQL: the whole batch as one INSERT of 24 array parameters (one per column) unnested into rows, so that the
    /// statement and its parameters stay the same size whatever the batch size.
    /// </summary>
    private static DbCommand InsertUsageArraysCommand(DbConnection connection, IReadOnlyList<UsageRow> rows)
    {
        var command = connection.CreateCommand();
        command.CommandText = $"""
            INSERT INTO access_usage ({UsageColumns})
            SELECT * FROM unnest(@request_id::text[], @at_ms::bigint[], @operation::text[], @key_id::text[], @app_id::text[], @team_id::text[],
                @user_id::text[], @subscription_id::text[], @model::text[], @provider::text[], @deployment::text[], @listing::text[],
                @listing_version::text[], @prompt_tokens::bigint[], @completion_tokens::bigint[], @cached_tokens::bigint[],
                @reasoning_tokens::bigint[], @cost_usd::numeric[], @latency_ms::float8[], @ttft_ms::float8[], @status::bigint[], @cache::text[],
                @stream::bigint[], @record_id::text[])
            ON CONFLICT (record_id) DO NOTHING
            """;
        void Add<T>(string name, Func<UsageRow, T> value)
        {
            var values = new T[rows.Count];
            for (var i = 0; i < values.Length; i++) values[i] = value(rows[i]);
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = values;
            command.Parameters.Add(parameter);
        }
        Add("request_id", static r => r.RequestId);
        Add("at_ms", static r => r.AtMs);
        Add("operation", static r => r.Operation);
        Add("key_id", static r => r.KeyId);
        Add("app_id", static r => r.AppId);
        Add("team_id", static r => r.TeamId);
        Add("user_id", static r => r.UserId);
        Add("subscription_id", static r => r.SubscriptionId);
        Add("model", static r => r.Model);
        Add("provider", static r => r.Provider);
        Add("deployment", static r => r.Deployment);
        Add("listing", static r => r.Listing);
        Add("listing_version", static r => r.ListingVersion);
        Add("prompt_tokens", static r => r.PromptTokens);
        Add("completion_tokens", static r => r.CompletionTokens);
        Add("cached_tokens", static r => r.CachedTokens);
        Add("reasoning_tokens", static r => r.ReasoningTokens);
        Add("cost_usd", static r => r.CostUsd);
        Add("latency_ms", static r => r.LatencyMs);
        Add("ttft_ms", static r => r.TtftMs);
        Add("status", static r => r.Status);
        Add("cache", static r => r.Cache);
        Add("stream", static r => r.Stream);
        Add("record_id", static r => r.RecordId);
        return command;
    }

    /// <summary>SQLite: the single-record INSERT, prepared once and executed with each record's values in turn.</summary>
    private sealed class UsageInsert : IAsyncDisposable
    {
        private const string Sql = "INSERT INTO access_usage (" + UsageColumns + ") VALUES (@request_id, @at_ms, @operation, @key_id, @app_id, "
            + "@team_id, @user_id, @subscription_id, @model, @provider, @deployment, @listing, @listing_version, @prompt_tokens, "
            + "@completion_tokens, @cached_tokens, @reasoning_tokens, @cost_usd, @latency_ms, @ttft_ms, @status, @cache, @stream, @record_id) "
            + "ON CONFLICT (record_id) DO NOTHING";

        private readonly DbCommand _command;
        private readonly DbParameter[] _values = new DbParameter[UsageColumnCount];

        public UsageInsert(DbConnection connection, DbTransaction transaction)
        {
            _command = connection.CreateCommand();
            _command.Transaction = transaction;
            _command.CommandText = Sql;
            var names = UsageColumns.Split(", ");
            for (var c = 0; c < names.Length; c++)
            {
                var parameter = _command.CreateParameter();
                parameter.ParameterName = "@" + names[c];
                _command.Parameters.Add(parameter);
                _values[c] = parameter;
            }
            _command.Prepare();
        }

        public Task ExecuteAsync(UsageRow row, CancellationToken cancellationToken)
        {
            var c = 0;
            void Set(object? value) => _values[c++].Value = value ?? DBNull.Value;
            Set(row.RequestId);
            Set(row.AtMs);
            Set(row.Operation);
            Set(row.KeyId);
            Set(row.AppId);
            Set(row.TeamId);
            Set(row.UserId);
            Set(row.SubscriptionId);
            Set(row.Model);
            Set(row.Provider);
            Set(row.Deployment);
            Set(row.Listing);
            Set(row.ListingVersion);
            Set(row.PromptTokens);
            Set(row.CompletionTokens);
            Set(row.CachedTokens);
            Set(row.ReasoningTokens);
            Set(row.CostUsd);
            Set(row.LatencyMs);
            Set(row.TtftMs);
            Set(row.Status);
            Set(row.Cache);
            Set(row.Stream);
            Set(row.RecordId);
            return _command.ExecuteNonQueryAsync(cancellationToken);
        }

        public ValueTask DisposeAsync() => _command.DisposeAsync();
    }

    public async Task<(IReadOnlyList<UsageRow> Rows, long Total)> QueryUsageAsync(UsageFilter filter, int limit, int offset, CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter);
        parameters.Add("limit", limit);
        parameters.Add("offset", offset);
        await using var connection = await OpenUsageAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM access_usage{where}", parameters, cancellationToken: cancellationToken));
        var rows = (await connection.QueryAsync<UsageRow>(new CommandDefinition(
            $"SELECT * FROM access_usage{where} ORDER BY at_ms DESC, seq DESC LIMIT @limit OFFSET @offset", parameters, cancellationToken: cancellationToken))).AsList();
        return (rows, total);
    }

    /// <summary>Streams the rows a filter selects (for grouping), oldest first.</summary>
    public async IAsyncEnumerable<UsageRow> ScanUsageAsync(UsageFilter filter, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var (where, parameters) = Where(filter);
        await using var connection = await OpenUsageAsync(cancellationToken);
        var rows = connection.QueryUnbufferedAsync<UsageRow>(
            $"SELECT at_ms, model, listing, app_id, team_id, key_id, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd, status FROM access_usage{where} ORDER BY at_ms",
            parameters);
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            yield return row;
        }
    }

    private static (string Where, DynamicParameters Parameters) Where(UsageFilter filter)
    {
        var where = new SqlFilter()
            .Add("key_id = @keyId", "keyId", filter.KeyId)
            .Add("app_id = @appId", "appId", filter.AppId)
            .Add("team_id = @teamId", "teamId", filter.TeamId)
            .Add("user_id = @userId", "userId", filter.UserId)
            .Add("model = @model", "model", filter.Model)
            .Add("listing = @listing", "listing", filter.Listing)
            .Add("request_id = @requestId", "requestId", filter.RequestId)
            .Add("at_ms >= @fromMs", "fromMs", filter.FromMs)
            .Add("at_ms < @toMs", "toMs", filter.ToMs)
            // A member's view: only the teams in their claims.
            .AddIn("team_id", "team", filter.TeamIds);
        return (where.Where, where.Parameters);
    }
}

internal sealed record DirectoryData(
    IReadOnlyList<TeamRow> Teams,
    IReadOnlyList<AppRow> Apps,
    IReadOnlyList<KeyRow> Keys,
    IReadOnlyList<BudgetRow> Budgets,
    IReadOnlyList<PlanRow> Plans,
    IReadOnlyList<SubscriptionRow> Subscriptions);

internal sealed record UsageFilter
{
    public string? KeyId { get; init; }
    public string? AppId { get; init; }
    public string? TeamId { get; init; }
    public string? UserId { get; init; }
    public string? Model { get; init; }
    public string? Listing { get; init; }
    public string? RequestId { get; init; }
    public long? FromMs { get; init; }
    public long? ToMs { get; init; }

    /// <summary>When set, only usage of these teams (a non-admin caller's view).</summary>
    public IReadOnlyList<string>? TeamIds { get; init; }
}
