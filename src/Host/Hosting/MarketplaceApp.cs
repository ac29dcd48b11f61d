using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using LlmMarketplace.Access;
using LlmMarketplace.BuildingBlocks.Distributed;
using LlmMarketplace.BuildingBlocks.Http;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Catalog;
using LlmMarketplace.Gateway;
using LlmMarketplace.Gateway.ChatCompletions;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Shield;
using LlmMarketplace.Governance;
using LlmMarketplace.Insights;
using LlmMarketplace.Optimizer;
using LlmMarketplace.Portal;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Scalar.AspNetCore;

namespace LlmMarketplace.Host.Hosting;

/// <summary>Composes the product: configuration, storage, security, telemetry and every module.</summary>
public static class MarketplaceApp
{
    public static WebApplication Build(HostSettings settings)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = settings.Args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        MarketplaceConfiguration.Apply(builder.Configuration, settings);
        ConfigurationSchema.ThrowIfUnknownSettings(builder.Configuration);
        builder.WebHost.UseKestrel(o => o.AddServerHeader = false);
        var urls = settings.Urls ?? builder.Configuration["Urls"] ?? "http://127.0.0.1:8080";
        builder.WebHost.UseUrls(urls);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        if (builder.Configuration.GetSection("Logging").Exists())
        {
            builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        }
        else
        {
            builder.Logging.SetMinimumLevel(LogLevel.Information);
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Information);
            // A challenge is the normal answer to an anonymous request (every portal page before sign-in): not an event.
            builder.Logging.AddFilter(typeof(MarketplaceAuthenticationHandler).FullName, LogLevel.Warning);
        }

        settings.ConfigureServices?.Invoke(builder.Services);
        builder.AddStorage();
        builder.AddSecurity(settings);
        builder.AddTransportSecurity(urls);
        builder.AddTelemetry();
        builder.AddDistributed();
        builder.AddGateway();
        builder.AddAccess();
        builder.AddGovernance();
        builder.AddShield();
        builder.AddCatalog();
        builder.AddInsights();
        builder.AddOptimizer();
        builder.AddPortal();

        builder.Services.AddProblemDetails();
        builder.AddManagementRateLimits();
        // Binding failures throw, so the management API's error path can name the field (ManagementApiErrors).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(static o => o.ThrowOnBadRequest = true);
        builder.Services.AddOpenApi("v1", OpenApiContract.Configure);
        builder.Services.AddHealthChecks()
            .AddCheck<StorageHealthCheck>("storage", tags: ["ready"]);

        builder.Services.AddSingleton<HttpMetrics>();

        var app = builder.Build();
        app.UseHttpMetrics();
        app.UseTransportSecurity();
        app.UseGatewayTiming();
        app.UseExceptionHandler(static b => b.Run(HandleExceptionAsync));
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseManagementApiErrors();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = static _ => false }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = static c => c.Tags.Contains("ready") }).AllowAnonymous();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        // The human-readable reference of the same document, linked from the portal.
        app.MapScalarApiReference("/api-reference", static o => o
                .WithTitle("LLM Marketplace API")
                .WithOpenApiRoutePattern("/openapi/{documentName}.json"))
            .AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(Policies.Authenticated);
        app.MapGatewayApi();
        app.MapAccessApi();
        app.MapGovernanceApi();
        app.MapShieldApi();
        app.MapCatalogApi();
        app.MapInsightsApi();
        app.MapOptimizerApi();
        app.MapPortal();
        return app;
    }

    private static void UseGatewayTiming(this WebApplication app) =>
        app.Use(static (context, next) =>
        {
            context.Items[GatewayTiming.ItemKey] = Stopwatch.GetTimestamp();
            return next(context);
        });

    private static async Task HandleExceptionAsync(HttpContext context)
    {
        var feature = context.Features.Get<IExceptionHandlerFeature>();
        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("LlmMarketplace.Host");
        if (feature?.Error is BadHttpRequestException bad)
        {
            // A request Kestrel or binding refused outside the management API (which answers its own): the client's fault.
            if (OpenAIErrorWriter.IsDataPlane(context.Request.Path))
            {
                await OpenAIErrorWriter.WriteAsync(context, bad.StatusCode, bad.Message, "invalid_request_error", null, null);
                return;
            }
            await ManagementApiErrors.ProblemAsync(context, bad.StatusCode, bad.Message);
            return;
        }
        if (feature?.Error is { } error)
        {
            logger.LogError(error, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
        }
        if (OpenAIErrorWriter.IsDataPlane(context.Request.Path))
        {
            await OpenAIErrorWriter.WriteAsync(context, 500, "The server had an error while processing your request.", "server_error", null, null);
            return;
        }
        await Results.Problem(statusCode: 500, title: "Internal error").ExecuteAsync(context);
    }

    private static void AddStorage(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>() ?? new StorageOptions();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(sp => new Database(sp.GetRequiredService<StorageOptions>()));
        builder.Services.AddHostedService<MigrationService>();
    }

    private static void AddSecurity(this WebApplicationBuilder builder, HostSettings settings)
    {
        var masterKey = settings.MasterKey ?? Environment.GetEnvironmentVariable(MarketplaceConfiguration.MasterKeyVariable);
        builder.Services
            .AddAuthentication(MarketplaceAuthenticationHandler.SchemeName)
            .AddScheme<MarketplaceAuthenticationOptions, MarketplaceAuthenticationHandler>(
                MarketplaceAuthenticationHandler.SchemeName,
                o => o.MasterKey = string.IsNullOrWhiteSpace(masterKey) ? null : masterKey.Trim());
        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(Policies.Authenticated, p => p.RequireAuthenticatedUser())
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.SuperAdmin, Roles.Admin))
            .AddPolicy(Policies.SuperAdmin, p => p.RequireRole(Roles.SuperAdmin))
            .AddPolicy(Policies.Approver, p => p.RequireRole(Roles.SuperAdmin, Roles.Admin, Roles.Approver))
            .AddPolicy(Policies.Viewer, p => p.RequireRole(Roles.SuperAdmin, Roles.Admin, Roles.Approver, Roles.Viewer));
    }

    /// <summary>The service name every metric and trace carries (<c>service.name</c>).</summary>
    public const string ServiceName = "llm-marketplace";

    /// <summary>The product's version (<c>service.version</c>): the informational version of the build, without the commit.</summary>
    public static string Version { get; } =
        (typeof(MarketplaceApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private static void AddTelemetry(this WebApplicationBuilder builder)
    {
        var otlp = builder.Configuration["Telemetry:OtlpEndpoint"] ?? Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");
        var portalMetrics = builder.Configuration.GetValue("Telemetry:PortalMetrics", false);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceVersion: Version, serviceInstanceId: Environment.MachineName));
        otel.WithMetrics(m =>
        {
            // Every module's meter (Gateway, Access, Shield, Governance, Catalog, Insights and its optimizer, shared
            // state): one pattern, so a module's new meter cannot be left out of the export.
            m.AddMeter("LlmMarketplace.*");
            // The runtime's own meter (.NET 9+): process CPU and memory, GC, thread pool, for the infrastructure dashboard.
            m.AddMeter("System.Runtime");
            m.AddAspNetCoreInstrumentation();
            // Blazor's own instruments (a histogram per component and parameter) are the portal's internals: they made
            // most of /metrics after a few page loads. Off unless Telemetry:PortalMetrics asks for them.
            if (!portalMetrics)
            {
                m.AddView(static instrument => instrument.Meter.Name.StartsWith("Microsoft.AspNetCore.Components", StringComparison.Ordinal)
                    ? MetricStreamConfiguration.Drop
                    : null);
            }
            m.AddPrometheusExporter();
            if (!string.IsNullOrEmpty(otlp)) m.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
        });
        if (!string.IsNullOrEmpty(otlp))
        {
            otel.WithTracing(t =>
            {
                t.AddSource(LlmMarketplace.Gateway.Telemetry.GatewayMetricsNames.Meter);
                t.AddAspNetCoreInstrumentation();
                t.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            });
        }
    }
}

