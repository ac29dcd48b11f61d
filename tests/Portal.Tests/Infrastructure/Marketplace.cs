using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Portal.Tests.Infrastructure;

/// <summary>
/// The real host with a real OpenAI-compatible upstream on loopback, and the API calls (with the master key) that set
/// the scene a test starts from: teams, people, published services, plans. What the test is about happens in the browser.
/// </summary>
public sealed class Marketplace : IAsyncDisposable
{
    public const string Answer = "Hello from the fake upstream.";

    private Marketplace(GatewayHost host, FakeUpstream upstream)
    {
        Host = host;
        Upstream = upstream;
    }

    public GatewayHost Host { get; }

    public FakeUpstream Upstream { get; }

    public static async Task<Marketplace> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var upstream = await FakeUpstream.StartAsync(AnswerAsync);
        var overrides = new Dictionary<string, string?> { ["Catalog:AllowLoopbackEndpoints"] = "true" };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) overrides[k] = v;
        var host = await GatewayHost.StartAsync(Configs.OpenAI(upstream.BaseUrl + "/v1"), overrides);
        return new Marketplace(host, upstream);
    }

    /// <summary>Lists models, answers chats, and streams <see cref="Answer"/> in three chunks with a usage chunk last.</summary>
    private static async Task AnswerAsync(HttpContext context, int _)
    {
        if (context.Request.Method == "GET" && context.Request.Path == "/v1/models")
        {
            await FakeUpstream.Json(context, """{"object":"list","data":[{"id":"tiny-1","object":"model"}]}""");
            return;
        }
        if (context.Request.Path != "/v1/chat/completions")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var model = FakeUpstream.Received(context).Json.GetProperty("model").GetString();
        if (!FakeUpstream.WantsStream(context))
        {
            await FakeUpstream.Json(context, $$$"""{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"{{{model}}}","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}""");
            return;
        }
        static string Chunk(string model, string content) =>
            $$$"""data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"{{{model}}}","choices":[{"index":0,"delta":{"content":{{{JsonSerializer.Serialize(content)}}}},"finish_reason":null}]}""";
        await FakeUpstream.Sse(context,
        [
            Chunk(model!, "Hello "),
            Chunk(model!, "from the "),
            Chunk(model!, "fake upstream."),
            $$$"""data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"{{{model}}}","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}""",
            "data: [DONE]",
        ]);
    }

    public async Task<string> CreateTeamAsync(string name)
    {
        var team = await SendAsync(HttpMethod.Post, "api/v1/teams", new { name });
        return team.GetProperty("id").GetString()!;
    }

    /// <summary>
    /// The two sides of a sale: a publishing team (<c>orbit-...</c>) with its member <c>owner</c> and a consuming team
    /// (<c>buyers-...</c>) with its member <c>buyer</c>, who sign in with the passwords the tests type.
    /// </summary>
    public async Task<PublisherAndConsumer> PublisherAndConsumerAsync()
    {
        var publisherName = "orbit-" + Guid.NewGuid().ToString("N")[..6];
        var publisherTeam = await CreateTeamAsync(publisherName);
        var consumerName = "buyers-" + Guid.NewGuid().ToString("N")[..6];
        var consumerTeam = await CreateTeamAsync(consumerName);
        await CreateUserAsync("owner", "correct horse battery staple", [], publisherTeam);
        await CreateUserAsync("buyer", "another long passphrase", [], consumerTeam);
        return new PublisherAndConsumer(publisherName, publisherTeam, consumerName, consumerTeam);
    }

    /// <summary>A local user with a password that needs no change at first sign-in.</summary>
    public Task CreateUserAsync(string username, string password, string[] roles, params string[] teamIds) =>
        SendAsync(HttpMethod.Post, "api/v1/users", new
        {
            username,
            password,
            roles,
            teams = teamIds.Select(static id => new { id }).ToArray(),
            mustChangePassword = false,
        });

    public object Listing(string slug, string name, string publisher, string version = "1.0.0") => new
    {
        slug,
        version,
        name,
        description = "A **tiny** chat model for the portal's end-to-end tests.\n\n- streams\n- costs little",
        publisher,
        category = "text-generation",
        tags = new[] { "tests", "tiny" },
        kind = "chat",
        inputModalities = new[] { "text" },
        outputModalities = new[] { "text" },
        contextLength = 32768,
        maxOutputTokens = 1024,
        pricing = new { inputPerMTok = 2.0m, outputPerMTok = 6.0m },
        deployments = new[] { new { provider = "fake-cloud", upstreamModel = "tiny-1", baseUrl = Upstream.BaseUrl + "/v1", region = "eu-west", dataResidency = "EU" } },
        sla = new { p95LatencyMs = 800, uptimePercent = 99.9 },
    };

    /// <summary>Creates, submits and approves a listing (all with the master key); answers the service id.</summary>
    public async Task<string> PublishAsync(string slug, string name, string publisher)
    {
        var created = await SendAsync(HttpMethod.Post, "api/v1/services", Listing(slug, name, publisher));
        var serviceId = created.GetProperty("id").GetString()!;
        var submitted = await SendAsync(HttpMethod.Post, $"api/v1/services/{serviceId}/versions/1.0.0/submit", null);
        await SendAsync(HttpMethod.Post, $"api/v1/approvals/{submitted.GetProperty("id").GetString()}/approve", null);
        return serviceId;
    }

    public async Task<string> CreatePlanAsync(string model, string name)
    {
        var plan = await SendAsync(HttpMethod.Post, "api/v1/plans", new { name, model, rpm = 60 });
        return plan.GetProperty("id").GetString()!;
    }

    /// <summary>One chat completion ("hello") to <paramref name="model"/> with the API key <paramref name="key"/>; answers its status.</summary>
    public async Task<HttpStatusCode> ChatAsync(string key, string model)
    {
        using var client = new HttpClient { BaseAddress = Host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var content = new StringContent($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("v1/chat/completions", content);
        return response.StatusCode;
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await Host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{method} {path} answered {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

/// <summary>The publishing and the consuming team of <see cref="Marketplace.PublisherAndConsumerAsync"/>: names and ids.</summary>
public sealed record PublisherAndConsumer(string PublisherName, string PublisherTeam, string ConsumerName, string ConsumerTeam);
