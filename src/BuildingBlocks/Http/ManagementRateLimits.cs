using System.Globalization;
using System.Threading.RateLimiting;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using LlmMarketplace.BuildingBlocks.Security;

namespace LlmMarketplace.BuildingBlocks.Http;

/// <summary>The expensive kinds of management operation, each with its own per-caller limit.</summary>
public enum ManagementLimit
{
    /// <summary>Catalog search and autocomplete.</summary>
    Search,

    /// <summary>Analytics, usage and audit queries over many rows.</summary>
    Analytics,

    /// <summary>Exports of personal data.</summary>
    Export,

    /// <summary>Catalog imports.</summary>
    Import,
}

/// <summary>One limit: <see cref="PermitLimit"/> requests per <see cref="WindowSeconds"/> per caller.</summary>
public sealed record RateLimit
{
    public int PermitLimit { get; init; }

    public int WindowSeconds { get; init; } = 60;
}

/// <summary><c>Management:RateLimits</c>: per-caller limits on expensive management operations.</summary>
public sealed record ManagementRateLimitOptions
{
    public const string SectionName = "Management:RateLimits";

    /// <summary>False turns every management limit off.</summary>
    public bool Enabled { get; init; } = true;

    public RateLimit Search { get; init; } = new() { PermitLimit = 600 };

    public RateLimit Analytics { get; init; } = new() { PermitLimit = 300 };

    public RateLimit Export { get; init; } = new() { PermitLimit = 30 };

    public RateLimit Import { get; init; } = new() { PermitLimit = 30 };

    public RateLimit For(ManagementLimit limit) => limit switch
    {
        ManagementLimit.Search => Search,
        ManagementLimit.Analytics => Analytics,
        ManagementLimit.Export => Export,
        _ => Import,
    };
}

/// <summary>
/// Per-caller rate limits on the expensive management operations (search, analytics, exports, imports): a fixed window
/// per caller (its key, user or service account; its IP address when anonymous), answered 429 problem details with
/// <c>Retry-After</c>.
/// </summary>
public static class ManagementRateLimits
{
    public static string PolicyName(ManagementLimit limit) => "management-" + limit.ToString().ToLowerInvariant();

    public static IHostApplicationBuilder AddManagementRateLimits(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.ReadValidated<ManagementRateLimitOptions>(ManagementRateLimitOptions.SectionName, static (o, errors) =>
        {
            foreach (var limit in Enum.GetValues<ManagementLimit>())
            {
                var value = o.For(limit);
                var path = $"{ManagementRateLimitOptions.SectionName}:{limit}";
                if (value.PermitLimit < 1) errors.Add($"{path}:PermitLimit", "must be at least 1");
                if (value.WindowSeconds is < 1 or > 86_400) errors.Add($"{path}:WindowSeconds", "must be between 1 and 86400");
            }
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = static (context, _) => RejectAsync(context);
            foreach (var limit in Enum.GetValues<ManagementLimit>())
            {
                var value = options.For(limit);
                o.AddPolicy(PolicyName(limit), context => options.Enabled
                    ? RateLimitPartition.GetFixedWindowLimiter(Caller(context), _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = value.PermitLimit,
                        Window = TimeSpan.FromSeconds(value.WindowSeconds),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                    : RateLimitPartition.GetNoLimiter("off"));
            }
        });
        return builder;
    }

    /// <summary>Puts an endpoint under the per-caller limit of its kind.</summary>
    public static TBuilder RequireManagementRateLimit<TBuilder>(this TBuilder builder, ManagementLimit limit) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(PolicyName(limit));

    /// <summary>Who is limited: the credential's principal, else the client's address.</summary>
    private static string Caller(HttpContext context) =>
        context.User.Identity?.IsAuthenticated == true
            ? "principal:" + CallerIdentity.ActorIdOf(context.User)
            : "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    private static async ValueTask RejectAsync(OnRejectedContext context)
    {
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        var http = context.HttpContext;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await TypedResults.Problem(
            detail: $"Too many requests of this kind from this caller; retry after {seconds} s.",
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too Many Requests").ExecuteAsync(http);
    }
}
