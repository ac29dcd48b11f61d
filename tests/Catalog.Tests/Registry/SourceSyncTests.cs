using LlmMarketplace.Catalog.Tests.Publishing;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Catalog.Tests.Registry;

/// <summary>
/// Registry sources synced through the HTTP API from a registry served by a real Kestrel server on loopback whose
/// content changes between syncs, on SQLite and PostgreSQL.
/// </summary>
public sealed class SourceSyncTests
{
    /// <summary>An OpenRouter models file with the given (id, prompt price per token, context) entries.</summary>
    private static string OpenRouterFile(params (string Id, string Prompt, int Context)[] models) =>
        JsonSerializer.Serialize(new
        {
            data = models.Select(static m => new
            {
                id = m.Id,
                name = "Model " + m.Id.Split('/')[^1],
                description = "A model the registry lists.",
                context_length = m.Context,
                pricing = new { prompt = m.Prompt, completion = "0.000002" },
                architecture = new { input_modalities = new[] { "text" }, output_modalities = new[] { "text" } },
            }),
        });

    /// <summary>A registry at <c>/registry/models.json</c> (its content set by the test) that also answers chats for the listed models.</summary>
    private static async Task<(FakeUpstream Upstream, Action<string> Serve)> StartRegistryAsync()
    {
        var content = "{\"data\":[]}";
        var upstream = await FakeUpstream.StartAsync(async (context, _) =>
        {
            if (context.Request.Path == "/registry/models.json")
            {
                await FakeUpstream.Json(context, Volatile.Read(ref content));
                return;
            }
            if (context.Request.Path == "/registry/broken.json")
            {
                await FakeUpstream.Json(context, "{\"error\":\"down\"}", 503);
                return;
            }
            if (context.Request.Path == "/v1/chat/completions")
            {
                await FakeUpstream.Json(context, Configs.Completion);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status404NotFound;
        });
        return (upstream, value => Volatile.Write(ref content, value));
    }

    internal static async Task<Dictionary<string, string?>> SettingsAsync(string provider)
    {
        var settings = new Dictionary<string, string?>(PublishingFlowTests.DevelopmentCatalog);
        if (provider == "postgres")
        {
            await using var database = await TestDatabases.CreateAsync(provider);
            settings["Storage:Provider"] = "postgres";
            settings["Storage:ConnectionString"] = database.ConnectionString;
        }
        return settings;
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static string[] Ids(JsonElement result, string outcome) =>
        [.. result.GetProperty(outcome).EnumerateArray().Select(static e => e.GetString()!).Order(StringComparer.Ordinal)];

    /// <summary>The outcome of a sync as one line, e.g. <c>created x; updated y; deprecated ; unchanged a,b</c>.</summary>
    private static string Outcome(JsonElement result) =>
        string.Join("; ", new[] { "created", "updated", "deprecated", "unchanged" }.Select(o => o + " " + string.Join(",", Ids(result, o))));

    private static async Task<string[]> ListedModelsAsync(GatewayHost host) =>
        [.. (await JsonAsync(await host.Client.GetAsync("v1/models"), HttpStatusCode.OK)).GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()!)];

    [Theory]
    [OnEachStorage]
    public async Task A_sync_creates_versions_changed_terms_and_deprecates_dropped_models(string provider)
    {
        var (upstream, serve) = await StartRegistryAsync();
        await using var _ = upstream;
        var settings = await SettingsAsync(provider);
        settings["Catalog:Sources:0:Name"] = "registry";
        settings["Catalog:Sources:0:Url"] = upstream.BaseUrl + "/registry/models.json";
        settings["Catalog:Sources:0:Format"] = "openrouter";
        settings["Catalog:Sources:0:IntervalMinutes"] = "0";
        settings["Catalog:Sources:0:Deployments:0:Provider"] = "loop";
        settings["Catalog:Sources:0:Deployments:0:BaseUrl"] = upstream.BaseUrl + "/v1";
        settings["Catalog:Sources:1:Name"] = "broken";
        settings["Catalog:Sources:1:Url"] = upstream.BaseUrl + "/registry/broken.json";
        settings["Catalog:Sources:1:Format"] = "openrouter";
        settings["Catalog:Sources:1:IntervalMinutes"] = "0";
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), settings);
        const string a = "reg/alpha", b = "reg/beta", c = "reg/gamma", d = "reg/delta";

