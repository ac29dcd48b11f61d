using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>Helpers for optimizer tests: keys, chat calls, feedback, an OpenAI-compatible fake upstream, storages.</summary>
internal static class OptimizerTestKit
{
    public const string WeakDeployment = "upstream/weak-model";
    public const string StrongDeployment = "upstream/strong-model";

    /// <summary>A host with one auto-routed model <c>smart</c> over a strong ($10/$30 per 1M) and a weak ($0.5/$0.5) model of one upstream.</summary>
    public static string AutoModelConfig(string baseUrl, double qualityTarget, string routerSettings) => $"""
        Providers:
          - Name: upstream
            Type: openai
            BaseUrl: {baseUrl}/v1
        Models:
          - Name: smart
            Routing: auto
            QualityTarget: {qualityTarget.ToString(System.Globalization.CultureInfo.InvariantCulture)}
            Deployments:
              - Provider: upstream
                Model: strong-model
                InputPerMTok: 10
                OutputPerMTok: 30
              - Provider: upstream
                Model: weak-model
                InputPerMTok: 0.5
                OutputPerMTok: 0.5
        Optimizer:
          Router:
        {routerSettings}
        """;

    /// <summary>An OpenAI-compatible upstream answering every chat call with <paramref name="answer"/> (of the upstream model asked and the prompt), streamed when asked.</summary>
    public static Task<FakeUpstream> UpstreamAsync(Func<string, string, string>? answer = null) =>
        FakeUpstream.StartAsync(async (context, _) =>
        {
            var json = FakeUpstream.Received(context).Json;
            var model = json.GetProperty("model").GetString()!;
            var prompt = json.GetProperty("messages")[0].GetProperty("content").GetString()!;
            var text = answer?.Invoke(model, prompt) ?? "ok";
            if (FakeUpstream.WantsStream(context))
            {
                var chunk = JsonSerializer.Serialize(new
                {
                    id = "chatcmpl-1",
                    @object = "chat.completion.chunk",
                    created = 1,
                    model,
                    choices = new[] { new { index = 0, delta = new { role = "assistant", content = text }, finish_reason = "stop" } },
                });
                await FakeUpstream.Sse(context, ["data: " + chunk, "data: [DONE]"]);
                return;
            }
            var body = JsonSerializer.Serialize(new
            {
                id = "chatcmpl-" + Guid.NewGuid().ToString("N"),
                @object = "chat.completion",
                created = 1,
                model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = text }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 100, completion_tokens = 50, total_tokens = 150 },
            });
            await FakeUpstream.Json(context, body);
        });

    public static async Task<(string Id, string Key)> CreateKeyAsync(GatewayHost host, string name)
    {
        using var response = await host.Client.PostAsJsonAsync("api/v1/keys", new { name });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/v1/keys answered {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        return (json.GetProperty("id").GetString()!, json.GetProperty("key").GetString()!);
    }

    public static HttpClient ClientWithKey(GatewayHost host, string key)
    {
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public static async Task<HttpResponseMessage> ChatAsync(HttpClient client, string model, string content, string? requestId = null)
    {
        var body = JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content } } });
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (requestId is not null) request.Headers.Add("x-request-id", requestId);
        var response = await client.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Fail($"chat answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        return response;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> FeedbackAsync(HttpClient client, object body)
    {
        using var response = await client.PostAsJsonAsync("v1/feedback", body);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";
}
