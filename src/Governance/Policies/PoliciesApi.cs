using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Governance.Audit;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Governance.Policies;

public sealed record PolicyVersionDto(int Version, DateTimeOffset CreatedAt, string CreatedBy, string Format, JsonElement Document);

public sealed record PolicyDto(string Id, string Name, string Scope, string? ScopeId, bool Enabled, int CurrentVersion, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    JsonElement Document, IReadOnlyList<PolicyVersionDto>? Versions);

public sealed record PolicyList(IReadOnlyList<PolicyDto> Data);

public sealed record DryRunSample(string? Model, IReadOnlyList<string>? Teams, string? App, string? Classification);

/// <summary>A sample request, and optionally a candidate policy evaluated as if it were stored (replacing one of the same name).</summary>
public sealed record DryRunRequest(DryRunSample? Request, JsonElement? Policy);

public sealed record DeploymentVerdict(string Id, string Provider, string? Region, bool Allowed);

public sealed record DryRunResult(PolicyDecision Decision, IReadOnlyList<DeploymentVerdict> Deployments);

/// <summary><c>/api/v1/policies</c>: versioned policy documents (JSON or YAML), and a dry run.</summary>
internal static class PoliciesApi
{
    private sealed record Row(string Id, string Name, string Scope, string? ScopeId, long Enabled, long CurrentVersion, long CreatedAt, long UpdatedAt, string Document, string Format);

    private const string Select = """
        SELECT p.id AS Id, p.name AS Name, p.scope AS Scope, p.scope_id AS ScopeId, p.enabled AS Enabled, p.current_version AS CurrentVersion,
               p.created_at AS CreatedAt, p.updated_at AS UpdatedAt, v.document AS Document, v.format AS Format
        FROM gov_policies p JOIN gov_policy_versions v ON v.policy_id = p.id AND v.version = p.current_version
        WHERE p.deleted_at IS NULL
        """;

    public static async Task<Ok<PolicyList>> ListAsync(Database database, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<Row>(new CommandDefinition(Select + " ORDER BY p.name", cancellationToken: ct));
        return TypedResults.Ok(new PolicyList(rows.Select(r => ToDto(r, null)).ToList()));
    }