        serve(OpenRouterFile((a, "0.000001", 8192), (b, "0.000001", 8192), (c, "0.000001", 8192)));
        var first = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/registry/sync", null), HttpStatusCode.OK);
        Assert.Equal([a, b, c], Ids(first, "created"));
        Assert.Empty(Ids(first, "updated"));

        // b's price changes, c is dropped, d is new, a stays as it was. A dry run shows it and applies nothing.
        serve(OpenRouterFile((a, "0.000001", 8192), (b, "0.000003", 8192), (d, "0.000001", 32768)));
        var preview = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/registry/sync?dryRun=true", null), HttpStatusCode.OK);
        Assert.True(preview.GetProperty("dryRun").GetBoolean());
        Assert.Equal($"created {d}; updated {b}; deprecated {c}; unchanged {a}", Outcome(preview));
        Assert.DoesNotContain(d, await ListedModelsAsync(host));
        var bService = await JsonAsync(await host.Client.GetAsync("api/v1/services/" + Uri.EscapeDataString(b)), HttpStatusCode.OK);
        Assert.Equal("1.0.0", bService.GetProperty("currentVersion").GetString());

        var second = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/registry/sync", null), HttpStatusCode.OK);
        Assert.Equal($"created {d}; updated {b}; deprecated {c}; unchanged {a}", Outcome(second));
        Assert.Equal("1.1.0", second.GetProperty("versions").GetProperty(b).GetString());

