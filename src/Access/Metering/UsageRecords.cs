namespace LlmMarketplace.Access.Metering;

/// <summary>Reads usage records for other modules (for example the optimizer's feedback), without their touching Access tables.</summary>
public interface IUsageRecords
{
    /// <summary>The newest usage record of a request id (the <c>x-request-id</c> the gateway answered), or null when there is none.</summary>
    Task<UsageDto?> FindByRequestIdAsync(string requestId, CancellationToken cancellationToken = default);
}

internal sealed class UsageRecords(AccessStore store) : IUsageRecords
{
    public async Task<UsageDto?> FindByRequestIdAsync(string requestId, CancellationToken cancellationToken = default)
    {
        var (rows, _) = await store.QueryUsageAsync(new UsageFilter { RequestId = requestId }, 1, 0, cancellationToken);
        return rows.Count == 0 ? null : UsageApi.ToDto(rows[0]);
    }
}
