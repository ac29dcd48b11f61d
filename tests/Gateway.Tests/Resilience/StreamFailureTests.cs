using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Gateway.Tests.Resilience;

/// <summary>Failures after the stream was committed to the client, and clients that go away mid-stream.</summary>
public sealed class StreamFailureTests
{
    /// <summary>
    /// An upstream that sends two chunks, then cuts the connection without ending the stream — once the client has
    /// received both chunks (cutting earlier can discard bytes still in flight, and the attempt would rightly fall back).
    /// </summary>
    private sealed class CuttingUpstream
    {
        private readonly TaskCompletionSource[] _cuts = [.. Enumerable.Range(0, 8).Select(static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

        public async Task HandleAsync(HttpContext context, int index)
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream";
            foreach (var chunk in new[] { Upstream.Chunk("Hel"), Upstream.Chunk("lo") })
            {
                await context.Response.WriteAsync(chunk + "\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            await _cuts[index].Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
            context.Abort();
        }

        /// <summary>Streams through the gateway, cuts the upstream after the client saw two events, and returns everything the client got.</summary>
        public async Task<string> StreamAsync(GatewayHost host, int index)
        {
            using var response = await Upstream.PostAsync(host, Upstream.StreamBody, completion: HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(), Encoding.UTF8);
            var received = new StringBuilder();
            var buffer = new char[1024];
            while (CountEvents(received.ToString()) < 2)
            {
                var read = await reader.ReadAsync(buffer);
                Assert.True(read > 0, $"the stream ended before two events: {received}");
                received.Append(buffer, 0, read);
            }
            _cuts[index].SetResult();
            received.Append(await reader.ReadToEndAsync());
            return received.ToString();
        }

        private static int CountEvents(string text) => text.Split("\n\n").Length - 1;
    }

    [Fact]
    public async Task A_stream_cut_mid_way_ends_with_an_error_event_and_no_done()
    {
        var cutting = new CuttingUpstream();
        await using var a = await FakeUpstream.StartAsync(cutting.HandleAsync);
        await using var b = await FakeUpstream.StartAsync((ctx, _) => FakeUpstream.Sse(ctx, [Upstream.Chunk("from-b", "stop"), "data: [DONE]"]));
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl), ("b", b.BaseUrl)]));

        var body = await cutting.StreamAsync(host, 0);

        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, events.Length);
        Assert.Equal(Upstream.ClientChunk("Hel"), events[0]);
        Assert.Equal(Upstream.ClientChunk("lo"), events[1]);
        Assert.StartsWith("data: {\"error\":", events[2], StringComparison.Ordinal);
        var error = JsonDocument.Parse(events[2]["data: ".Length..]).RootElement.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
        Assert.Equal("stream_interrupted", error.GetProperty("code").GetString());
        Assert.DoesNotContain("[DONE]", body, StringComparison.Ordinal);
        // Bytes had reached the client: no retry, no fallback.
        Assert.Equal(1, a.Count);
        Assert.Equal(0, b.Count);
    }

    [Fact]
    public async Task A_stream_cut_mid_way_counts_as_a_failure_of_the_deployment()
    {
        var cutting = new CuttingUpstream();
        await using var a = await FakeUpstream.StartAsync(cutting.HandleAsync);
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)]));

        for (var i = 0; i < 2; i++)
        {
            Assert.Contains("stream_interrupted", await cutting.StreamAsync(host, i), StringComparison.Ordinal);
        }

        var row = await Upstream.DeploymentAsync(host, "a/up-a");
        Assert.Equal(2, row.GetProperty("requests").GetInt64());
        Assert.Equal(2, row.GetProperty("failures").GetInt64());
        Assert.Equal(2, row.GetProperty("consecutiveFailures").GetInt32());
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_cancels_the_upstream_call()
    {
        var firstChunkSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stoppedByAbort = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await FakeUpstream.StartAsync(async (ctx, _) =>
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/event-stream";
            try
            {
                // A slow model that never finishes on its own: only the gateway giving up ends this loop.
                for (var i = 0; ; i++)
                {
                    await ctx.Response.WriteAsync(Upstream.Chunk($"t{i} ") + "\n\n", ctx.RequestAborted);
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                    firstChunkSent.TrySetResult();
                    await Task.Delay(50, ctx.RequestAborted);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && ctx.RequestAborted.IsCancellationRequested)
            {
                stoppedByAbort.TrySetResult();
            }
        });
        await using var host = await GatewayHost.StartAsync(Upstream.Config([("a", a.BaseUrl)]));

        // No draining on dispose: disposing the unfinished response closes the connection, as a departing client would.
        using (var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = host.BaseAddress })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(Upstream.StreamBody, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", host.MasterKey);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer);
            Assert.StartsWith("data: ", Encoding.UTF8.GetString(buffer, 0, read), StringComparison.Ordinal);
        }

        await Wait.ForAsync(stoppedByAbort.Task, TimeSpan.FromSeconds(10), "the upstream stream to be aborted by the gateway");
        await Wait.ForAsync(a.Aborted.Task, TimeSpan.FromSeconds(10), "the fake upstream to see the request aborted");
        Assert.True(firstChunkSent.Task.IsCompleted);
        Assert.Equal(1, a.Count);
    }
}
