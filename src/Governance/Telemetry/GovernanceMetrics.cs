using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Telemetry;

namespace LlmMarketplace.Governance.Telemetry;

/// <summary>Names the host needs to export the module's telemetry.</summary>
public static class GovernanceTelemetry
{
    public const string MeterName = "LlmMarketplace.Governance";
}

/// <summary>Governance's meter: logins, lockouts, policy decisions and audit appends.</summary>
internal sealed class GovernanceMetrics(IMeterFactory meterFactory)
{
    public const string MeterName = GovernanceTelemetry.MeterName;

    private readonly Counter<long> _logins = meterFactory.Counter<long>(MeterName, "llmm.governance.logins", "{login}", "Login attempts by outcome.");
    private readonly Counter<long> _policyDecisions = meterFactory.Counter<long>(MeterName, "llmm.governance.policy.decisions", "{decision}",
        "Policy decisions on gateway calls.");
    private readonly Counter<long> _auditAppends = meterFactory.Counter<long>(MeterName, "llmm.governance.audit.appends", "{entry}", "Entries appended to the audit trail.");
    private readonly Counter<long> _tokenRejections = meterFactory.Counter<long>(MeterName, "llmm.governance.token.rejections", "{token}",
        "Access tokens refused (invalid signature or format, expired, revoked).");

    public void Login(string outcome) => _logins.Add(1, "outcome", outcome);

    public void PolicyDecision(string outcome) => _policyDecisions.Add(1, "outcome", outcome);

    public void AuditAppended() => _auditAppends.Add(1);

    /// <summary>Counted, not audited: a flood of forged tokens must not flood the audit trail.</summary>
    public void TokenRejected(string reason) => _tokenRejections.Add(1, "reason", reason);
}
