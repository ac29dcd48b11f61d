using System.Diagnostics.Metrics;
using LlmMarketplace.BuildingBlocks.Storage;
using LlmMarketplace.Host.Hosting;
using LlmMarketplace.Optimizer.Experiments;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmMarketplace.Optimizer.Tests;

/// <summary>Experiment calls are written off the request path: queued, then written in batches, and flushed on shutdown.</summary>
public sealed class ExperimentCallWriterTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_burst_of_calls_arrives_in_few_batches_and_a_repeated_request_id_counts_once(string provider)
    {
        var (database, drop) = await MigrationUpgradeTests.FreshDatabaseAsync(provider);
        try
        {
            Assert.True(Migrator.Run(database, MigrationAssemblies.All).Successful);
            using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var writer = new ExperimentCallWriter(database, new OptimizerMetrics(services.GetRequiredService<IMeterFactory>()), NullLogger<ExperimentCallWriter>.Instance);

            // The burst is queued before the worker runs, as when calls come faster than one write.
            for (var i = 0; i < 1000; i++) await writer.EnqueueAsync(Call($"req-{i}", i % 2 == 0 ? "a" : "b"), CancellationToken.None);
            await writer.EnqueueAsync(Call("req-7", "a"), CancellationToken.None);
            await writer.StartAsync(CancellationToken.None);

            await Wait.UntilAsync(async () => await CountAsync(database) == 1000, TimeSpan.FromSeconds(30), "1000 experiment calls to be written");
            Assert.InRange(writer.Batches, 1, (1001 + ExperimentCallWriter.MaxBatch - 1) / ExperimentCallWriter.MaxBatch);
            await writer.StopAsync(CancellationToken.None);
            Assert.Equal(1000, await CountAsync(database));
            Assert.Equal(500, await CountAsync(database, "b"));
        }
        finally
        {
            await database.DisposeAsync();
            await drop();
        }
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Calls_still_queued_at_shutdown_are_written_before_the_writer_stops(string provider)
    {
        var (database, drop) = await MigrationUpgradeTests.FreshDatabaseAsync(provider);
        try
        {
            Assert.True(Migrator.Run(database, MigrationAssemblies.All).Successful);
            using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
            var writer = new ExperimentCallWriter(database, new OptimizerMetrics(services.GetRequiredService<IMeterFactory>()), NullLogger<ExperimentCallWriter>.Instance);
            await writer.StartAsync(CancellationToken.None);
            for (var i = 0; i < 600; i++) await writer.EnqueueAsync(Call($"req-{i}", "a"), CancellationToken.None);

            await writer.StopAsync(CancellationToken.None);

            Assert.Equal(600, await CountAsync(database));
        }
        finally
        {
            await database.DisposeAsync();
            await drop();
        }
    }

    private static ExperimentCall Call(string requestId, string variant) => new(requestId, "exp-1", variant, 200, 0.000125m, 42.5, 1_700_000_000_000);

    private static async Task<long> CountAsync(Database database, string? variant = null)
    {
        await using var connection = await database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = variant is null
            ? "SELECT COUNT(*) FROM insights_experiment_calls WHERE experiment_id = 'exp-1'"
            : $"SELECT COUNT(*) FROM insights_experiment_calls WHERE experiment_id = 'exp-1' AND variant = '{variant}'";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