/// <summary>Applies migrations on start (the embedded default), and records the installation's identity.</summary>
internal sealed class MigrationService(Database database, ILogger<MigrationService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var result = Migrator.Run(database, MigrationAssemblies.All);
        if (!result.Successful)
        {
            throw new InvalidOperationException($"Database migration failed: {result.Error}");
        }
        foreach (var script in result.Applied)
        {
            logger.LogInformation("Applied migration {Script}", script);
        }
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = database.Provider == StorageProvider.Postgres
            ? "INSERT INTO instance (id, created_at) SELECT @id, now() WHERE NOT EXISTS (SELECT 1 FROM instance)"
            : "INSERT INTO instance (id, created_at) SELECT @id, @now WHERE NOT EXISTS (SELECT 1 FROM instance)";
        var id = command.CreateParameter();
        id.ParameterName = "@id";
        id.Value = Guid.NewGuid().ToString("N");
        command.Parameters.Add(id);
        if (database.Provider != StorageProvider.Postgres)
        {
            var now = command.CreateParameter();
            now.ParameterName = "@now";
            now.Value = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            command.Parameters.Add(now);
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The assemblies that embed migrations.</summary>
public static class MigrationAssemblies
{
    public static IReadOnlyList<System.Reflection.Assembly> All => [typeof(MigrationService).Assembly, typeof(AccessExtensions).Assembly, typeof(GovernanceExtensions).Assembly, typeof(CatalogExtensions).Assembly, typeof(InsightsExtensions).Assembly, typeof(OptimizerExtensions).Assembly, typeof(GatewayExtensions).Assembly];
}

internal sealed class StorageHealthCheck(Database database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy($"{database.Provider} reachable");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A shared PostgreSQL down is down for every replica: they keep serving known keys from memory and keep usage
            // on local disk, so readiness says degraded rather than taking every replica out of the load balancer.
            return database.Provider == StorageProvider.Postgres
                ? HealthCheckResult.Degraded($"{database.Provider} unreachable: {ex.GetType().Name}; serving known keys from memory, usage kept on local disk")
                : HealthCheckResult.Unhealthy($"{database.Provider} unreachable: {ex.GetType().Name}");
        }
    }
}
