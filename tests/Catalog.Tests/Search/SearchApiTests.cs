namespace LlmMarketplace.Catalog.Tests.Search;

/// <summary>
/// Discovery through the HTTP API on the real OpenRouter catalog imported with the admin import endpoint; its key is set
/// (in the process environment, hence the collection) so that its models are callable and listed in /v1/models.
/// </summary>
[Collection(ProcessEnvironment.Name)]
public sealed class SearchApiTests : IAsyncLifetime
{
    private GatewayHost _host = null!;
    private string? _keyBefore;

    public async Task InitializeAsync()
    {
        _keyBefore = Environment.GetEnvironmentVariable(ProcessEnvironment.OpenRouterKey);
        Environment.SetEnvironmentVariable(ProcessEnvironment.OpenRouterKey, "sk-or-test-" + Guid.NewGuid().ToString("N"));
        _host = await GatewayHost.StartAsync(Configs.OpenAI("https://upstream.invalid/v1"));
        using var content = new StreamContent(File.OpenRead(CatalogData.OpenRouterFile));
        content.Headers.ContentType = new("application/json");
        var response = await _host.Client.PostAsync("api/v1/catalog/import", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        Environment.SetEnvironmentVariable(ProcessEnvironment.OpenRouterKey, _keyBefore);
    }

    private async Task<JsonElement> GetAsync(string url, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await _host.Client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Search_answers_the_contract_shape_with_the_slug_clients_send()
    {
        var body = await GetAsync("api/v1/search?q=claude%203.5%20haiku&limit=5");
        var first = body.GetProperty("results")[0];
        Assert.Equal("anthropic/claude-3.5-haiku", first.GetProperty("slug").GetString());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("id").GetString()));
        Assert.Equal("Anthropic: Claude 3.5 Haiku", first.GetProperty("name").GetString());
        Assert.True(first.GetProperty("score").GetDouble() > 0);
        Assert.True(body.GetProperty("total").GetInt32() >= 1);
        Assert.True(body.GetProperty("facets").GetProperty("provider").GetProperty("anthropic").GetInt32() >= 1);
        Assert.True(body.GetProperty("results").GetArrayLength() <= 5);
    }

    [Fact]
    public async Task Filters_narrow_results_and_facets_count_them()
    {
        var all = await GetAsync("api/v1/search?limit=0");
        // The file's 364 models and the two the gateway's configuration serves (listed by the platform).
        Assert.Equal(364 + 2, all.GetProperty("total").GetInt32());
        var visionCheapLong = await GetAsync("api/v1/search?modality=image&maxPrice=1&minContext=200000&limit=100");
        var results = visionCheapLong.GetProperty("results").EnumerateArray().ToList();
        Assert.NotEmpty(results);
        Assert.Equal(results.Count, visionCheapLong.GetProperty("total").GetInt32());
        Assert.All(results, r =>
        {
            Assert.Contains("image", r.GetProperty("inputModalities").EnumerateArray().Select(static m => m.GetString()));
            Assert.True(r.GetProperty("inputPerMTok").GetDecimal() <= 1);
            Assert.True(r.GetProperty("contextLength").GetInt32() >= 200000);
        });
        Assert.True(visionCheapLong.GetProperty("total").GetInt32() < all.GetProperty("total").GetInt32());

        var openai = await GetAsync("api/v1/search?provider=openai&limit=0");
        Assert.Equal(all.GetProperty("facets").GetProperty("provider").GetProperty("openai").GetInt32(), openai.GetProperty("total").GetInt32());
        var tagged = await GetAsync("api/v1/search?q=model&tag=roleplay&limit=50");
        Assert.All(tagged.GetProperty("results").EnumerateArray(), static r => Assert.Contains("roleplay", r.GetProperty("tags").EnumerateArray().Select(static t => t.GetString())));
    }

