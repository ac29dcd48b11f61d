using System.Diagnostics.Metrics;

namespace LlmMarketplace.Governance.Telemetry;

/// <summary>Names the host needs to export the module's telemetry.</summary>
public static class GovernanceTelemetry
{
    public const string MeterName = "LlmMarketplace.Governance";
}

/// <summary>Governance's meter: logins, lockouts, policy decisions and audit appends.</summary>
internal sealed class GovernanceMetrics
{
    public const string MeterName = GovernanceTelemetry.MeterName;

    private readonly Counter<long> _logins;
    private readonly Counter<long> _policyDecisions;
    private readonly Counter<long> _auditAppends;
    private readonly Counter<long> _tokenRejections;

    public GovernanceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _logins = meter.CreateCounter<long>("llmm.governance.logins", "{login}", "Login attempts by outcome.");
        _policyDecisions = meter.CreateCounter<long>("llmm.governance.policy.decisions", "{decision}", "Policy decisions on gateway calls.");
        _auditAppends = meter.CreateCounter<long>("llmm.governance.audit.appends", "{entry}", "Entries appended to the audit trail.");
        _tokenRejections = meter.CreateCounter<long>("llmm.governance.token.rejections", "{token}", "Access tokens refused (invalid signature or format, expired, revoked).");
    }

    public void Login(string outcome) => _logins.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void PolicyDecision(string outcome) => _policyDecisions.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void AuditAppended() => _auditAppends.Add(1);

    /// <summary>Counted, not audited: a flood of forged tokens must not flood the audit trail.</summary>
    public void TokenRejected(string reason) => _tokenRejections.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
