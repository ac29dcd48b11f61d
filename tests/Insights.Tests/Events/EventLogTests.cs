using CsCheck;
using Dapper;
using LlmMarketplace.Insights.Events;
using LlmMarketplace.Insights.Storage;

namespace LlmMarketplace.Insights.Tests.Events;

/// <summary>The event log's batch append: whole batches in one statement, read back in their order and unchanged.</summary>
public sealed class EventLogTests
{
    [Theory]
    [OnEachStorage]
    public async Task A_batch_of_events_of_any_size_and_text_reads_back_whole_and_in_order(string storage)
    {
        await using var db = await TestStorage.CreateAsync(storage);
        await using var host = await GatewayHost.StartAsync(Configs.OpenAI("http://127.0.0.1:9/v1"), db.Overrides);
        var store = host.Service<InsightsStore>();
        var log = host.Service<EventLog>();
        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // One sample at a time (each reads what it appended). Up to 600 events in one append, text of any plane-0
        // character (quotes, backslashes, control characters, non-Latin scripts).
        var gen = Gen.Select(Gen.String[Gen.Char[' ', '\uD7FF'], 0, 40], Gen.Long[0, 86_400_000]).Array[0, 600];
        await gen.SampleAsync(async items =>
        {
            var events = items.Select((item, i) =>
            {
                var envelope = new EventEnvelope("evt_test_" + Guid.NewGuid().ToString("N"), "test.generated", EventEnvelope.CurrentVersion,
                    DateTimeOffset.FromUnixTimeMilliseconds(nowMs + item.Item2), EventEnvelope.SourceName,
                    JsonSerializer.SerializeToElement(new { text = item.Item1, index = i }));
                return new StoredEvent(envelope.Id, envelope.Type, JsonSerializer.Serialize(envelope, InsightsJson.Options), nowMs + item.Item2);
            }).ToArray();

            await using var connection = await store.OpenAsync();
            var before = await connection.ExecuteScalarAsync<long?>("SELECT MAX(seq) FROM insights_events") ?? 0;
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                await store.InsertEventsAsync(connection, transaction, events, CancellationToken.None);
                await transaction.CommitAsync();
            }

            var read = await log.ReadAfterAsync(before, 1000, CancellationToken.None);
            Assert.Equal(events.Select(static e => e.Id), read.Select(static r => r.Id));
            Assert.Equal(events.Select(static e => e.Payload), read.Select(static r => r.Json));
            Assert.Equal(events.Select(static e => e.CreatedMs), read.Select(static r => r.CreatedMs));
            Assert.True(read.Zip(read.Skip(1)).All(static p => p.First.Seq < p.Second.Seq), "positions rise in the batch's order");
            for (var i = 0; i < items.Length; i++)
            {
                var envelope = read[i].Envelope();
                Assert.Equal(("test.generated", "test.generated", read[i].Id), (read[i].Type, envelope.Type, envelope.Id));
                Assert.Equal(items[i].Item1, envelope.Data.GetProperty("text").GetString());
                Assert.Equal(i, envelope.Data.GetProperty("index").GetInt32());
            }
        }, iter: 20, threads: 1);
    }
}
