using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Gateway.Tests.Pipeline;

/// <summary>The pipeline's stages run in the order the gateway declares, whatever order the modules registered in.</summary>
public sealed class PipelineStageTests
{
    [Fact]
    public async Task The_product_host_runs_every_modules_interceptors_in_stage_order()
    {
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("http://127.0.0.1:9"));

        var ordered = host.Service<GatewayInterceptors>().Ordered
            .Select(static i => $"{i.Stage}:{i.GetType().Name}")
            .ToList();

        Assert.Equal(
        [
            "Caller:AccessCallerInterceptor",
            "Policy:PolicyInterceptor",
            "Limits:AccessInterceptor",
            "Content:ShieldInterceptor",
            "Routing:CallabilityInterceptor",
            "Routing:DeprecationInterceptor",
            "Routing:ExperimentInterceptor",
            "Metering:MetricsInterceptor",
            "Metering:RouteOutcomeInterceptor",
        ], ordered);
    }

    [Fact]
    public void Registration_order_does_not_change_the_pipeline_order()
    {
        IGatewayInterceptor[] registered =
        [
            new Probe.Metering(), new Probe.Routing(), new Probe.Content(), new Probe.Limits(), new Probe.Policy(), new Probe.Caller(), new Probe.AlsoRouting(),
        ];

        var forwards = new GatewayInterceptors(registered).Ordered.Select(static i => i.GetType().Name).ToList();
        var backwards = new GatewayInterceptors(registered.Reverse()).Ordered.Select(static i => i.GetType().Name).ToList();

        Assert.Equal(["Caller", "Policy", "Limits", "Content", "AlsoRouting", "Routing", "Metering"], forwards);
        Assert.Equal(forwards, backwards);
    }

    private static class Probe
    {
        public abstract class Base(GatewayStage stage) : IGatewayInterceptor
        {
            public GatewayStage Stage { get; } = stage;

            public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

            public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
        }

        public sealed class Caller() : Base(GatewayStage.Caller);
        public sealed class Policy() : Base(GatewayStage.Policy);
        public sealed class Limits() : Base(GatewayStage.Limits);
        public sealed class Content() : Base(GatewayStage.Content);
        public sealed class Routing() : Base(GatewayStage.Routing);
        public sealed class AlsoRouting() : Base(GatewayStage.Routing);
        public sealed class Metering() : Base(GatewayStage.Metering);
    }
}