        // The changed price is a new version; the old one stays callable as b@1.0.0 with its own price.
        bService = await JsonAsync(await host.Client.GetAsync("api/v1/services/" + Uri.EscapeDataString(b)), HttpStatusCode.OK);
        Assert.Equal("1.1.0", bService.GetProperty("currentVersion").GetString());
        Assert.Equal(["1.0.0", "1.1.0"], bService.GetProperty("versions").EnumerateArray().Where(static v => v.GetProperty("state").GetString() == "published")
            .Select(static v => v.GetProperty("version").GetString()!).Order(StringComparer.Ordinal).ToArray());
        var models = (await JsonAsync(await host.Client.GetAsync("v1/models"), HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        var bModel = Assert.Single(models, m => m.GetProperty("id").GetString() == b);
        Assert.Equal("0.000003", bModel.GetProperty("pricing").GetProperty("prompt").GetString());
        Assert.Contains(models, m => m.GetProperty("id").GetString() == d);
        // Each model once: the pinned b@1.0.0 is callable but not listed beside b.
        Assert.DoesNotContain(models, static m => m.GetProperty("id").GetString()!.Contains('@', StringComparison.Ordinal));
        using (var pinned = await host.Client.PostAsJsonAsync("v1/chat/completions", new { model = b + "@1.0.0", messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.OK, pinned.StatusCode);
        }

        // The dropped model is deprecated, not deleted: still served, with Deprecation and Sunset headers.
        var cService = await JsonAsync(await host.Client.GetAsync("api/v1/services/" + Uri.EscapeDataString(c)), HttpStatusCode.OK);
        Assert.Equal("deprecated", Assert.Single(cService.GetProperty("versions").EnumerateArray()).GetProperty("state").GetString());
        var cModel = Assert.Single(models, m => m.GetProperty("id").GetString() == c);
        Assert.Equal("deprecated", cModel.GetProperty("lifecycle").GetProperty("state").GetString());
        using (var call = await host.Client.PostAsJsonAsync("v1/chat/completions", new { model = c, messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
            Assert.StartsWith("@", call.Headers.GetValues("Deprecation").Single(), StringComparison.Ordinal);
            Assert.True(DateTimeOffset.Parse(call.Headers.GetValues("Sunset").Single(), System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddDays(29));
        }

        // The same content again changes nothing; a dropped model is deprecated once.
        var third = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/registry/sync", null), HttpStatusCode.OK);
        Assert.Equal($"created ; updated ; deprecated ; unchanged {a},{b},{d}", Outcome(third));

        // Every sync is audited with what it did; dry runs change nothing and are not.
        var audit = await host.Client.GetStringAsync("api/v1/audit?action=catalog.source.synced&limit=10");
        Assert.Contains("registry (openrouter): 3 created, 0 updated, 0 deprecated, 0 unchanged", audit, StringComparison.Ordinal);
        Assert.Contains("registry (openrouter): 1 created, 1 updated, 1 deprecated, 1 unchanged", audit, StringComparison.Ordinal);
        Assert.Contains("registry (openrouter): 0 created, 0 updated, 0 deprecated, 3 unchanged", audit, StringComparison.Ordinal);

        // A source that cannot be read: a 502 problem naming why, recorded on the source.
        var broken = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/broken/sync", null), HttpStatusCode.BadGateway);
        Assert.Contains("503", broken.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var unknown = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/nope/sync", null), HttpStatusCode.NotFound);
        Assert.Contains("registry, broken", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var sources = (await JsonAsync(await host.Client.GetAsync("api/v1/catalog/sources"), HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        var registry = Assert.Single(sources, static s => s.GetProperty("name").GetString() == "registry");
        Assert.Equal("ok", registry.GetProperty("lastStatus").GetString());
        Assert.Equal(3, registry.GetProperty("lastResult").GetProperty("unchanged").GetInt32());
        Assert.True(registry.GetProperty("lastSyncAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
        var failed = Assert.Single(sources, static s => s.GetProperty("name").GetString() == "broken");
        Assert.Equal("failed", failed.GetProperty("lastStatus").GetString());
        Assert.Contains("503", failed.GetProperty("lastError").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Only_administrators_sync_or_see_sources()
    {
        var (upstream, _) = await StartRegistryAsync();
        await using var __ = upstream;
        var settings = new Dictionary<string, string?>
        {
            ["Catalog:Sources:0:Name"] = "registry",
            ["Catalog:Sources:0:Url"] = upstream.BaseUrl + "/registry/models.json",
            ["Catalog:Sources:0:Format"] = "openrouter",
            ["Catalog:Sources:0:IntervalMinutes"] = "0",
        };
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), settings);
        var key = (await JsonAsync(await host.Client.PostAsJsonAsync("api/v1/keys", new { name = "consumer" }), HttpStatusCode.Created)).GetProperty("key").GetString();
        using var consumer = new HttpClient { BaseAddress = host.BaseAddress };
        consumer.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.Equal(HttpStatusCode.Forbidden, (await consumer.PostAsync("api/v1/catalog/sources/registry/sync", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await consumer.GetAsync("api/v1/catalog/sources")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("api/v1/catalog/sources/registry/sync", null)).StatusCode);
        var bad = await JsonAsync(await host.Client.PostAsync("api/v1/catalog/sources/registry/sync?dryRun=maybe", null), HttpStatusCode.BadRequest);
        Assert.Contains("dryRun", bad.ToString(), StringComparison.Ordinal);
    }
}

/// <summary>Sources read from a file in models.dev's api.json shape (providers and models keyed by id), and scheduled syncs.</summary>
public sealed class ModelsDevSourceTests
{
    /// <summary>A small api.json: two providers serving one model, one provider serving another, one provider without an API URL.</summary>
    private const string ApiJson = """
        {
          "alpha-cloud": {
            "id": "alpha-cloud", "name": "Alpha Cloud", "env": ["ALPHA_CLOUD_API_KEY"], "npm": "@ai-sdk/openai-compatible",
            "api": "https://api.alpha-cloud.example/v1", "doc": "https://alpha-cloud.example/docs",
            "models": {
              "tinyco/tiny-chat-1": {
                "id": "tinyco/tiny-chat-1", "name": "Tiny Chat 1", "family": "tiny", "attachment": false, "reasoning": false, "tool_call": true,
                "temperature": true, "knowledge": "2025-01", "release_date": "2025-03-01", "last_updated": "2025-03-01",
                "modalities": {"input": ["text"], "output": ["text"]}, "open_weights": true,
                "cost": {"input": 0.2, "output": 0.6, "cache_read": 0.05}, "limit": {"context": 32768, "output": 4096}
              },
              "tinyco/tiny-embed-1": {
                "id": "tinyco/tiny-embed-1", "name": "Tiny Embed 1", "family": "tiny-embed", "attachment": false, "reasoning": false, "tool_call": false,
                "temperature": false, "release_date": "2025-02-01", "last_updated": "2025-02-01",
                "modalities": {"input": ["text"], "output": ["embeddings"]}, "open_weights": false,
                "cost": {"input": 0.01, "output": 0}, "limit": {"context": 8192, "output": 0}
              }
            }
          },
          "beta-host": {
            "id": "beta-host", "name": "Beta Host", "env": ["BETA_HOST_API_KEY"], "api": "https://beta-host.example/openai/v1",
            "models": {
              "tiny-chat-1": {
                "id": "tiny-chat-1", "name": "Tiny Chat 1", "family": "tiny", "tool_call": true,
                "modalities": {"input": ["text"], "output": ["text"]}, "cost": {"input": 0.25, "output": 0.5}, "limit": {"context": 32768, "output": 8192}
              }
            }
          },
          "gamma-native": {
            "id": "gamma-native", "name": "Gamma (own SDK only)", "env": ["GAMMA_API_KEY"],
            "models": {
              "gamma-large": {
                "id": "gamma-large", "name": "Gamma Large", "family": "gamma",
                "modalities": {"input": ["text", "image"], "output": ["text"]}, "cost": {"input": 3, "output": 15}, "limit": {"context": 200000, "output": 8192}
              }
            }
          }
        }
        """;

    [Theory]
    [OnEachStorage]
    public async Task A_models_dev_file_is_synced_on_schedule_with_a_deployment_per_provider(string provider)
    {
        var file = Path.Combine(Path.GetTempPath(), "llmm-tests", Guid.NewGuid().ToString("N") + "-api.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, ApiJson);
        try
        {
            await using var upstream = await FakeUpstream.StartAsync();
            var settings = await SourceSyncTests.SettingsAsync(provider);
            settings["Catalog:Sources:0:Name"] = "models-dev";
            settings["Catalog:Sources:0:Url"] = file;
            settings["Catalog:Sources:0:Format"] = "models.dev";
            // Scheduled: due at once (never synced), then hourly.
            settings["Catalog:Sources:0:IntervalMinutes"] = "60";
            await using var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), settings);

            JsonElement source = default;
            await Wait.UntilAsync(async () =>
            {
                source = (await host.Client.GetFromJsonAsync<JsonElement>("api/v1/catalog/sources")).GetProperty("data")[0];
                return source.GetProperty("lastStatus").ValueKind == JsonValueKind.String;
            }, TimeSpan.FromSeconds(30), "the scheduled sync to run");
            Assert.Equal("ok", source.GetProperty("lastStatus").GetString());
            Assert.Equal(3, source.GetProperty("lastResult").GetProperty("created").GetInt32());
            Assert.True(source.GetProperty("nextSyncAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(55));
            var audit = await host.Client.GetStringAsync("api/v1/audit?action=catalog.source.synced&limit=10");
            Assert.Contains("models-dev (models.dev): 3 created", audit, StringComparison.Ordinal);

            // One listing for the model two providers serve, with their prices and credentials as references.
            var version = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/tiny-chat-1/versions/1.0.0");
            var listing = version.GetProperty("listing");
            Assert.Equal(32768, listing.GetProperty("contextLength").GetInt32());
            var deployments = listing.GetProperty("deployments").EnumerateArray().ToList();
            Assert.Equal(["alpha-cloud", "beta-host"], deployments.Select(static d => d.GetProperty("provider").GetString()!).Order(StringComparer.Ordinal).ToArray());
            Assert.Equal(0.2m, deployments.Single(static d => d.GetProperty("provider").GetString() == "alpha-cloud").GetProperty("pricing").GetProperty("inputPerMTok").GetDecimal());
            Assert.Equal(0.05m, listing.GetProperty("pricing").GetProperty("cachedInputPerMTok").GetDecimal());
            var embed = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/tiny-embed-1/versions/1.0.0");
            Assert.Equal("embedding", embed.GetProperty("listing").GetProperty("kind").GetString());

            // Neither provider's key is set here, so nothing from the source is listed for calling.
            var models = (await host.Client.GetFromJsonAsync<JsonElement>("v1/models")).GetProperty("data").EnumerateArray().Select(static m => m.GetProperty("id").GetString()).ToList();
            Assert.DoesNotContain("tiny-chat-1", models);
            var service = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/tiny-chat-1");
            Assert.Equal("credential ALPHA_CLOUD_API_KEY, BETA_HOST_API_KEY missing", service.GetProperty("notCallable").GetString());

            // A source of the wrong format is refused and nothing changes.
            await File.WriteAllTextAsync(file, """{"data": []}""");
            using var wrong = await host.Client.PostAsync("api/v1/catalog/sources/models-dev/sync", null);
            Assert.Equal(HttpStatusCode.BadGateway, wrong.StatusCode);
            Assert.Contains("configured as models.dev but serves a openrouter catalog", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("v1/models")).StatusCode);
            var still = await host.Client.GetFromJsonAsync<JsonElement>("api/v1/services/tiny-chat-1");
            Assert.All(still.GetProperty("versions").EnumerateArray(), static v => Assert.Equal("published", v.GetProperty("state").GetString()));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