    public static async Task<Results<Ok<PolicyDto>, NotFound>> GetAsync(string id, Database database, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(Select + " AND p.id = @id", new { id }, cancellationToken: ct));
        if (row is null) return TypedResults.NotFound();
        var versions = await c.QueryAsync<(long Version, long CreatedAt, string CreatedBy, string Format, string Document)>(new CommandDefinition(
            "SELECT version, created_at, created_by, format, document FROM gov_policy_versions WHERE policy_id = @id ORDER BY version", new { id }, cancellationToken: ct));
        return TypedResults.Ok(ToDto(row, versions.Select(static v => new PolicyVersionDto((int)v.Version, DateTimeOffset.FromUnixTimeMilliseconds(v.CreatedAt), v.CreatedBy, v.Format, AsJson(v.Document))).ToList()));
    }

    public static async Task<IResult> CreateAsync(HttpContext context, Database database, PolicyEngine engine, IAuditLog audit, TimeProvider time)
    {
        var (doc, text, format, problem) = await ReadDocumentAsync(context.Request);
        if (problem is not null) return problem;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var id = Guid.NewGuid().ToString("N");
        await using (var c = await database.OpenAsync(context.RequestAborted))
        await using (var tx = await c.BeginTransactionAsync(context.RequestAborted))
        {
            if (await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM gov_policies WHERE name = @Name", new { doc!.Name }, tx, cancellationToken: context.RequestAborted)) > 0)
            {
                return Conflict($"A policy named '{doc.Name}' exists; update it with PUT /api/v1/policies/{{id}}.");
            }
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO gov_policies (id, name, scope, scope_id, current_version, enabled, created_at, updated_at) VALUES (@id, @name, @scope, @scopeId, 1, @enabled, @now, @now)",
                new { id, name = doc.Name, scope = doc.Scope, scopeId = doc.ScopeId, enabled = doc.Enabled ? 1 : 0, now }, tx, cancellationToken: context.RequestAborted));
            await InsertVersionAsync(c, tx, id, 1, format, text, now, CallerIdentity.ActorIdOf(context.User), context.RequestAborted);
            await tx.CommitAsync(context.RequestAborted);
        }
        await engine.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "policy.created", "policy", id) with { After = Versioned(doc, 1) }, context.RequestAborted);
        var created = await GetAsync(id, database, context.RequestAborted);
        return TypedResults.Created($"/api/v1/policies/{id}", ((Ok<PolicyDto>)created.Result).Value);
    }

    public static async Task<IResult> UpdateAsync(HttpContext context, string id, Database database, PolicyEngine engine, IAuditLog audit, TimeProvider time)
    {
        var (doc, text, format, problem) = await ReadDocumentAsync(context.Request);
        if (problem is not null) return problem;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        JsonNode? before;
        int version;
        await using (var c = await database.OpenAsync(context.RequestAborted))
        await using (var tx = await c.BeginTransactionAsync(context.RequestAborted))
        {
            var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(Select + " AND p.id = @id", new { id }, tx, cancellationToken: context.RequestAborted));
            if (row is null) return TypedResults.NotFound();
            if (row.Name != doc!.Name && await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM gov_policies WHERE name = @Name", new { doc.Name }, tx, cancellationToken: context.RequestAborted)) > 0)
            {
                return Conflict($"Another policy is named '{doc.Name}'.");
            }
            version = (int)row.CurrentVersion + 1;
            var changed = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE gov_policies SET name = @name, scope = @scope, scope_id = @scopeId, enabled = @enabled, current_version = @version, updated_at = @now WHERE id = @id AND current_version = @previous",
                new { id, name = doc.Name, scope = doc.Scope, scopeId = doc.ScopeId, enabled = doc.Enabled ? 1 : 0, version, previous = row.CurrentVersion, now }, tx, cancellationToken: context.RequestAborted));
            if (changed != 1) return Conflict("The policy changed meanwhile; read it again and retry.");
            await InsertVersionAsync(c, tx, id, version, format, text, now, CallerIdentity.ActorIdOf(context.User), context.RequestAborted);
            await tx.CommitAsync(context.RequestAborted);
            var beforeErrors = new ValidationErrors();
            before = PolicyDocumentParser.ReadText(row.Document, beforeErrors) is JsonObject b ? new JsonObject { ["version"] = row.CurrentVersion, ["document"] = b } : null;
        }
        await engine.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "policy.updated", "policy", id) with { Before = before, After = Versioned(doc, version) }, context.RequestAborted);
        return TypedResults.Ok(((Ok<PolicyDto>)(await GetAsync(id, database, context.RequestAborted)).Result).Value);
    }

    public static async Task<IResult> DeleteAsync(HttpContext context, string id, Database database, PolicyEngine engine, IAuditLog audit, TimeProvider time)
    {
        await using (var c = await database.OpenAsync(context.RequestAborted))
        {
            var changed = await c.ExecuteAsync(new CommandDefinition("UPDATE gov_policies SET deleted_at = @now WHERE id = @id AND deleted_at IS NULL",
                new { id, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: context.RequestAborted));
            if (changed == 0) return TypedResults.NotFound();
        }
        await engine.ReloadAsync(context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, "policy.deleted", "policy", id), context.RequestAborted);
        return TypedResults.NoContent();
    }

    public static async Task<IResult> ReloadAsync(HttpContext context, PolicyEngine engine, GovernanceOptions options, IAuditLog audit)
    {
        await engine.ReloadAsync(context.RequestAborted);
        var snapshot = engine.Snapshot;
        await audit.AppendAsync(AuditEntry.ForRequest(context, "policy.reloaded", "policy", null) with { Outcome = snapshot.Fault is null ? "success" : "failure" }, context.RequestAborted);
        return snapshot.Fault is null
            ? TypedResults.Ok(new { policies = snapshot.All.Count })
            : TypedResults.Problem(
                "The stored policies could not be compiled; gateway calls are " + (options.PolicyFailOpen ? "let through unchecked (Governance:PolicyFailOpen)." : "refused until they are fixed (fail-closed)."),
                statusCode: StatusCodes.Status409Conflict, title: "Policies faulted");
    }

    public static IResult DryRun(DryRunRequest? body, PolicyEngine engine, IDeploymentDirectory deployments)
    {
        var errors = new ValidationErrors();
        var sample = body?.Request;
        if (string.IsNullOrWhiteSpace(sample?.Model)) errors.Add("request.model", "is required");
        var rank = engine.DefaultClassificationRank;
        if (sample?.Classification is { } cls)
        {
            if (Classifications.Rank(cls) is { } r) rank = r;
            else errors.Add("request.classification", $"'{cls}' is not a classification; use {string.Join(", ", Classifications.Levels)}");
        }
        var snapshot = engine.Snapshot;
        if (body?.Policy is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } candidateJson)
        {
            var candidateErrors = new ValidationErrors();
            var node = candidateJson.ValueKind == JsonValueKind.String
                ? PolicyDocumentParser.ReadText(candidateJson.GetString()!, candidateErrors)
                : JsonNode.Parse(candidateJson.GetRawText());
            var candidate = PolicyDocumentParser.Validate(node, candidateErrors);
            foreach (var line in candidateErrors.ToDictionary())
            {
                foreach (var message in line.Value) errors.Add(line.Key == "$" ? "policy" : "policy." + line.Key, message);
            }
            if (candidate is not null)
            {
                snapshot = new PolicySnapshot(snapshot.All.Where(p => p.Name != candidate.Name).Append(new CompiledPolicy("dry-run", 0, candidate)).ToList(), snapshot.Fault);
            }
        }
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        if (snapshot.Fault is not null)
        {
            return TypedResults.Problem("The stored policies could not be compiled, so every gateway call is refused (fail-closed).", statusCode: 409, title: "Policies faulted");
        }
        var configured = deployments.DeploymentsOf(sample!.Model!);
        var decision = snapshot.Evaluate(new PolicyRequest(sample.Model!, sample.Teams ?? [], sample.App, Classifications.Levels[rank]), configured, rank);
        var verdicts = (configured ?? []).Select(d => new DeploymentVerdict(d.Id, d.Provider, d.Region,
            decision.Allowed && (decision.AllowedDeployments is null || decision.AllowedDeployments.Contains(d.Id)))).ToList();
        return TypedResults.Ok(new DryRunResult(decision, verdicts));
    }

    private static async Task<(PolicyDocument? Doc, string Text, string Format, IResult? Problem)> ReadDocumentAsync(HttpRequest request)
    {
        var errors = new ValidationErrors();
        var contentType = request.ContentType ?? "";
        var format = contentType.Contains("yaml", StringComparison.OrdinalIgnoreCase) ? "yaml" : "json";
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var buffer = new char[PolicyDocumentParser.MaxDocumentBytes + 1];
        var read = await reader.ReadBlockAsync(buffer, request.HttpContext.RequestAborted);
        var text = new string(buffer, 0, read);
        if (text.Trim().Length == 0)
        {
            errors.Add("$", "send the policy document as the body (application/json or application/yaml)");
            return (null, text, format, TypedResults.ValidationProblem(errors.ToDictionary()));
        }
        var doc = PolicyDocumentParser.Validate(PolicyDocumentParser.ReadText(text, errors), errors);
        return doc is null
            ? (null, text, format, TypedResults.ValidationProblem(errors.ToDictionary(), title: "The policy document is invalid"))
            : (doc, text, format, null);
    }

    private static Task InsertVersionAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string id, int version, string format, string text, long now, string by, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO gov_policy_versions (policy_id, version, format, document, created_at, created_by) VALUES (@id, @version, @format, @text, @now, @by)",
            new { id, version, format, text, now, by }, tx, cancellationToken: ct));

    private static JsonObject Versioned(PolicyDocument doc, int version) => new() { ["version"] = version, ["document"] = doc.Json.DeepClone() };

    private static IResult Conflict(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    private static PolicyDto ToDto(Row r, IReadOnlyList<PolicyVersionDto>? versions) => new(
        r.Id, r.Name, r.Scope, r.ScopeId, r.Enabled != 0, (int)r.CurrentVersion,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt), DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAt), AsJson(r.Document), versions);

    /// <summary>The stored text (JSON or YAML) as JSON.</summary>
    private static JsonElement AsJson(string text)
    {
        var node = PolicyDocumentParser.ReadText(text, new ValidationErrors());
        return JsonSerializer.SerializeToElement(node, GovernanceJson.Options);
    }
}
