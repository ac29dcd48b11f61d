using System.Diagnostics;
using LlmMarketplace.BuildingBlocks.Security;
using LlmMarketplace.Gateway;
using LlmMarketplace.Gateway.Pipeline;

// The same Gateway module and authentication handler the product uses, composed the way the host composes
// them, without the other modules. Configuration: a JSON file (--config), LLMM_MASTER_KEY, --urls.
var builder = WebApplication.CreateSlimBuilder(args);
if (builder.Configuration["config"] is { } file)
{
    builder.Configuration.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
}
builder.WebHost.UseKestrel(o => o.AddServerHeader = false);
builder.Logging.SetMinimumLevel(LogLevel.Warning);

var masterKey = Environment.GetEnvironmentVariable("LLMM_MASTER_KEY")
    ?? throw new InvalidOperationException("Set LLMM_MASTER_KEY.");
builder.Services
    .AddAuthentication(MarketplaceAuthenticationHandler.SchemeName)
    .AddScheme<MarketplaceAuthenticationOptions, MarketplaceAuthenticationHandler>(
        MarketplaceAuthenticationHandler.SchemeName, o => o.MasterKey = masterKey);
builder.Services.AddAuthorizationBuilder()
    .AddPolicy(Policies.Authenticated, p => p.RequireAuthenticatedUser())
    .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.SuperAdmin, Roles.Admin));
builder.AddGateway();

var app = builder.Build();
app.Use(static (context, next) =>
{
    context.Items[GatewayTiming.ItemKey] = Stopwatch.GetTimestamp();
    return next(context);
});
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/health/ready", static () => "Healthy").AllowAnonymous();
app.MapGatewayApi();
app.Run();
