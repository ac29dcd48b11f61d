using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Optimizer.Statistics;
using Microsoft.AspNetCore.Http.HttpResults;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.Optimizer.Experiments;

/// <summary><c>/api/v1/experiments</c>: create, read, results, stop, promote.</summary>
internal static class ExperimentsApi
{
    /// <summary>Request parameters a variant may set; the model, messages and streaming stay the client's.</summary>
    internal static readonly HashSet<string> Parameters = new(StringComparer.Ordinal)
    {
        "temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed", "stop",
        "reasoning_effort", "n", "logit_bias", "response_format", "verbosity",
    };

    public static async Task<Results<Created<ExperimentDto>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateExperimentRequest request, HttpContext context, IGatewayModelCatalog models, ExperimentStore store, ExperimentDirectory directory,
        TimeProvider time, IAuditLog audit, ILogger<ExperimentStore> logger, CancellationToken cancellationToken)
    {
        var errors = new ValidationErrors();
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name)) errors.Add("name", "Give the experiment a name.");
        else if (name.Length > 200) errors.Add("name", "The name is longer than 200 characters.");
        ModelConfig? model = null;
        if (string.IsNullOrWhiteSpace(request.Model)) errors.Add("model", "Name the model alias the experiment runs on (what clients send as model).");
        else if (!models.TryGetModel(request.Model, out model)) errors.Add("model", $"The gateway serves no model '{request.Model}'.");
        else if (model.Kind != ModelKind.Chat) errors.Add("model", "Experiments run on chat models.");

        var allocation = request.Allocation ?? Allocation.Fixed;
        if (allocation is not (Allocation.Fixed or Allocation.Thompson)) errors.Add("allocation", "allocation is fixed or thompson.");
        var stickyBy = request.StickyBy ?? StickyBy.User;
        if (stickyBy is not (StickyBy.User or StickyBy.Key)) errors.Add("stickyBy", "stickyBy is user (the request's user field, else the caller) or key (the caller).");

        var variants = request.Variants ?? [];
        if (variants.Count is < 2 or > 5) errors.Add("variants", "An experiment has 2 to 5 variants.");
        var minShare = request.MinShare ?? (allocation == Allocation.Thompson ? 0.05 : 0);
        if (minShare < 0 || (variants.Count > 0 && minShare * variants.Count > 1)) errors.Add("minShare", "minShare is at least 0 and at most 1 / the number of variants.");
        if (request.MaxCostPerCallUsd is <= 0) errors.Add("maxCostPerCallUsd", "Set a positive average cost per call in USD, or leave it out.");
        if (request.MaxCostPerCallUsd is not null && allocation != Allocation.Thompson) errors.Add("maxCostPerCallUsd", "The cost cap steers adaptive allocation: set allocation to thompson.");

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < variants.Count; i++)
        {
            var v = variants[i];
            var path = $"variants[{i}]";
            if (v is null)
            {
                errors.Add(path, "A variant is an object with a name, a share and a deployment and/or parameters.");
                continue;
            }
            if (string.IsNullOrWhiteSpace(v.Name) || v.Name.Length > 64 || v.Name.Any(static c => c is '/' or < ' ' or > '~'))
                errors.Add($"{path}.name", "Give each variant a short printable name without '/'.");
            else if (!names.Add(v.Name)) errors.Add($"{path}.name", $"The name '{v.Name}' is used twice.");
            if (v.Deployment is not null && model is not null && !model.Deployments.Any(d => d.Id == v.Deployment))
                errors.Add($"{path}.deployment", $"The model '{model.Name}' has no deployment '{v.Deployment}'; its deployments are {string.Join(", ", model.Deployments.Select(static d => d.Id))}.");
            if (v.Parameters is { } parameters)
            {
                foreach (var key in parameters.Select(static p => p.Key))
                {
                    if (!Parameters.Contains(key)) errors.Add($"{path}.parameters.{key}", $"A variant may set only {string.Join(", ", Parameters.Order(StringComparer.Ordinal))}.");
                }
            }
            if (allocation == Allocation.Fixed && v.Share is <= 0 or > 1) errors.Add($"{path}.share", "Each share is in (0, 1].");
            if (allocation == Allocation.Thompson && v.Share is < 0 or > 1) errors.Add($"{path}.share", "An initial share is in [0, 1].");
        }
        if (allocation == Allocation.Fixed && variants.Count > 0 && variants.All(static v => v is not null) && Math.Abs(variants.Sum(static v => v.Share) - 1) > 1e-6)
            errors.Add("variants", $"The shares add up to {variants.Sum(static v => v.Share).ToString("0.###", CultureInfo.InvariantCulture)}; they must add up to 1.");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        // Adaptive experiments start evenly (no evidence yet); fixed ones keep their shares.
        var stored = variants.Select(v => allocation == Allocation.Thompson ? v with { Share = 1.0 / variants.Count } : v).ToList();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new ExperimentRow
        {
            Id = "exp_" + Guid.NewGuid().ToString("N")[..16],
            Name = name!,
            Model = model!.Name,
            Status = ExperimentStatus.Running,
            Allocation = allocation,
            StickyBy = stickyBy,
            MinShare = minShare,
            MaxCostPerCall = request.MaxCostPerCallUsd,
            Variants = JsonSerializer.Serialize(stored, ExperimentJson.Options),
            CreatedBy = CallerIdentity.ActorIdOf(context.User),
            CreatedMs = now,
            UpdatedMs = now,
        };
        if (!await store.InsertAsync(row, cancellationToken))
        {
            return TypedResults.Problem($"The model '{model.Name}' already has an experiment that steers its traffic; stop it first.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
        await directory.RefreshAsync(cancellationToken);
        var dto = ToDto(row, directory);
        await AuditAsync(audit, context, "experiment.created", row.Id, null, JsonSerializer.SerializeToNode(dto, ExperimentJson.Options), cancellationToken);
        Log.ExperimentChanged(logger, row.Id, row.Model, row.Status);
        return TypedResults.Created($"/api/v1/experiments/{row.Id}", dto);
    }

    public static async Task<Ok<ExperimentList>> ListAsync(ExperimentStore store, ExperimentDirectory directory, CancellationToken cancellationToken)
    {
        var rows = await store.ListAsync(cancellationToken);
        return TypedResults.Ok(new ExperimentList(rows.Select(r => ToDto(r, directory)).ToList()));
    }

    public static async Task<Results<Ok<ExperimentDto>, NotFound>> GetAsync(string id, ExperimentStore store, ExperimentDirectory directory, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } row ? TypedResults.Ok(ToDto(row, directory)) : TypedResults.NotFound();

    public static async Task<Results<Ok<ExperimentResults>, NotFound>> ResultsAsync(string id, ExperimentStore store, ExperimentDirectory directory, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is not { } row) return TypedResults.NotFound();
        var calls = await store.CallsAsync(id, cancellationToken);
        return TypedResults.Ok(ExperimentAnalysis.Analyze(ToDto(row, directory), calls));
    }

    public static async Task<Results<Ok<ExperimentDto>, NotFound, ProblemHttpResult>> StopAsync(
        string id, HttpContext context, ExperimentStore store, ExperimentDirectory directory, TimeProvider time, IAuditLog audit, ILogger<ExperimentStore> logger, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is not { } row) return TypedResults.NotFound();
        if (row.Status == ExperimentStatus.Stopped) return TypedResults.Problem("The experiment is already stopped.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        return await SetStatusAsync(row, ExperimentStatus.Stopped, row.Winner, "experiment.stopped", context, store, directory, time, audit, logger, cancellationToken);
    }

    public static async Task<Results<Ok<ExperimentDto>, NotFound, ValidationProblem, ProblemHttpResult>> PromoteAsync(
        string id, PromoteRequest? request, HttpContext context, ExperimentStore store, ExperimentDirectory directory, TimeProvider time,
        IAuditLog audit, ILogger<ExperimentStore> logger, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is not { } row) return TypedResults.NotFound();
        if (row.Status == ExperimentStatus.Promoted) return TypedResults.Problem($"The experiment already promoted '{row.Winner}'.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        var variants = ReadVariants(row.Variants);
        string winner;
        if (request?.Variant is { Length: > 0 } chosen)
        {
            if (variants.All(v => v.Name != chosen))
            {
                var errors = new ValidationErrors();
                errors.Add("variant", $"The experiment has no variant '{chosen}'; its variants are {string.Join(", ", variants.Select(static v => v.Name))}.");
                return TypedResults.ValidationProblem(errors.ToDictionary());
            }
            winner = chosen;
        }
        else
        {
            var results = ExperimentAnalysis.Analyze(ToDto(row, directory), await store.CallsAsync(id, cancellationToken));
            if (results.Best is not { } best)
            {
                var errors = new ValidationErrors();
                errors.Add("variant", "No variant has feedback yet: name the variant to promote.");
                return TypedResults.ValidationProblem(errors.ToDictionary());
            }
            winner = best;
        }
        if (row.Status == ExperimentStatus.Stopped)
        {
            // Promoting a stopped experiment makes it steer traffic again: only if no other experiment took the model.
            var other = (await store.ActiveAsync(cancellationToken)).FirstOrDefault(e => e.Model == row.Model && e.Id != row.Id);
            if (other is not null) return TypedResults.Problem($"Experiment {other.Id} now steers the model '{row.Model}'.", statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
        return await SetStatusAsync(row, ExperimentStatus.Promoted, winner, "experiment.promoted", context, store, directory, time, audit, logger, cancellationToken);
    }

    /// <summary>Stores a stop or a promotion, makes routing follow it at once, audits it (before and after) and answers the experiment.</summary>
    private static async Task<Ok<ExperimentDto>> SetStatusAsync(ExperimentRow row, string status, string? winner, string action, HttpContext context,
        ExperimentStore store, ExperimentDirectory directory, TimeProvider time, IAuditLog audit, ILogger logger, CancellationToken cancellationToken)
    {
        var before = ToDto(row, directory);
        row.Status = status;
        row.Winner = winner;
        row.UpdatedMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        await store.UpdateStatusAsync(row.Id, row.Status, row.Winner, row.UpdatedMs, cancellationToken);
        await directory.RefreshAsync(cancellationToken);
        var after = ToDto(row, directory);
        await AuditAsync(audit, context, action, row.Id, JsonSerializer.SerializeToNode(before, ExperimentJson.Options), JsonSerializer.SerializeToNode(after, ExperimentJson.Options), cancellationToken);
        Log.ExperimentChanged(logger, row.Id, row.Model, row.Status);
        return TypedResults.Ok(after);
    }

    internal static IReadOnlyList<VariantDto> ReadVariants(string json) =>
        JsonSerializer.Deserialize<List<VariantDto>>(json, ExperimentJson.Options) ?? [];

    private static ExperimentDto ToDto(ExperimentRow r, ExperimentDirectory directory)
    {
        var variants = ReadVariants(r.Variants);
        var shares = r.Status switch
        {
            ExperimentStatus.Promoted => variants.Select(v => v.Name == r.Winner ? 1.0 : 0.0).ToArray(),
            ExperimentStatus.Stopped => variants.Select(static _ => 0.0).ToArray(),
            _ => directory.SharesOf(r.Id) is { Length: > 0 } live ? live : variants.Select(static v => v.Share).ToArray(),
        };
        return new ExperimentDto(r.Id, r.Name, r.Model, r.Status, r.Allocation, r.StickyBy, r.MinShare, r.MaxCostPerCall, variants, shares, r.Winner,
            DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedMs), DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedMs));
    }

    private static async Task AuditAsync(IAuditLog audit, HttpContext context, string action, string id, JsonNode? before, JsonNode? after, CancellationToken cancellationToken)
    {
        var entry = AuditEntry.ForRequest(context, action, "experiment", id) with { Before = before, After = after };
        await audit.AppendAsync(entry, cancellationToken);
    }
}

/// <summary>The experiments, newest first.</summary>
public sealed record ExperimentList(IReadOnlyList<ExperimentDto> Data);