    [Fact]
    public async Task Sorts_and_paging_are_consistent()
    {
        var cheap = await GetAsync("api/v1/search?q=gpt&sort=price&limit=10");
        var prices = cheap.GetProperty("results").EnumerateArray().Select(static r => r.GetProperty("inputPerMTok").GetDecimal() + r.GetProperty("outputPerMTok").GetDecimal()).ToList();
        Assert.Equal(prices.Order().ToList(), prices);
        // The newest of the file's models: the configured models the platform lists were listed when the host started.
        var newest = await GetAsync("api/v1/search?sort=newest&limit=5");
        Assert.Equal("anthropic/claude-opus-4.7-fast", newest.GetProperty("results").EnumerateArray()
            .First(static r => !r.GetProperty("tags").EnumerateArray().Any(static t => t.GetString() == "gateway")).GetProperty("slug").GetString());
        var page1 = await GetAsync("api/v1/search?q=llama&limit=5&offset=0");
        var page2 = await GetAsync("api/v1/search?q=llama&limit=5&offset=5");
        var ids1 = page1.GetProperty("results").EnumerateArray().Select(static r => r.GetProperty("id").GetString()).ToHashSet();
        Assert.DoesNotContain(page2.GetProperty("results").EnumerateArray(), r => ids1.Contains(r.GetProperty("id").GetString()));
        Assert.Equal(page1.GetProperty("total").GetInt32(), page2.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Unknown_filters_and_sorts_are_400_problems_naming_them()
    {
        var body = await GetAsync("api/v1/search?q=x&colour=red&sort=cheapest&limit=-1", HttpStatusCode.BadRequest);
        var errors = body.GetProperty("errors");
        Assert.True(errors.TryGetProperty("colour", out _));
        Assert.Contains("cheapest", errors.GetProperty("sort")[0].GetString(), StringComparison.Ordinal);
        Assert.True(errors.TryGetProperty("limit", out _));
    }

    [Fact]
    public async Task Typos_still_find_the_model()
    {
        var body = await GetAsync("api/v1/search?q=mixtrall%208x22b&limit=3");
        Assert.Equal("mistralai/mixtral-8x22b-instruct", body.GetProperty("results")[0].GetProperty("slug").GetString());
    }

    [Fact]
    public async Task Autocomplete_completes_prefixes_and_forgives_typos()
    {
        var prefix = await GetAsync("api/v1/autocomplete?q=lyri");
        Assert.StartsWith("google/lyria", prefix.GetProperty("suggestions")[0].GetProperty("slug").GetString(), StringComparison.Ordinal);
        var fuzzy = await GetAsync("api/v1/autocomplete?q=perplexty%20sonar");
        Assert.StartsWith("perplexity/sonar", fuzzy.GetProperty("suggestions")[0].GetProperty("slug").GetString(), StringComparison.Ordinal);
        await GetAsync("api/v1/autocomplete?q=", HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Similar_services_share_the_family()
    {
        var body = await GetAsync($"api/v1/services/{Uri.EscapeDataString("anthropic/claude-sonnet-4.5")}/similar?limit=5");
        var slugs = body.GetProperty("results").EnumerateArray().Select(static r => r.GetProperty("slug").GetString()!).ToList();
        Assert.DoesNotContain("anthropic/claude-sonnet-4.5", slugs);
        Assert.StartsWith("anthropic/", slugs[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_review_per_user_and_the_rating_filters_search()
    {
        var slug = Uri.EscapeDataString("mistralai/mistral-nemo");
        var first = await _host.Client.PostAsJsonAsync($"api/v1/services/{slug}/reviews", new { stars = 2, text = "meh" });
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var second = await _host.Client.PostAsJsonAsync($"api/v1/services/{slug}/reviews", new { stars = 5, text = "great after all" });
        var reviews = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, reviews.GetProperty("count").GetInt32());
        Assert.Equal(5, reviews.GetProperty("average").GetDouble());
        var rated = await GetAsync("api/v1/search?minRating=4.5&limit=10");
        Assert.Contains(rated.GetProperty("results").EnumerateArray(), static r => r.GetProperty("slug").GetString() == "mistralai/mistral-nemo");
        var bad = await _host.Client.PostAsJsonAsync($"api/v1/services/{slug}/reviews", new { stars = 6 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Imported_models_appear_in_v1_models_with_openrouter_fields()
    {
        await Wait.UntilAsync(() => _host.Client.GetStringAsync("v1/models").Result.Contains("anthropic/claude-3.5-haiku", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "imported models in /v1/models");
        var models = await GetAsync("v1/models");
        var haiku = models.GetProperty("data").EnumerateArray().Single(static m => m.GetProperty("id").GetString() == "anthropic/claude-3.5-haiku");
        Assert.Equal("Anthropic: Claude 3.5 Haiku", haiku.GetProperty("name").GetString());
        Assert.Equal("published", haiku.GetProperty("lifecycle").GetProperty("state").GetString());
        Assert.Equal("openrouter", haiku.GetProperty("deployments")[0].GetProperty("provider").GetString());
        Assert.False(string.IsNullOrEmpty(haiku.GetProperty("pricing").GetProperty("prompt").GetString()));
        // The configured model keeps its place.
        Assert.Contains(models.GetProperty("data").EnumerateArray(), static m => m.GetProperty("id").GetString() == "gpt-4o-mini");
    }
}
