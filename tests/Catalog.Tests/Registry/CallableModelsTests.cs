namespace LlmMarketplace.Catalog.Tests.Registry;

/// <summary>
/// Callable means callable, on the real 364-model OpenRouter catalog: without <c>OPENROUTER_API_KEY</c> none of its
/// models is listed and a call answers a 503 naming the missing credential (no upstream is reached); with the key set,
/// each is listed once. The tests of this class change the process environment, so they run in its collection.
/// </summary>
[Collection(ProcessEnvironment.Name)]
public sealed class CallableModelsTests
{
    private const string Variable = ProcessEnvironment.OpenRouterKey;

    [Theory]
    [OnEachStorage]
    public async Task The_OpenRouter_catalog_is_listed_once_per_model_and_only_with_its_key(string provider)
    {
        var before = Environment.GetEnvironmentVariable(Variable);
        Environment.SetEnvironmentVariable(Variable, null);
        try
        {
            await using var upstream = await FakeUpstream.StartAsync();
            var settings = await SourceSyncTests.SettingsAsync(provider);
            settings["Catalog:RefreshSeconds"] = "1";
            await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), settings);
            await using (var file = File.OpenRead(CatalogData.OpenRouterFile))
            {
                using var imported = await host.Client.PostAsync("api/v1/catalog/import", new StreamContent(file) { Headers = { ContentType = new("application/json") } });
                Assert.True(imported.StatusCode == HttpStatusCode.OK, await imported.Content.ReadAsStringAsync());
            }
            var slugs = JsonDocument.Parse(await File.ReadAllTextAsync(CatalogData.OpenRouterFile)).RootElement.GetProperty("data").EnumerateArray()
                .Select(static m => m.GetProperty("id").GetString()!).ToHashSet(StringComparer.Ordinal);
            Assert.Equal(364, slugs.Count);

            // Without the key: no imported model is listed, and nothing is listed twice under a pinned version.
            var listed = await ListedAsync(host);
            Assert.DoesNotContain(listed, slugs.Contains);
            Assert.DoesNotContain(listed, static id => id.Contains('@', StringComparison.Ordinal));
            Assert.Contains("gpt-4o-mini", listed);

            // A call answers why, in OpenAI's envelope, before any upstream is tried.
            var model = slugs.Order(StringComparer.Ordinal).First();
            using var call = await host.Client.PostAsJsonAsync("v1/chat/completions", new { model, messages = new[] { new { role = "user", content = "hi" } } });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, call.StatusCode);
            var error = (await call.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal("model_not_callable", error.GetProperty("code").GetString());
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.Equal("model", error.GetProperty("param").GetString());
            Assert.Contains("credential OPENROUTER_API_KEY missing", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.False(call.Headers.Contains("x-gateway-deployment"));

            // The call reached no deployment, so the listing's measured uptime does not count it.
            var requestId = call.Headers.GetValues("x-request-id").Single();
            var usage = (await host.Client.GetFromJsonAsync<JsonElement>("api/v1/usage?requestId=" + requestId)).GetProperty("data");
            var record = Assert.Single(usage.EnumerateArray());
            Assert.Equal(503, record.GetProperty("status").GetInt32());
            Assert.Equal(JsonValueKind.Null, record.GetProperty("deployment").ValueKind);

            // Administrators see why on the service.
            var service = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/" + Uri.EscapeDataString(model));
            Assert.Equal("credential OPENROUTER_API_KEY missing", service.GetProperty("notCallable").GetString());

            // With the key set (on every replica: here, this process), each model is listed once.
            Environment.SetEnvironmentVariable(Variable, "sk-or-test-" + Guid.NewGuid().ToString("N"));
            await Wait.UntilAsync(async () => (await ListedAsync(host)).Count(slugs.Contains) == slugs.Count, TimeSpan.FromSeconds(30), "every OpenRouter model to be listed once its key is set");
            listed = await ListedAsync(host);
            Assert.Equal(listed.Count, listed.Distinct(StringComparer.Ordinal).Count());
            Assert.DoesNotContain(listed, static id => id.Contains('@', StringComparison.Ordinal));
            service = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/" + Uri.EscapeDataString(model));
            Assert.Equal(JsonValueKind.Null, service.GetProperty("notCallable").ValueKind);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Variable, before);
        }
    }

    private static async Task<List<string>> ListedAsync(GatewayHost host) =>
        [.. (await host.Client.GetFromJsonAsync<JsonElement>("v1/models")).GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()!)];
}
