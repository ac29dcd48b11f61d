using System.Data.Common;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Catalog.Storage;

internal sealed class ServiceRow
{
    public string Id { get; set; } = "";
    public string Slug { get; set; } = "";
    public string Name { get; set; } = "";
    public string Publisher { get; set; } = "";
    public string Source { get; set; } = "";
    public string CreatedAt { get; set; } = "";
    public string UpdatedAt { get; set; } = "";
}

internal sealed class VersionRow
{
    public string Id { get; set; } = "";
    public string ServiceId { get; set; } = "";
    public string Version { get; set; } = "";
    public string State { get; set; } = "";
    public string Spec { get; set; } = "";
    public string? Checks { get; set; }
    public long ApprovalsRequired { get; set; }
    public string? SunsetAt { get; set; }
    public string? Replacement { get; set; }
    public string CreatedBy { get; set; } = "";
    public string CreatedAt { get; set; } = "";
    public string UpdatedAt { get; set; } = "";
}

internal sealed class TransitionRow
{
    public string? FromState { get; set; }
    public string ToState { get; set; } = "";
    public string Actor { get; set; } = "";
    public string? Reason { get; set; }
    public string At { get; set; } = "";
}

internal sealed class ApprovalRow
{
    public string VersionId { get; set; } = "";
    public string Approver { get; set; } = "";
    public string Decision { get; set; } = "";
    public string? Reason { get; set; }
    public string At { get; set; } = "";
}

internal sealed class ReviewRow
{
    public string ServiceId { get; set; } = "";
    public string UserId { get; set; } = "";
    public long Stars { get; set; }
    public string? Text { get; set; }
    public string CreatedAt { get; set; } = "";
    public string UpdatedAt { get; set; } = "";
}

internal sealed record RatingRow(string ServiceId, double Average, long Count);

/// <summary>The catalog's tables, with Dapper and plain SQL valid in both SQLite and PostgreSQL.</summary>
internal sealed class CatalogStore(Database database)
{
    internal const string VersionColumns = "id AS Id, service_id AS ServiceId, version AS Version, state AS State, spec AS Spec, checks AS Checks, approvals_required AS ApprovalsRequired, sunset_at AS SunsetAt, replacement AS Replacement, created_by AS CreatedBy, created_at AS CreatedAt, updated_at AS UpdatedAt";
    internal const string ServiceColumns = "id AS Id, slug AS Slug, name AS Name, publisher AS Publisher, source AS Source, created_at AS CreatedAt, updated_at AS UpdatedAt";

    public Task<DbConnection> OpenAsync(CancellationToken ct) => database.OpenAsync(ct);

