using System.Diagnostics;

namespace LlmMarketplace.Access.Tests.Distributed;

/// <summary>Embeddings use the shared (Redis) response cache as chat does: one replica's answer is a hit on another.</summary>
public sealed class EmbeddingsReplicaTests
{
    [Fact]
    public async Task An_embedding_cached_by_one_replica_is_a_hit_on_another()
    {
        // Every upstream answer differs, so an equal answer can only come from the cache.
        await using var upstream = await FakeUpstream.StartAsync(static (ctx, n) => FakeUpstream.Json(ctx,
            "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[0." + (n + 1) + ",0.5]}],\"model\":\"e\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}"));
        await using var shared = await DistributedKit.CreateSharedAsync();
        var replicas = await DistributedKit.StartReplicasAsync(2, Config(upstream.BaseUrl + "/v1", extra: """
                  - Name: embed
                    Kind: embedding
                    Deployments:
                      - Provider: upstream
                        Model: e
                        InputPerMTok: 0.02
                """), shared,
            new Dictionary<string, string?> { ["Gateway:Cache:Enabled"] = "true" });
        try
        {
            var input = "embedded everywhere " + Guid.NewGuid().ToString("N");
            string first;
            using (var miss = await EmbedAsync(replicas[0].Client, input))
            {
                Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
                Assert.Equal("MISS", Header(miss, "x-cache"));
                first = await miss.Content.ReadAsStringAsync();
            }
            Assert.Equal(1, upstream.Count);
            // The shared write happens after the answer: poll the other replica until it sees it.
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                using var response = await EmbedAsync(replicas[1].Client, input);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                if (Header(response, "x-cache") == "HIT")
                {
                    Assert.Equal(first, await response.Content.ReadAsStringAsync());
                    Assert.Equal("0", Header(response, "x-gateway-cost"));
                    break;
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(5), "the cached embedding did not reach the other replica");
            }
        }
        finally
        {
            foreach (var replica in replicas) await replica.DisposeAsync();
        }
    }

    private static Task<HttpResponseMessage> EmbedAsync(HttpClient client, string input) =>
        client.PostAsync("v1/embeddings", new StringContent($$"""{"model":"embed","input":"{{input}}"}""", Encoding.UTF8, "application/json"));
}
