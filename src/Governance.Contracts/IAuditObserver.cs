namespace LlmMarketplace.Governance.Contracts;

/// <summary>
/// Hears of every audit entry once it is committed (for example to publish domain events to other systems).
/// Called in order of the trail; an observer must not throw and should be quick.
/// </summary>
public interface IAuditObserver
{
    ValueTask AppendedAsync(AuditEntry entry, long sequence, DateTimeOffset at, CancellationToken cancellationToken);
}
