namespace LlmMarketplace.Governance.Audit;

/// <summary>The <c>audit verify</c> command: walks the chain and reports the first broken link.</summary>
public static class AuditCli
{
    /// <summary>Returns 0 when the chain is intact, 1 when a link is broken (the message names the entry).</summary>
    public static async Task<int> VerifyAsync(IServiceProvider services, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await services.GetRequiredService<AuditLog>().VerifyAsync(cancellationToken);
        if (result.Intact)
        {
            await output.WriteLineAsync(result.ToString());
            return 0;
        }
        await error.WriteLineAsync("error: " + result);
        return 1;
    }
}