    public async Task<(List<ServiceRow> Services, List<VersionRow> Versions, List<RatingRow> Ratings)> LoadAllAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var services = (await c.QueryAsync<ServiceRow>(new CommandDefinition($"SELECT {ServiceColumns} FROM catalog_services", cancellationToken: ct))).AsList();
        var versions = (await c.QueryAsync<VersionRow>(new CommandDefinition($"SELECT {VersionColumns} FROM catalog_versions", cancellationToken: ct))).AsList();
        var ratings = (await c.QueryAsync<(string, double, long)>(new CommandDefinition(
            "SELECT service_id, AVG(CAST(stars AS DOUBLE PRECISION)), COUNT(*) FROM catalog_reviews GROUP BY service_id", cancellationToken: ct)))
            .Select(static r => new RatingRow(r.Item1, r.Item2, r.Item3)).ToList();
        return (services, versions, ratings);
    }

    public static async Task<ServiceRow?> FindServiceAsync(DbConnection c, DbTransaction? tx, string idOrSlug, CancellationToken ct) =>
        await c.QuerySingleOrDefaultAsync<ServiceRow>(new CommandDefinition(
            $"SELECT {ServiceColumns} FROM catalog_services WHERE id = @key OR slug = @key", new { key = Uri.UnescapeDataString(idOrSlug) }, tx, cancellationToken: ct));

    public async Task<ServiceRow?> FindServiceAsync(string idOrSlug, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await FindServiceAsync(c, null, idOrSlug, ct);
    }

    public async Task<List<VersionRow>> VersionsAsync(string serviceId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM catalog_versions WHERE service_id = @serviceId", new { serviceId }, cancellationToken: ct))).AsList();
    }

    public async Task<VersionRow?> FindVersionAsync(string versionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM catalog_versions WHERE id = @versionId", new { versionId }, cancellationToken: ct));
    }

    public async Task<List<VersionRow>> VersionsInStateAsync(string state, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM catalog_versions WHERE state = @state ORDER BY updated_at", new { state }, cancellationToken: ct))).AsList();
    }

    public static Task InsertServiceAsync(DbConnection c, DbTransaction tx, ServiceRow s, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO catalog_services (id, slug, name, publisher, source, created_at, updated_at) VALUES (@Id, @Slug, @Name, @Publisher, @Source, @CreatedAt, @UpdatedAt)",
            s, tx, cancellationToken: ct));

    public static Task UpdateServiceAsync(DbConnection c, DbTransaction tx, ServiceRow s, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_services SET name = @Name, publisher = @Publisher, source = @Source, updated_at = @UpdatedAt WHERE id = @Id",
            s, tx, cancellationToken: ct));

    public static Task InsertVersionAsync(DbConnection c, DbTransaction tx, VersionRow v, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO catalog_versions (id, service_id, version, state, spec, checks, approvals_required, sunset_at, replacement, created_by, created_at, updated_at) " +
            "VALUES (@Id, @ServiceId, @Version, @State, @Spec, @Checks, @ApprovalsRequired, @SunsetAt, @Replacement, @CreatedBy, @CreatedAt, @UpdatedAt)",
            v, tx, cancellationToken: ct));

    public static Task UpdateVersionSpecAsync(DbConnection c, DbTransaction tx, string id, string spec, string at, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_versions SET spec = @spec, updated_at = @at WHERE id = @id", new { id, spec, at }, tx, cancellationToken: ct));

    public static async Task<VersionRow?> FindVersionAsync(DbConnection c, DbTransaction? tx, string serviceId, string version, CancellationToken ct) =>
        await c.QuerySingleOrDefaultAsync<VersionRow>(new CommandDefinition(
            $"SELECT {VersionColumns} FROM catalog_versions WHERE service_id = @serviceId AND version = @version", new { serviceId, version }, tx, cancellationToken: ct));

    /// <summary>Moves a version from <paramref name="from"/> to <paramref name="to"/> only if it is still in <paramref name="from"/>; records the transition.</summary>
    public static async Task<bool> TransitionAsync(DbConnection c, DbTransaction tx, string versionId, string from, string to, string actor, string? reason, string at,
        string? checks, string? sunsetAt, string? replacement, CancellationToken ct)
    {
        var n = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE catalog_versions SET state = @to, updated_at = @at, checks = COALESCE(@checks, checks), sunset_at = COALESCE(@sunsetAt, sunset_at), replacement = COALESCE(@replacement, replacement) " +
            "WHERE id = @versionId AND state = @from",
            new { versionId, from, to, at, checks, sunsetAt, replacement }, tx, cancellationToken: ct));
        if (n == 0) return false;
        await InsertTransitionAsync(c, tx, versionId, from, to, actor, reason, at, ct);
        return true;
    }

    public static Task InsertTransitionAsync(DbConnection c, DbTransaction tx, string versionId, string? from, string to, string actor, string? reason, string at, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO catalog_transitions (version_id, from_state, to_state, actor, reason, at) VALUES (@versionId, @from, @to, @actor, @reason, @at)",
            new { versionId, from, to, actor, reason, at }, tx, cancellationToken: ct));

    public async Task<List<TransitionRow>> HistoryAsync(string versionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<TransitionRow>(new CommandDefinition(
            "SELECT from_state AS FromState, to_state AS ToState, actor AS Actor, reason AS Reason, at AS At FROM catalog_transitions WHERE version_id = @versionId ORDER BY id",
            new { versionId }, cancellationToken: ct))).AsList();
    }

    public static Task InsertApprovalAsync(DbConnection c, DbTransaction tx, string versionId, string approver, string decision, string? reason, string at, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO catalog_approvals (version_id, approver, decision, reason, at) VALUES (@versionId, @approver, @decision, @reason, @at)",
            new { versionId, approver, decision, reason, at }, tx, cancellationToken: ct));

    public static async Task<List<ApprovalRow>> ApprovalsAsync(DbConnection c, DbTransaction? tx, string versionId, CancellationToken ct) =>
        (await c.QueryAsync<ApprovalRow>(new CommandDefinition(
            "SELECT version_id AS VersionId, approver AS Approver, decision AS Decision, reason AS Reason, at AS At FROM catalog_approvals WHERE version_id = @versionId ORDER BY id",
            new { versionId }, tx, cancellationToken: ct))).AsList();

    public async Task<List<ApprovalRow>> ApprovalsAsync(string versionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await ApprovalsAsync(c, null, versionId, ct);
    }

    public async Task<Dictionary<string, string>> EmbeddingsAsync(string model, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<(string, string)>(new CommandDefinition(
            "SELECT version_id, vector FROM catalog_embeddings WHERE model = @model", new { model }, cancellationToken: ct));
        return rows.ToDictionary(static r => r.Item1, static r => r.Item2, StringComparer.Ordinal);
    }

    public async Task InsertEmbeddingsAsync(string model, IReadOnlyList<(string VersionId, string Vector)> rows, string at, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        foreach (var (versionId, vector) in rows)
        {
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO catalog_embeddings (version_id, model, vector, created_at) VALUES (@versionId, @model, @vector, @at) ON CONFLICT (version_id, model) DO UPDATE SET vector = excluded.vector, created_at = excluded.created_at",
                new { versionId, model, vector, at }, tx, cancellationToken: ct));
        }
        await tx.CommitAsync(ct);
    }

    public async Task UpsertReviewAsync(string serviceId, string userId, int stars, string? text, string at, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO catalog_reviews (service_id, user_id, stars, text, created_at, updated_at) VALUES (@serviceId, @userId, @stars, @text, @at, @at) " +
            "ON CONFLICT (service_id, user_id) DO UPDATE SET stars = excluded.stars, text = excluded.text, updated_at = excluded.updated_at",
            new { serviceId, userId, stars, text, at }, cancellationToken: ct));
    }

    public async Task<List<ReviewRow>> ReviewsAsync(string serviceId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<ReviewRow>(new CommandDefinition(
            "SELECT service_id AS ServiceId, user_id AS UserId, stars AS Stars, text AS Text, created_at AS CreatedAt, updated_at AS UpdatedAt FROM catalog_reviews WHERE service_id = @serviceId ORDER BY updated_at DESC",
            new { serviceId }, cancellationToken: ct))).AsList();
    }
}
