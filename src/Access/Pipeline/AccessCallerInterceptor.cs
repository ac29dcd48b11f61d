using LlmMarketplace.Gateway.Pipeline;

namespace LlmMarketplace.Access.Pipeline;

/// <summary>
/// Access in the caller stage: resolves who is calling (the key, its app, team and user; or a person and the team named
/// in <c>OpenAI-Project</c>) and refuses unknown or revoked keys and teams the caller does not belong to. Limits and
/// the usage record follow in the limits stage (<see cref="AccessInterceptor"/>).
/// </summary>
internal sealed class AccessCallerInterceptor(AccessInterceptor access) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Caller;

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) =>
        ValueTask.FromResult(access.Identify(call));

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
