using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Tests.Providers;

/// <summary>An API key in a process environment variable of its own, referenced from the config as <c>env:NAME</c>.</summary>
public sealed class EnvSecret : IDisposable
{
    public EnvSecret(string prefix)
    {
        Name = $"LLMM_TEST_{prefix}_{Guid.NewGuid():N}".ToUpperInvariant();
        Value = $"{prefix.ToLowerInvariant()}-key-{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(Name, Value);
    }

    public string Name { get; }

    public string Value { get; }

    public string Reference => "env:" + Name;

    public void Dispose() => Environment.SetEnvironmentVariable(Name, null);
}

/// <summary>A fake upstream, the gateway in front of it and the provider's key: shared by the tests of one class, which run one at a time.</summary>
public abstract class ProviderFixture : IAsyncLifetime
{
    private EnvSecret? _key;

    public FakeUpstream Upstream { get; private set; } = null!;

    public GatewayHost Host { get; private set; } = null!;

    public EnvSecret Key => _key!;

    protected abstract string Prefix { get; }

    protected abstract string Config(string upstreamBaseUrl, string keyReference);

    public async Task InitializeAsync()
    {
        _key = new EnvSecret(Prefix);
        Upstream = await FakeUpstream.StartAsync();
        Host = await GatewayHost.StartAsync(Config(Upstream.BaseUrl, _key.Reference));
    }

    /// <summary>Makes the upstream answer with <paramref name="answer"/> and returns the queue the requests it answers land in.</summary>
    public ConcurrentQueue<ReceivedRequest> Answer(Func<HttpContext, Task> answer)
    {
        var seen = new ConcurrentQueue<ReceivedRequest>();
        Upstream.Handle((ctx, _) =>
        {
            seen.Enqueue(FakeUpstream.Received(ctx));
            return answer(ctx);
        });
        return seen;
    }

    public async Task DisposeAsync()
    {
        if (Host is not null) await Host.DisposeAsync();
        if (Upstream is not null) await Upstream.DisposeAsync();
        _key?.Dispose();
    }
}

/// <summary>What a client read from a streamed chat completion: the chunks, a trailing error event, and whether <c>[DONE]</c> came last.</summary>
internal sealed record OpenAIStream(string Raw, IReadOnlyList<JsonElement> Chunks, JsonElement? Error, bool Done)
{
    /// <summary>The chunks that carry choices (not the final usage chunk).</summary>
    public IEnumerable<JsonElement> ChoiceChunks => Chunks.Where(static c => c.GetProperty("choices").GetArrayLength() > 0);

    public IEnumerable<JsonElement> Deltas => ChoiceChunks.Select(static c => c.GetProperty("choices")[0].GetProperty("delta"));

    public string Text => string.Concat(Deltas.Select(static d => d.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : ""));

    public IReadOnlyList<string> FinishReasons => ChoiceChunks
        .Select(static c => c.GetProperty("choices")[0].GetProperty("finish_reason"))
        .Where(static f => f.ValueKind != JsonValueKind.Null)
        .Select(static f => f.GetString()!)
        .ToList();

    /// <summary>Parses a gateway SSE body strictly: every event is one <c>data: </c> line followed by a blank line.</summary>
    public static OpenAIStream Parse(string raw)
    {
        Assert.True(raw.EndsWith("\n\n", StringComparison.Ordinal), $"the stream does not end with a complete event: {raw}");
        var chunks = new List<JsonElement>();
        JsonElement? error = null;
        var done = false;
        foreach (var e in raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.False(done, "an event followed [DONE]");
            Assert.False(error.HasValue, "an event followed the error event");
            Assert.StartsWith("data: ", e, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e);
            var data = e["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            var json = JsonDocument.Parse(data).RootElement;
            if (json.TryGetProperty("error", out var err))
            {
                error = err;
                continue;
            }
            Assert.Equal("chat.completion.chunk", json.GetProperty("object").GetString());
            chunks.Add(json);
        }
        return new OpenAIStream(raw, chunks, error, done);
    }

    public static async Task<OpenAIStream> ReadAsync(HttpResponseMessage response)
    {
        var raw = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {raw}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return Parse(raw);
    }
}

internal static class ProviderTestKit
{
    /// <summary>
    /// Gateway settings for a class's shared host: the tests that make the upstream fail must not open the circuit
    /// of the deployment the other tests use (the circuit breaker has tests of its own), and retries need not wait.
    /// </summary>
    public const string SharedGateway = """
        Gateway:
          CircuitBreaker:
            FailureThreshold: 1000
          Retry:
            BaseDelayMs: 1
            MaxDelayMs: 5
        """;

    public static async Task<HttpResponseMessage> PostAsync(GatewayHost host, string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        return await host.Client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> ChatAsync(GatewayHost host, string body) => PostAsync(host, "v1/chat/completions", body);

    public static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Asserts OpenAI's error envelope exactly and returns the error object.</summary>
    public static async Task<JsonElement> ErrorEnvelopeAsync(HttpResponseMessage response, int status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected HTTP {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        var property = Assert.Single(root.EnumerateObject());
        Assert.Equal("error", property.Name);
        Assert.Equal(["message", "type", "param", "code"], property.Value.EnumerateObject().Select(static p => p.Name).ToArray());
        return property.Value;
    }

    /// <summary>Asserts two JSON values are equal as JSON (property order and whitespace aside).</summary>
    public static void JsonEqual(string expected, JsonElement actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual.GetRawText())),
            $"expected JSON {expected}{Environment.NewLine}but got       {actual.GetRawText()}");

    public static void JsonEqual(string expected, string actualJson) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actualJson)),
            $"expected JSON {expected}{Environment.NewLine}but got       {actualJson}");

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"The response has no '{name}' header.");

    public static decimal DecimalHeader(HttpResponseMessage response, string name) =>
        decimal.Parse(Header(response, name), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Writes raw SSE text, flushing after each piece, exactly as given (line endings included).</summary>
    public static async Task RawSseAsync(HttpContext context, IEnumerable<string> pieces)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream";
        foreach (var piece in pieces)
        {
            await context.Response.WriteAsync(piece);
            await context.Response.Body.FlushAsync();
        }
    }
}
