namespace LlmMarketplace.Access.Tests.Keys;

/// <summary>API keys through the real host: shown once, stored hashed, authenticated from memory, scoped, expired, revoked, rotated.</summary>
public class ApiKeyTests() : AccessHostTests(new Usage(10, 5))
{
    [Fact]
    public async Task Limits_above_two_billion_are_stored_and_read_back_on_every_storage()
    {
        var created = await CreateKeyAsync(Host, new { name = "huge", team = "huge-team", rpm = 3_000_000_000L, tpm = 1_000_000_000_000L });
        var one = await GetJsonAsync(Host.Client, $"api/v1/keys/{created.GetProperty("id").GetString()}");
        Assert.Equal(3_000_000_000L, one.GetProperty("rpm").GetInt64());
        Assert.Equal(1_000_000_000_000L, one.GetProperty("tpm").GetInt64());
    }

    [Fact]
    public async Task A_created_key_is_shown_once_works_on_every_model_and_is_stored_only_as_a_hash()
    {
        var created = await CreateKeyAsync(Host, new { name = "ci", team = "search-team", rpm = 600, tpm = 100000, budgetUsd = 10.0, budgetPeriod = "monthly" });
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("key").GetString()!;
        Assert.StartsWith("llmm-", secret, StringComparison.Ordinal);
        Assert.True(secret.Length >= 48, "a 256-bit secret");
        Assert.Equal(secret[..12], created.GetProperty("prefix").GetString());
        Assert.Equal(600, created.GetProperty("rpm").GetInt64());
        Assert.Equal(10.0m, created.GetProperty("budgetUsd").GetDecimal());

        // Never again: neither the list nor the key's own page carries the secret.
        var listed = await GetJsonAsync(Host.Client, "api/v1/keys");
        Assert.DoesNotContain(secret, listed.GetRawText(), StringComparison.Ordinal);
        var one = await GetJsonAsync(Host.Client, $"api/v1/keys/{id}");
        Assert.Equal(JsonValueKind.Null, one.GetProperty("key").ValueKind);

        // The database holds the SHA-256 of the secret, not the secret.
        var database = Path.Combine(Host.Service<LlmMarketplace.BuildingBlocks.Storage.StorageOptions>().DataDirectory, "llm-marketplace.db");
        await using (var connection = await Host.Service<LlmMarketplace.BuildingBlocks.Storage.Database>().OpenAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT hash FROM access_keys WHERE id = @id";
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@id";
            parameter.Value = id;
            command.Parameters.Add(parameter);
            var hash = (string)(await command.ExecuteScalarAsync())!;
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret))), hash);
            // The secret is nowhere in the table, in any column.
            command.CommandText = "SELECT COUNT(*) FROM access_keys WHERE hash = @secret OR name = @secret OR id = @secret";
            var secretParameter = command.CreateParameter();
            secretParameter.ParameterName = "@secret";
            secretParameter.Value = secret;
            command.Parameters.Add(secretParameter);
            Assert.Equal(0L, Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }
        foreach (var file in new[] { database, database + "-wal" }.Where(File.Exists))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
            Assert.DoesNotContain(secret, await reader.ReadToEndAsync(), StringComparison.Ordinal);
        }

        using var client = ClientWithKey(Host, secret);
        using var chat = await ChatAsync(client, "gpt-4o-mini");
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using var free = await ChatAsync(client, "free-model");
        Assert.Equal(HttpStatusCode.OK, free.StatusCode);
    }

    [Fact]
    public async Task Missing_malformed_unknown_revoked_and_expired_keys_are_401_invalid_api_key_in_OpenAIs_envelope()
    {
        var created = await CreateKeyAsync(Host, new { name = "to-revoke" });
        var secret = created.GetProperty("key").GetString()!;
        using var client = ClientWithKey(Host, secret);
        using (var ok = await ChatAsync(client)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using var revoke = await Host.Client.DeleteAsync($"api/v1/keys/{created.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        using (var revoked = await ChatAsync(client))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
            Assert.Equal("invalid_api_key", (await ErrorAsync(revoked)).GetProperty("code").GetString());
        }

        foreach (var bad in new[] { "llmm-" + new string('A', 43), "llmm-", "not-a-key", secret + "x" })
        {
            using var badClient = ClientWithKey(Host, bad);
            using var response = await ChatAsync(badClient);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", (await ErrorAsync(response)).GetProperty("code").GetString());
        }

        using var anonymous = new HttpClient { BaseAddress = Host.BaseAddress };
        using (var none = await ChatAsync(anonymous))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
            Assert.Equal("invalid_api_key", (await ErrorAsync(none)).GetProperty("code").GetString());
        }

        var soon = await CreateKeyAsync(Host, new { name = "expiring", expiresAt = DateTimeOffset.UtcNow.AddSeconds(2) });
        using var expiring = ClientWithKey(Host, soon.GetProperty("key").GetString()!);
        using (var before = await ChatAsync(expiring)) Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        var expiresAt = soon.GetProperty("expiresAt").GetDateTimeOffset();
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow > expiresAt, TimeSpan.FromSeconds(10), "the key's expiry");
        using var after = await ChatAsync(expiring);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal("invalid_api_key", (await ErrorAsync(after)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_key_scoped_to_models_is_refused_with_403_outside_its_scope()
    {
        var created = await CreateKeyAsync(Host, new { name = "scoped", models = new[] { "free-model" } });
        using var client = ClientWithKey(Host, created.GetProperty("key").GetString()!);
        using (var inside = await ChatAsync(client, "free-model")) Assert.Equal(HttpStatusCode.OK, inside.StatusCode);
        using var outside = await ChatAsync(client, "gpt-4o-mini");
        Assert.Equal(HttpStatusCode.Forbidden, outside.StatusCode);
        var error = await ErrorAsync(outside);
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal("model_not_allowed", error.GetProperty("code").GetString());

        // The key's model list shows only its models; the master key sees them all.
        var listed = await GetJsonAsync(client, "v1/models");
        Assert.Equal(["free-model"], listed.GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()!).ToArray());
        using (var hidden = await client.GetAsync("v1/models/gpt-4o-mini")) Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        var all = await GetJsonAsync(Host.Client, "v1/models");
        Assert.Contains("gpt-4o-mini", all.GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Rotation_keeps_the_old_secret_for_the_overlap_only()
    {
        var created = await CreateKeyAsync(Host, new { name = "rotating" });
        var id = created.GetProperty("id").GetString()!;
        var old = created.GetProperty("key").GetString()!;

        var rotated = await PostJsonAsync(Host.Client, $"api/v1/keys/{id}/rotate", new { overlapSeconds = 3600 }, HttpStatusCode.OK);
        var fresh = rotated.GetProperty("key").GetString()!;
        Assert.NotEqual(old, fresh);
        Assert.Equal(id, rotated.GetProperty("id").GetString());
        using (var oldClient = ClientWithKey(Host, old))
        using (var during = await ChatAsync(oldClient)) Assert.Equal(HttpStatusCode.OK, during.StatusCode);

        var again = await PostJsonAsync(Host.Client, $"api/v1/keys/{id}/rotate", new { overlapSeconds = 0 }, HttpStatusCode.OK);
        var newest = again.GetProperty("key").GetString()!;
        using (var freshClient = ClientWithKey(Host, fresh))
        using (var gone = await ChatAsync(freshClient)) Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
        using (var oldClient = ClientWithKey(Host, old))
        using (var gone = await ChatAsync(oldClient)) Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
        using var newestClient = ClientWithKey(Host, newest);
        using var works = await ChatAsync(newestClient);
        Assert.Equal(HttpStatusCode.OK, works.StatusCode);
        Assert.Equal(2, (await UsageOfKeyAsync(Host, id)).Length);
    }

    [Fact]
    public async Task Invalid_key_requests_answer_problem_details_listing_every_error()
    {
        using var response = await Host.Client.PostAsJsonAsync("api/v1/keys", new { name = "", rpm = 0, tpm = -5, budgetUsd = -1, budgetPeriod = "yearly", models = new[] { "no-such-model" }, role = "root" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        foreach (var field in new[] { "name", "rpm", "tpm", "budgetUsd", "budgetPeriod", "models[0]", "role" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"missing error for {field}: {errors}");
        }
    }

    [Fact]
    public async Task Bodies_of_the_wrong_shape_are_problem_details_naming_the_field()
    {
        using var wrongType = await Host.Client.PostAsync("api/v1/keys", new StringContent("""{"name":"x","rpm":"lots"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        var errors = JsonDocument.Parse(await wrongType.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty("rpm", out _), errors.ToString());

        using var notJson = await Host.Client.PostAsync("api/v1/teams", new StringContent("{name:", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal("application/problem+json", notJson.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task An_api_key_cannot_mint_keys_and_sees_only_its_team()
    {
        var a = await CreateKeyAsync(Host, new { name = "a", team = "team-a-" + Guid.NewGuid().ToString("N") });
        var b = await CreateKeyAsync(Host, new { name = "b", team = "team-b-" + Guid.NewGuid().ToString("N") });
        using var client = ClientWithKey(Host, a.GetProperty("key").GetString()!);
        using var mint = await client.PostAsJsonAsync("api/v1/keys", new { name = "escalate", team = a.GetProperty("team").GetString() });
        Assert.Equal(HttpStatusCode.Forbidden, mint.StatusCode);
        var listed = await GetJsonAsync(client, "api/v1/keys");
        var ids = listed.GetProperty("data").EnumerateArray().Select(static k => k.GetProperty("id").GetString()).ToList();
        Assert.Contains(a.GetProperty("id").GetString(), ids);
        Assert.DoesNotContain(b.GetProperty("id").GetString(), ids);
        using var revokeOther = await client.DeleteAsync($"api/v1/keys/{b.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NotFound, revokeOther.StatusCode);
        using var createTeam = await client.PostAsJsonAsync("api/v1/teams", new { name = "x" });
        Assert.Equal(HttpStatusCode.Forbidden, createTeam.StatusCode);
    }
}

/// <summary>The same tests on PostgreSQL.</summary>
public sealed class ApiKeyTestsOnPostgres : ApiKeyTests
{
    protected override string Provider => "postgres";
}
