using LlmMarketplace.Gateway.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace LlmMarketplace.Gateway.Tests.Pipeline;

/// <summary>
/// An interceptor's <see cref="IStreamTextFilter"/> sees a streamed chat answer's text as it passes: what it releases is
/// what the client gets (held text released at the choice's end), and a refusal ends the stream with an error event
/// before the refused text.
/// </summary>
public sealed class StreamTextFilterTests : IAsyncLifetime
{
    private FakeUpstream _upstream = null!;
    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        _upstream = await FakeUpstream.StartAsync(async (ctx, _) =>
        {
            string[] pieces = ["one ", "two ", "three ", "forbidden ", "four"];
            var events = pieces.Select(static p => "data: " + JsonSerializer.Serialize(new { id = "c1", @object = "chat.completion.chunk", created = 1, model = "up", choices = new[] { new { index = 0, delta = new { content = p }, finish_reason = (string?)null } } })).ToList();
            events.Add("""data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
            events.Add("data: [DONE]");
            await FakeUpstream.Sse(ctx, events);
        });
        _host = await GatewayHost.StartAsync(Configs.OpenAI(_upstream.BaseUrl + "/v1", extra: """
              - Name: refused-model
                Deployments: [{ Provider: upstream, Model: up }]
              - Name: held-model
                Deployments: [{ Provider: upstream, Model: up }]
            """), configureServices: static services => services.AddSingleton<IGatewayInterceptor, WordFilter>());
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    /// <summary>Per model: passes words through in upper case one at a time, holds everything to the end, or refuses a word.</summary>
    private sealed class WordFilter : IGatewayInterceptor
    {
        public GatewayStage Stage => GatewayStage.Content;

        public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.FromResult<GatewayRejection?>(null);

        public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public IStreamTextFilter? FilterStream(GatewayCall call) => call.Model switch
        {
            "gpt-4o-mini" => new Filter(hold: false, refuse: false),
            "held-model" => new Filter(hold: true, refuse: false),
            "refused-model" => new Filter(hold: false, refuse: true),
            _ => null,
        };

        private sealed class Filter(bool hold, bool refuse) : IStreamTextFilter
        {
            private readonly StringBuilder _held = new();

            public StreamTextVerdict OnText(int choice, string text)
            {
                if (refuse && text.Contains("forbidden", StringComparison.Ordinal)) return new("", new GatewayRejection(400, "refused by the test filter", "invalid_request_error", "test_refused"));
                if (!hold) return new(text.ToUpperInvariant());
                _held.Append(text);
                return new("");
            }

            public StreamTextVerdict OnEnd(int choice)
            {
                var rest = _held.ToString();
                _held.Clear();
                return new(rest.ToUpperInvariant());
            }
        }
    }

    private async Task<(HttpStatusCode Status, List<JsonElement> Events, bool Done)> StreamAsync(string model)
    {
        var body = JsonSerializer.Serialize(new { model, stream = true, messages = new[] { new { role = "user", content = "count" } } });
        using var response = await _host.Client.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var sse = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, sse);
        var events = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Where(static e => e != "data: [DONE]")
            .Select(static e => JsonDocument.Parse(e["data: ".Length..]).RootElement.Clone()).ToList();
        return (response.StatusCode, events, sse.TrimEnd().EndsWith("data: [DONE]", StringComparison.Ordinal));
    }

    private static List<string> Texts(IEnumerable<JsonElement> events) =>
        events.Where(static e => e.TryGetProperty("choices", out var c) && c.GetArrayLength() > 0)
            .Select(static e => e.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString()! : "")
            .ToList();

    [Fact]
    public async Task The_client_gets_what_the_filter_releases_chunk_by_chunk()
    {
        var (status, events, done) = await StreamAsync("gpt-4o-mini");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(done);
        Assert.Equal(["ONE ", "TWO ", "THREE ", "FORBIDDEN ", "FOUR", ""], Texts(events));
    }

    [Fact]
    public async Task Held_text_is_released_with_the_choices_finish_reason()
    {
        var (status, events, done) = await StreamAsync("held-model");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(done);
        var texts = Texts(events);
        Assert.All(texts.SkipLast(1), static t => Assert.Equal("", t));
        Assert.Equal("ONE TWO THREE FORBIDDEN FOUR", texts[^1]);
        Assert.Equal("stop", events.Last(static e => e.GetProperty("choices").GetArrayLength() > 0).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_refusal_ends_the_stream_with_an_error_event_before_the_refused_text()
    {
        var (status, events, done) = await StreamAsync("refused-model");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(done);
        Assert.Equal(["ONE ", "TWO ", "THREE "], Texts(events.SkipLast(1)));
        var error = events[^1].GetProperty("error");
        Assert.Equal("test_refused", error.GetProperty("code").GetString());
        Assert.Equal("refused by the test filter", error.GetProperty("message").GetString());
    }
}
