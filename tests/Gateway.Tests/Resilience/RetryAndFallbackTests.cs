using System.Collections.Concurrent;
using System.Diagnostics;

namespace LlmMarketplace.Gateway.Tests.Resilience;

/// <summary>Retries, backoff and fallback before the first byte, through the real host against faulty upstreams on loopback.</summary>
public sealed class RetryAndFallbackTests
{
    [Theory]
    [InlineData("retry-after", "0")]
    [InlineData("retry-after-ms", "1")]
    public async Task A_429_with_a_short_retry_after_is_retried_on_the_same_deployment(string header, string value)
    {
        await using var a = await FakeUpstream.StartAsync(async (ctx, n) =>
        {
            if (n == 0)
            {
                ctx.Response.Headers[header] = value;
                await FakeUpstream.Json(ctx, Upstream.Error("Rate limit reached", "requests", "rate_limit_exceeded"), 429);
                return;
            }
            await FakeUpstream.Json(ctx, Upstream.Completion("from-a"));
        });
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertAnsweredAsync(response, "a/up-a", 2, "from-a");
        Assert.Equal(2, a.Count);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public async Task A_retry_after_within_the_limit_is_waited_for()
    {
        var arrivals = new ConcurrentQueue<long>();
        await using var a = await FakeUpstream.StartAsync(async (ctx, n) =>
        {
            arrivals.Enqueue(Stopwatch.GetTimestamp());
            if (n == 0)
            {
                ctx.Response.Headers["retry-after-ms"] = "400";
                await FakeUpstream.Json(ctx, Upstream.Error("Rate limit reached", "requests", null), 429);
                return;
            }
            await FakeUpstream.Json(ctx, Upstream.Completion("from-a"));
        });
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var times = arrivals.ToArray();
        Assert.Equal(2, times.Length);
        // The configured backoff is at most 5 ms, so a gap this long can only come from honouring retry-after-ms.
        var gap = Stopwatch.GetElapsedTime(times[0], times[1]);
        Assert.True(gap >= TimeSpan.FromMilliseconds(350), $"the retry came {gap.TotalMilliseconds:0} ms after the 429 that asked for 400 ms");
    }

    [Fact]
    public async Task A_500_falls_back_to_the_next_deployment()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertAnsweredAsync(response, "b/up-b", 3, "from-b");
        Assert.Equal("b", Upstream.Header(response, "x-gateway-provider"));
        Assert.Equal(2, a.Count);
        Assert.Equal(1, b.Count);
    }

    [Fact]
    public async Task A_refused_connection_falls_back_to_the_next_deployment()
    {
        var deadPort = TestPaths.FreePort();
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", $"http://127.0.0.1:{deadPort}"), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertAnsweredAsync(response, "b/up-b", 3, "from-b");
    }

    [Fact]
    public async Task An_unreachable_only_deployment_is_a_502_in_the_envelope()
    {
        var deadPort = TestPaths.FreePort();
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", $"http://127.0.0.1:{deadPort}")]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertEnvelopeAsync(response, 502, "api_error", "upstream_unreachable");
    }

    [Fact]
    public async Task A_slow_first_byte_times_out_and_falls_back()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await FakeUpstream.StartAsync(Upstream.AnswerWhenReleased(release.Task, "late-a"));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)], providerExtra: Upstream.ShortTimeoutOnA));
        try
        {
            using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

            await Upstream.AssertAnsweredAsync(response, "b/up-b", 3, "from-b");
            Assert.Equal(2, a.Count);
            // The gateway gave up on the slow upstream call rather than leaving it running.
            await Wait.ForAsync(a.Aborted.Task, TimeSpan.FromSeconds(10), "the gateway to abort the timed-out upstream request");
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_slow_first_byte_on_every_deployment_is_a_504_in_the_envelope()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await FakeUpstream.StartAsync(Upstream.AnswerWhenReleased(release.Task, "late-a"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)], providerExtra: Upstream.ShortTimeoutOnA));
        try
        {
            using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

            await Upstream.AssertEnvelopeAsync(response, 504, "api_error", "upstream_timeout");
            Assert.Equal(2, a.Count);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_stream_whose_first_event_is_late_falls_back_before_anything_reaches_the_client()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await FakeUpstream.StartAsync(async (ctx, _) =>
        {
            // Headers now, events never (until released): only the first-event timeout can end this.
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/event-stream";
            await ctx.Response.Body.FlushAsync();
            try
            {
                await release.Task.WaitAsync(ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        });
        await using var b = await FakeUpstream.StartAsync((ctx, _) => FakeUpstream.Sse(ctx, [Upstream.Chunk("from-b", "stop"), "data: [DONE]"]));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)], providerExtra: Upstream.ShortTimeoutOnA));
        try
        {
            using var response = await Upstream.PostAsync(host, Upstream.StreamBody);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("b/up-b", Upstream.Header(response, "x-gateway-deployment"));
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(Upstream.ClientChunk("from-b", "stop") + "\n\ndata: [DONE]\n\n", body);
            Assert.Equal(2, a.Count);
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task When_every_attempt_fails_the_client_gets_a_502_envelope()
    {
        await using var a = await FakeUpstream.StartAsync(Upstream.Fail(500, "boom at a"));
        await using var b = await FakeUpstream.StartAsync(Upstream.Fail(503, "boom at b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        var error = await Upstream.AssertEnvelopeAsync(response, 502, "api_error", "upstream_error");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Contains("4 attempt", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, a.Count);
        Assert.Equal(2, b.Count);
    }

    [Fact]
    public async Task An_upstream_400_reaches_the_client_unchanged_without_retry_or_fallback()
    {
        await using var a = await FakeUpstream.StartAsync((ctx, _) => FakeUpstream.Json(ctx,
            """{"error":{"message":"Invalid 'messages[0].content': string too long.","type":"invalid_request_error","param":"messages[0].content","code":"string_above_max_length"}}""", 400));
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        var error = await Upstream.AssertEnvelopeAsync(response, 400, "invalid_request_error", "string_above_max_length");
        Assert.Equal("Invalid 'messages[0].content': string too long.", error.GetProperty("message").GetString());
        Assert.Equal("messages[0].content", error.GetProperty("param").GetString());
        Assert.Equal(1, a.Count);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public async Task A_retry_after_beyond_the_limit_is_not_waited_for_and_the_429_reaches_the_client()
    {
        await using var a = await FakeUpstream.StartAsync(async (ctx, _) =>
        {
            ctx.Response.Headers.RetryAfter = "30";
            await FakeUpstream.Json(ctx, Upstream.Error("Rate limit reached", "requests", null), 429);
        });
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertEnvelopeAsync(response, 429, "rate_limit_exceeded", "rate_limit_exceeded");
        Assert.Equal("30", Upstream.Header(response, "retry-after"));
        // MaxRetryAfterSeconds is 2: a 30 s wait is refused, so the deployment is not tried again.
        Assert.Equal(1, a.Count);
    }

    [Fact]
    public async Task A_retry_after_beyond_the_limit_falls_back_at_once()
    {
        await using var a = await FakeUpstream.StartAsync(async (ctx, _) =>
        {
            ctx.Response.Headers.RetryAfter = "30";
            await FakeUpstream.Json(ctx, Upstream.Error("Rate limit reached", "requests", null), 429);
        });
        await using var b = await FakeUpstream.StartAsync(Upstream.Answer("from-b"));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        using var response = await Upstream.PostAsync(host, Upstream.ChatBody);

        await Upstream.AssertAnsweredAsync(response, "b/up-b", 2);
        Assert.Equal(1, a.Count);
    }
}
