using System.Data;
using System.Data.Common;
using LlmMarketplace.Governance.Contracts;
using Microsoft.Data.Sqlite;

namespace LlmMarketplace.Governance.Audit;

/// <summary>
/// The hash-chained audit trail. Appends are serialized: in-process by a semaphore, across replicas by the
/// database (SQLite's write lock taken at BEGIN IMMEDIATE, PostgreSQL's transaction-scoped advisory lock),
/// so two appends can never chain to the same predecessor.
/// </summary>
internal sealed class AuditLog(Database database, TimeProvider time, GovernanceMetrics metrics, IEnumerable<IAuditObserver> observers) : IAuditLog
{
    private readonly IAuditObserver[] _observers = [.. observers];

    private const long PostgresLockKey = 0x6c6c6d6d_61756474; // "llmmaudt"
    private const string Columns = "seq AS Seq, at_ms AS AtMs, action AS Action, outcome AS Outcome, actor_id AS ActorId, actor_kind AS ActorKind, target_type AS TargetType, target_id AS TargetId, ip AS Ip, before_json AS BeforeJson, after_json AS AfterJson, prev_hash AS PrevHash, hash AS Hash";

    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<long> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(entry.Action);
        var beforeJson = CanonicalJson.Serialize(entry.Before);
        var afterJson = CanonicalJson.Serialize(entry.After);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var transaction = await BeginSerializedAsync(connection, cancellationToken);
            var last = await connection.QuerySingleOrDefaultAsync<(long Seq, string Hash)?>(
                new CommandDefinition("SELECT seq, hash FROM gov_audit ORDER BY seq DESC LIMIT 1", transaction: transaction, cancellationToken: cancellationToken));
            var record = new AuditRecord
            {
                Seq = (last?.Seq ?? 0) + 1,
                AtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
                Action = entry.Action,
                Outcome = entry.Outcome,
                ActorId = entry.ActorId,
                ActorKind = entry.ActorKind,
                TargetType = entry.TargetType,
                TargetId = entry.TargetId,
                Ip = entry.Ip,
                BeforeJson = beforeJson,
                AfterJson = afterJson,
                PrevHash = last?.Hash ?? AuditRecord.GenesisHash,
            };
            record = record with { Hash = record.ComputeHash() };
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO gov_audit (seq, at_ms, action, outcome, actor_id, actor_kind, target_type, target_id, ip, before_json, after_json, prev_hash, hash)
                VALUES (@Seq, @AtMs, @Action, @Outcome, @ActorId, @ActorKind, @TargetType, @TargetId, @Ip, @BeforeJson, @AfterJson, @PrevHash, @Hash)
                """, record, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);
            metrics.AuditAppended();
            foreach (var observer in _observers)
            {
                await observer.AppendedAsync(entry, record.Seq, DateTimeOffset.FromUnixTimeMilliseconds(record.AtMs), cancellationToken);
            }
            return record.Seq;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<DbTransaction> BeginSerializedAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        if (connection is SqliteConnection sqlite)
        {
            return sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: false);
        }
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(@key)", new { key = PostgresLockKey }, transaction, cancellationToken: cancellationToken));
        return transaction;
    }

    /// <summary>Walks the chain from the genesis and reports the first entry whose sequence, link or hash does not hold.</summary>
    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var expectedPrev = AuditRecord.GenesisHash;
        long expectedSeq = 1;
        long checkedCount = 0;
        await foreach (var record in connection.QueryUnbufferedAsync<AuditRecord>($"SELECT {Columns} FROM gov_audit ORDER BY seq").WithCancellation(cancellationToken))
        {
            string? reason = null;
            if (record.Seq != expectedSeq)
            {
                reason = record.Seq > expectedSeq
                    ? $"entries {expectedSeq}..{record.Seq - 1} are missing (deleted)"
                    : $"sequence number {record.Seq} is out of order (expected {expectedSeq})";
            }
            else if (!string.Equals(record.PrevHash, expectedPrev, StringComparison.Ordinal))
            {
                reason = "its previous-hash does not match the hash of the entry before it (an entry was deleted, inserted or reordered)";
            }
            else if (!string.Equals(record.ComputeHash(), record.Hash, StringComparison.Ordinal))
            {
                reason = "its content does not match its hash (the entry was edited)";
            }
            if (reason is not null)
            {
                return new AuditVerification(false, checkedCount, record.Seq, reason, null);
            }
            checkedCount++;
            expectedSeq++;
            expectedPrev = record.Hash;
        }
        return new AuditVerification(true, checkedCount, null, null, expectedPrev);
    }

    public async Task<(IReadOnlyList<AuditRecord> Items, long Total)> QueryAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        var args = new DynamicParameters();
        void Filter(string? value, string column)
        {
            if (!string.IsNullOrEmpty(value))
            {
                where.Add($"{column} = @{column}");
                args.Add(column, value);
            }
        }
        Filter(query.Action, "action");
        Filter(query.ActorId, "actor_id");
        Filter(query.TargetType, "target_type");
        Filter(query.TargetId, "target_id");
        Filter(query.Outcome, "outcome");
        if (query.From is { } from)
        {
            where.Add("at_ms >= @from");
            args.Add("from", from.ToUnixTimeMilliseconds());
        }
        if (query.To is { } to)
        {
            where.Add("at_ms < @to");
            args.Add("to", to.ToUnixTimeMilliseconds());
        }
        var clause = where.Count == 0 ? "" : " WHERE " + string.Join(" AND ", where);
        args.Add("limit", query.Limit);
        args.Add("offset", query.Offset);
        await using var connection = await database.OpenAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT COUNT(*) FROM gov_audit{clause}", args, cancellationToken: cancellationToken));
        var items = await connection.QueryAsync<AuditRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_audit{clause} ORDER BY seq {(query.Ascending ? "ASC" : "DESC")} LIMIT @limit OFFSET @offset", args, cancellationToken: cancellationToken));
        return (items.AsList(), total);
    }

    /// <summary>Every entry that names the user as actor or target (for personal-data export).</summary>
    public async Task<IReadOnlyList<AuditRecord>> ForUserAsync(string userId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var items = await connection.QueryAsync<AuditRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM gov_audit WHERE actor_id = @userId OR target_id = @userId ORDER BY seq", new { userId }, cancellationToken: cancellationToken));
        return items.AsList();
    }
}

internal sealed record AuditQuery(string? Action, string? ActorId, string? TargetType, string? TargetId, string? Outcome, DateTimeOffset? From, DateTimeOffset? To, int Limit, int Offset, bool Ascending);
