using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;
using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Insights.Telemetry;

/// <summary>
/// The operator-facing <c>marketplace_*</c> metrics of gateway calls (Prometheus names; OpenTelemetry instrument names
/// with dots): tokens and cost consumed through the gateway by model and provider. They sit beside the GenAI
/// semantic-convention metrics the gateway records; the HTTP request metrics are the host's.
/// </summary>
internal sealed class MarketplaceMetrics(IMeterFactory meterFactory)
{
    private readonly Counter<long> _tokens = meterFactory.Counter<long>(InsightsMetrics.MeterName, "marketplace.tokens.consumed", "{token}",
        "Tokens consumed through the gateway, by model, provider and type (input, output).");
    private readonly Counter<double> _cost = meterFactory.Counter<double>(InsightsMetrics.MeterName, "marketplace.cost.usd", "{USD}",
        "Cost in US dollars of the calls through the gateway, by model and provider.");
    private readonly Counter<long> _gatewayRequests = meterFactory.Counter<long>(InsightsMetrics.MeterName, "marketplace.gateway.requests", "{request}",
        "Gateway calls by model, provider, status code and cache result.");

    public void Call(GatewayCall call)
    {
        var provider = call.Provider ?? "none";
        var model = new KeyValuePair<string, object?>("gen_ai.request.model", call.Model);
        var providerTag = new KeyValuePair<string, object?>("gen_ai.provider.name", provider);
        if (call.Usage.PromptTokens > 0) _tokens.Add(call.Usage.PromptTokens, model, providerTag, new KeyValuePair<string, object?>("gen_ai.token.type", "input"));
        if (call.Usage.CompletionTokens > 0) _tokens.Add(call.Usage.CompletionTokens, model, providerTag, new KeyValuePair<string, object?>("gen_ai.token.type", "output"));
        if (call.CostUsd > 0) _cost.Add((double)call.CostUsd, model, providerTag);
        _gatewayRequests.Add(1, model, providerTag, new KeyValuePair<string, object?>("http.response.status_code", call.Status), new KeyValuePair<string, object?>("gateway.cache", call.CacheStatus));
    }
}

/// <summary>Records tokens, cost and outcome of every gateway call once it is known.</summary>
internal sealed class MetricsInterceptor(MarketplaceMetrics metrics) : IGatewayInterceptor
{
    public Gateway.Pipeline.GatewayStage Stage => Gateway.Pipeline.GatewayStage.Metering;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        metrics.Call(call);
        return ValueTask.CompletedTask;
    }
}
