namespace LlmMarketplace.Catalog.Tests.Publishing;

/// <summary>Layered validation through the API: every problem at once, with JSON paths.</summary>
public sealed class ValidationTests : IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object body)
    {
        var response = await _host.Client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task Every_problem_of_a_listing_is_reported_at_once_with_its_path()
    {
        var (status, body) = await PostAsync("api/v1/services", new
        {
            slug = "Bad Slug!",
            version = "1.0",
            name = "",
            publisher = "acme",
            kind = "chat",
            description = "Call it with sk-abcdefghijklmnopqrstuvwxyz123456",
            tags = new[] { "OK", "fine" },
            contextLength = 1000,
            maxOutputTokens = 2000,
            deployments = new object[]
            {
                new { provider = "a", upstreamModel = "m", baseUrl = "http://models.example.com/v1", apiKey = "sk-live-secret" },
                new { provider = "b", upstreamModel = "m", baseUrl = "https://user:pw@models.example.com/v1" },
                new { provider = "c", upstreamModel = "m", baseUrl = "https://10.1.2.3/v1" },
                new { provider = "d", upstreamModel = "m", baseUrl = "http://127.0.0.1:9/v1" },
            },
        });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = body.GetProperty("errors");
        string[] expected = ["slug", "version", "name", "description", "tags[0]", "maxOutputTokens", "deployments[0].baseUrl", "deployments[0].apiKey", "deployments[1].baseUrl", "deployments[2].baseUrl", "deployments[3].baseUrl"];
        foreach (var path in expected)
        {
            Assert.True(errors.TryGetProperty(path, out _), $"no error for {path}: {errors}");
        }
        Assert.Contains("AllowLoopbackEndpoints", errors.GetProperty("deployments[3].baseUrl")[0].GetString(), StringComparison.Ordinal);
        // Nothing half-written.
        Assert.Equal(HttpStatusCode.NotFound, (await _host.Client.GetAsync("api/v1/services/Bad Slug!")).StatusCode);
    }

    [Fact]
    public async Task A_malformed_body_is_a_problem_with_the_path_of_the_field()
    {
        var response = await _host.Client.PostAsync("api/v1/services", new StringContent("""{"slug":"x/y","contextLength":"many"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(body.GetProperty("errors").TryGetProperty("contextLength", out _), body.ToString());
    }

    [Fact]
    public async Task Openapi_services_need_a_valid_openapi_3_document()
    {
        var slug = "docs/" + Guid.NewGuid().ToString("N")[..8];
        const string valid = """
            {"openapi":"3.0.3","info":{"title":"Rerank","version":"1.0.0"},
             "paths":{"/rerank":{"post":{"responses":{"200":{"description":"ranked"}}}}}}
            """;
        var (ok, created) = await PostAsync("api/v1/services", new { slug, version = "1.0.0", name = "Reranker", publisher = "acme", kind = "openapi", openApi = valid });
        Assert.True(ok == HttpStatusCode.Created, created.ToString());

        var (bad, body) = await PostAsync("api/v1/services", new { slug = slug + "-bad", version = "1.0.0", name = "Broken", publisher = "acme", kind = "openapi", openApi = """{"openapi":"3.0.3","info":{"title":"x"},"paths":{}}""" });
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Contains(body.GetProperty("errors").EnumerateObject(), static p => p.Name.StartsWith("openApi", StringComparison.Ordinal));

        var (missing, body2) = await PostAsync("api/v1/services", new { slug = slug + "-none", version = "1.0.0", name = "None", publisher = "acme", kind = "openapi" });
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.True(body2.GetProperty("errors").TryGetProperty("openApi", out _));
    }

    [Fact]
    public async Task Lifecycle_rules_answer_409_and_422_problem_details()
    {
        var slug = "acme/" + Guid.NewGuid().ToString("N")[..8];
        var listing = new { slug, version = "1.0.0", name = "X", publisher = "acme", kind = "openapi", openApi = """{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}}}""" };
        var (created, body) = await PostAsync("api/v1/services", listing);
        Assert.Equal(HttpStatusCode.Created, created);
        var escaped = Uri.EscapeDataString(slug); // a slug with '/' travels escaped; the id works as well
        var (again, _) = await PostAsync("api/v1/services", listing);
        Assert.Equal(HttpStatusCode.Conflict, again);
        var (dup, dupBody) = await PostAsync($"api/v1/services/{escaped}/versions", listing);
        Assert.Equal(HttpStatusCode.Conflict, dup);
        Assert.Equal("Duplicate version", dupBody.GetProperty("title").GetString());
        var (badVersion, bvBody) = await PostAsync($"api/v1/services/{escaped}/versions", listing with { version = "v2" });
        Assert.Equal(HttpStatusCode.BadRequest, badVersion);
        Assert.Contains("Semantic Version", bvBody.GetProperty("errors").GetProperty("version")[0].GetString(), StringComparison.Ordinal);
        var retire = await _host.Client.PostAsync($"api/v1/services/{body.GetProperty("id").GetString()}/versions/1.0.0/retire", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, retire.StatusCode);
        Assert.Equal("application/problem+json", retire.Content.Headers.ContentType?.MediaType);
        var approveDraft = await _host.Client.PostAsync($"api/v1/approvals/{body.GetProperty("versions")[0].GetProperty("id").GetString()}/approve", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, approveDraft.StatusCode);
    }

    [Fact]
    public async Task Management_endpoints_need_credentials()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("api/v1/services", new { slug = "a/b" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/approvals")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/search?q=x")).StatusCode);
    }
}
