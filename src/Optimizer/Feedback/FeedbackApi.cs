using System.Security.Claims;
using LlmMarketplace.Access.Metering;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Optimizer.Routing;

using static LlmMarketplace.BuildingBlocks.Validation.QueryValues;

namespace LlmMarketplace.Optimizer.Feedback;

/// <summary>The body of <c>POST /v1/feedback</c>: a score in [0, 1] or a label, and an optional comment.</summary>
public sealed record FeedbackRequest(string RequestId, double? Score, string? Label, string? Comment);

/// <summary>Feedback on one gateway call, with the facts of its usage record.</summary>
public sealed record FeedbackDto(
    string Object,
    string RequestId,
    string Model,
    string? Deployment,
    string? KeyId,
    string? TeamId,
    double Score,
    string? Label,
    string? Comment,
    decimal CostUsd,
    double LatencyMs,
    int Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary><c>POST /v1/feedback</c> (OpenAI error envelope) and <c>GET /api/v1/feedback</c>.</summary>
internal static class FeedbackApi
{
    public const int MaxComment = 4000;
    public const int MaxLabel = 64;
    public const int MaxLimit = 10_000;

    /// <summary>Labels that stand for a score when no score is given.</summary>
    private static readonly Dictionary<string, double> LabelScores = new(StringComparer.OrdinalIgnoreCase)
    {
        ["good"] = 1, ["positive"] = 1, ["correct"] = 1, ["thumbs_up"] = 1, ["accept"] = 1,
        ["bad"] = 0, ["negative"] = 0, ["incorrect"] = 0, ["thumbs_down"] = 0, ["reject"] = 0,
        ["neutral"] = 0.5,
    };

    public static async Task PostAsync(HttpContext context, IUsageRecords usage, FeedbackStore store, QualityRouter router, RouterStateLog learned, TimeProvider time, ILogger<FeedbackStore> logger)
    {
        FeedbackRequest? request;
        try
        {
            request = await ParseAsync(context);
        }
        catch (FeedbackInputException ex)
        {
            await OpenAIErrors.InvalidRequestAsync(context, ex.Message, ex.Param, "invalid_value");
            return;
        }
        if (request is null) return;

        var record = await usage.FindByRequestIdAsync(request.RequestId, context.RequestAborted);
        if (record is null || !MayJudge(context.User, record))
        {
            // Another caller's request reads as unknown: feedback does not reveal which request ids exist.
            await OpenAIErrors.WriteAsync(context, StatusCodes.Status404NotFound,
                $"No request with id '{request.RequestId}' was made with this credential. Send the x-request-id of a call the gateway answered.",
                OpenAIErrors.InvalidRequest, "requestId", "request_not_found");
            return;
        }

        var score = request.Score ?? LabelScores[request.Label!];
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var row = new FeedbackRow
        {
            RequestId = record.RequestId,
            Model = record.Model,
            Deployment = record.Deployment,
            KeyId = record.KeyId,
            AppId = record.AppId,
            TeamId = record.TeamId,
            UserId = record.UserId,
            Score = score,
            Label = request.Label,
            Comment = request.Comment,
            CostUsd = record.CostUsd,
            LatencyMs = record.LatencyMs,
            Status = record.Status,
            CreatedMs = now,
            UpdatedMs = now,
        };
        var created = await store.UpsertAsync(row, context.RequestAborted);
        if (created)
        {
            // Only the first judgement teaches the router: an update corrects the record, not the model twice.
            if (router.Learn(record.RequestId, score) is { } observation) await learned.AppendAsync(observation, context.RequestAborted);
        }
        Log.FeedbackStored(logger, record.Model, created);
        context.Response.StatusCode = created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        await context.Response.WriteAsJsonAsync(ToDto(row), context.RequestAborted);
    }

    public static async Task<IResult> ListAsync(HttpContext context, ClaimsPrincipal user, FeedbackStore store, CancellationToken cancellationToken)
    {
        var q = context.Request.Query;
        var errors = new ValidationErrors();
        var (limit, offset) = Page(q, MaxLimit, errors);
        var from = Time(q, "from", errors);
        var to = Time(q, "to", errors);
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());

        var admin = IsAdmin(user);
        var ownKey = IsApiKey(user) ? user.FindFirst(MarketplaceClaims.KeyId)?.Value : null;
        var filter = new FeedbackFilter
        {
            RequestId = Str(q, "requestId"),
            Model = Str(q, "model"),
            Deployment = Str(q, "deployment"),
            KeyId = admin ? Str(q, "keyId") : ownKey ?? Str(q, "keyId"),
            TeamId = Str(q, "teamId") ?? Str(q, "team"),
            FromMs = from?.ToUnixTimeMilliseconds(),
            ToMs = to?.ToUnixTimeMilliseconds(),
            TeamIds = admin || ownKey is not null ? null : user.FindAll(MarketplaceClaims.TeamId).Select(static c => c.Value).ToList(),
        };
        var (rows, total) = await store.QueryAsync(filter, limit, offset, cancellationToken);
        return TypedResults.Ok(new FeedbackPage(rows.Select(ToDto).ToList(), total));
    }

    /// <summary>The key that made the call, the person it was made for, or an admin.</summary>
    private static bool MayJudge(ClaimsPrincipal user, UsageDto record)
    {
        if (IsAdmin(user)) return true;
        if (IsApiKey(user))
        {
            return record.KeyId is not null && user.HasClaim(MarketplaceClaims.KeyId, record.KeyId);
        }
        return record.UserId is not null && user.HasClaim(MarketplaceClaims.UserId, record.UserId);
    }

    private static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(Roles.SuperAdmin) || user.IsInRole(Roles.Admin);

    private static bool IsApiKey(ClaimsPrincipal user) => user.HasClaim(MarketplaceClaims.CredentialKind, MarketplaceClaims.ApiKeyCredential);

    private static async Task<FeedbackRequest?> ParseAsync(HttpContext context)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
        }
        catch (JsonException)
        {
            throw new FeedbackInputException("The body is not valid JSON. Send {\"requestId\": \"...\", \"score\": 0.0..1.0}.", null);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FeedbackInputException("The body must be a JSON object: {\"requestId\": \"...\", \"score\": 0.0..1.0}.", null);
            }
            var requestId = String(root, "requestId", 200)
                ?? throw new FeedbackInputException("requestId is required: the x-request-id header of the call you judge.", "requestId");
            double? score = null;
            if (root.TryGetProperty("score", out var s) && s.ValueKind != JsonValueKind.Null)
            {
                if (s.ValueKind != JsonValueKind.Number || !s.TryGetDouble(out var value) || double.IsNaN(value))
                {
                    throw new FeedbackInputException("score must be a number between 0 and 1.", "score");
                }
                if (value is < 0 or > 1)
                {
                    throw new FeedbackInputException($"score must be between 0 and 1; got {value.ToString(CultureInfo.InvariantCulture)}.", "score");
                }
                score = value;
            }
            var label = String(root, "label", MaxLabel);
            var comment = String(root, "comment", MaxComment);
            if (score is null && label is null)
            {
                throw new FeedbackInputException("Give a score between 0 and 1, or a label (good, bad, neutral, ...).", "score");
            }
            if (score is null && !LabelScores.ContainsKey(label!))
            {
                throw new FeedbackInputException($"The label '{label}' has no score of its own; send a score with it, or one of: {string.Join(", ", LabelScores.Keys)}.", "label");
            }
            return new FeedbackRequest(requestId, score, label, comment);
        }
    }

    private static string? String(JsonElement root, string name, int max)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw new FeedbackInputException($"{name} must be a string.", name);
        var text = value.GetString()!;
        if (text.Length == 0) throw new FeedbackInputException($"{name} must not be empty.", name);
        if (text.Length > max) throw new FeedbackInputException($"{name} is longer than {max} characters.", name);
        return text;
    }

    private static FeedbackDto ToDto(FeedbackRow r) => new(
        "feedback", r.RequestId, r.Model, r.Deployment, r.KeyId, r.TeamId, r.Score, r.Label, r.Comment, r.CostUsd, r.LatencyMs, (int)r.Status,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedMs), DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedMs));

    private sealed class FeedbackInputException(string message, string? param) : Exception(message)
    {
        public string? Param { get; } = param;
    }
}

/// <summary>A page of feedback, newest first.</summary>
public sealed record FeedbackPage(IReadOnlyList<FeedbackDto> Data, long Total);
