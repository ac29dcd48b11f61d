using System.Diagnostics;
using Dapper;
using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Storage;

namespace LlmMarketplace.Governance.Tests.Audit;

/// <summary>The hash chain detects an edited, deleted or reordered entry, through the API and the CLI, on every database.</summary>
public sealed class AuditChainTests
{
    private static async Task<GatewayHost> StartWithEntriesAsync(string provider, int count)
    {
        var host = await Gov.StartOnAsync(provider);
        var audit = host.Service<IAuditLog>();
        for (var i = 0; i < count; i++)
        {
            await audit.AppendAsync(new AuditEntry { Action = "test.event", TargetType = "thing", TargetId = $"t{i}", After = new System.Text.Json.Nodes.JsonObject { ["n"] = i } });
        }
        return host;
    }

    private static async Task TamperAsync(GatewayHost host, string sql)
    {
        var database = host.Service<Database>();
        await using var connection = await database.OpenAsync();
        // The triggers keep the application honest; an attacker with database access drops them first.
        await connection.ExecuteAsync(database.Provider == StorageProvider.Postgres
            ? "DROP TRIGGER gov_audit_no_change ON gov_audit"
            : "DROP TRIGGER gov_audit_no_update; DROP TRIGGER gov_audit_no_delete;");
        await connection.ExecuteAsync(sql);
    }

    private static async Task<JsonElement> VerifyAsync(GatewayHost host) =>
        await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit/verify");

    [Theory]
    [OnEachStorage]
    public async Task An_untouched_chain_verifies_and_the_database_refuses_updates(string provider)
    {
        await using var host = await StartWithEntriesAsync(provider, 5);
        var result = await VerifyAsync(host);
        Assert.True(result.GetProperty("intact").GetBoolean());
        // The five appended, and the master key's sign-in that the verify call itself recorded.
        Assert.Equal(5 + 1, result.GetProperty("checked").GetInt64());

        var database = host.Service<Database>();
        await using var connection = await database.OpenAsync();
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("UPDATE gov_audit SET action = 'x' WHERE seq = 2"));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("DELETE FROM gov_audit WHERE seq = 2"));
    }

    [Theory]
    [OnEachStorage]
    public async Task An_edited_entry_is_reported_as_the_first_broken_link(string provider)
    {
        await using var host = await StartWithEntriesAsync(provider, 6);
        await TamperAsync(host, "UPDATE gov_audit SET after_json = '{\"n\":99}' WHERE seq = 3");
        var result = await VerifyAsync(host);
        Assert.False(result.GetProperty("intact").GetBoolean());
        Assert.Equal(3, result.GetProperty("firstBrokenSeq").GetInt64());
        Assert.Contains("edited", result.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [OnEachStorage]
    public async Task A_deleted_entry_is_reported(string provider)
    {
        await using var host = await StartWithEntriesAsync(provider, 6);
        await TamperAsync(host, "DELETE FROM gov_audit WHERE seq = 4");
        var result = await VerifyAsync(host);
        Assert.False(result.GetProperty("intact").GetBoolean());
        Assert.Equal(5, result.GetProperty("firstBrokenSeq").GetInt64());
        Assert.Contains("missing", result.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [OnEachStorage]
    public async Task A_deleted_entry_whose_successors_were_renumbered_is_still_reported(string provider)
    {
        await using var host = await StartWithEntriesAsync(provider, 6);
        await TamperAsync(host, "DELETE FROM gov_audit WHERE seq = 4; UPDATE gov_audit SET seq = seq - 1 WHERE seq > 4;");
        var result = await VerifyAsync(host);
        Assert.False(result.GetProperty("intact").GetBoolean());
        Assert.Equal(4, result.GetProperty("firstBrokenSeq").GetInt64());
    }

    [Theory]
    [OnEachStorage]
    public async Task Reordered_entries_are_reported(string provider)
    {
        await using var host = await StartWithEntriesAsync(provider, 6);
        // Swap entries 2 and 3 by their sequence numbers.
        await TamperAsync(host, "UPDATE gov_audit SET seq = -2 WHERE seq = 2; UPDATE gov_audit SET seq = 2 WHERE seq = 3; UPDATE gov_audit SET seq = 3 WHERE seq = -2;");
        var result = await VerifyAsync(host);
        Assert.False(result.GetProperty("intact").GetBoolean());
        Assert.Equal(2, result.GetProperty("firstBrokenSeq").GetInt64());
    }

    [Fact]
    public async Task Concurrent_appends_never_fork_the_chain()
    {
        await using var host = await Gov.StartAsync();
        var audit = host.Service<IAuditLog>();
        var before = (await VerifyAsync(host)).GetProperty("checked").GetInt64();
        var seqs = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => audit.AppendAsync(new AuditEntry { Action = "test.concurrent", TargetId = $"c{i}" }))));
        Assert.Equal(50, seqs.Distinct().Count());
        var result = await VerifyAsync(host);
        Assert.True(result.GetProperty("intact").GetBoolean());
        Assert.Equal(before + 50, result.GetProperty("checked").GetInt64());
    }

    [Fact]
    public async Task The_cli_reports_the_first_broken_link_and_exits_non_zero()
    {
        string dataDirectory;
        await using (var host = await StartWithEntriesAsync("sqlite", 4))
        {
            dataDirectory = host.Service<StorageOptions>().DataDirectory;
            var (intactCode, intactOutput) = await RunCliAsync(dataDirectory);
            Assert.True(intactCode == 0, intactOutput);
            Assert.Contains("intact", intactOutput, StringComparison.Ordinal);
            await TamperAsync(host, "UPDATE gov_audit SET actor_id = 'someone-else' WHERE seq = 2");
            var (code, output) = await RunCliAsync(dataDirectory);
            Assert.Equal(1, code);
            Assert.Contains("BROKEN at entry 2", output, StringComparison.Ordinal);
        }
    }

    private static async Task<(int, string)> RunCliAsync(string dataDirectory)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "llm-marketplace.dll"));
        foreach (var arg in new[] { "audit", "verify", "--data", dataDirectory }) info.ArgumentList.Add(arg);
        foreach (var key in info.Environment.Keys.Where(static k => k.StartsWith("LLMM_", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        info.Environment["LLMM_MASTER_KEY"] = "mk-cli-" + Guid.NewGuid().ToString("N");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Wait.ForAsync(process.WaitForExitAsync(), TimeSpan.FromSeconds(60), "audit verify to exit");
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task Audit_entries_are_filtered_paged_and_exported_as_json_lines()
    {
        await using var host = await StartWithEntriesAsync("sqlite", 5);
        var page = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/audit?action=test.event&limit=2&offset=1");
        Assert.Equal(5, page.GetProperty("total").GetInt64());
        var data = page.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, data.Count);
        Assert.Equal("t3", data[0].GetProperty("targetId").GetString()); // newest first: t4, [t3, t2]

        using var export = await host.Client.GetAsync("api/v1/audit?format=jsonl&action=test.event");
        Assert.Equal("application/x-ndjson", export.Content.Headers.ContentType?.MediaType);
        var lines = (await export.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.Equal("t0", JsonDocument.Parse(lines[0]).RootElement.GetProperty("targetId").GetString());

        using var bad = await host.Client.GetAsync("api/v1/audit?limit=0&from=yesterday&format=xml");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await Gov.JsonAsync(bad);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("limit", out _) && errors.TryGetProperty("from", out _) && errors.TryGetProperty("format", out _));
    }
}
