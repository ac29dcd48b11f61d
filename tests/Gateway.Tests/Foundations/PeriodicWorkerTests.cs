using LlmMarketplace.BuildingBlocks.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Gateway.Tests.Foundations;

/// <summary>The one background worker base: rounds on an interval or when woken, failures logged, a clean stop.</summary>
public sealed class PeriodicWorkerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private sealed class CountingWorker(TimeProvider time, ILogger logger, bool runAtStart = true) : PeriodicWorker(time, logger)
    {
        private int _rounds;

        public int Rounds => Volatile.Read(ref _rounds);

        /// <summary>Rounds listed here throw instead of completing.</summary>
        public HashSet<int> Failing { get; } = [];

        /// <summary>When set, a round waits for it (or for the stop).</summary>
        public TaskCompletionSource? Gate { get; set; }

        public bool RoundCancelled { get; private set; }

        protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

        protected override TimeSpan RetryDelay => TimeSpan.FromSeconds(5);

        protected override bool RunAtStart => runAtStart;

        protected override async Task RunAsync(CancellationToken cancellationToken)
        {
            var round = Interlocked.Increment(ref _rounds);
            if (Gate is { } gate)
            {
                try
                {
                    await gate.Task.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    RoundCancelled = true;
                    throw;
                }
            }
            if (Failing.Contains(round)) throw new InvalidOperationException($"round {round} broke");
        }
    }

    private static ILogger LoggerOf(LogCapture capture)
    {
        var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        return factory.CreateLogger("worker");
    }

    [Fact]
    public async Task A_round_runs_at_start_then_every_interval_and_at_once_when_woken()
    {
        var time = new FakeTimeProvider();
        using var worker = new CountingWorker(time, LoggerOf(new LogCapture()));
        await worker.StartAsync(CancellationToken.None);
        await Wait.UntilAsync(() => worker.Rounds == 1, Deadline, "the round at start");

        worker.Wake();
        await Wait.UntilAsync(() => worker.Rounds == 2, Deadline, "the round a wake asked for");

        // The fake clock has not moved: only the interval passing runs the next one.
        await Wait.UntilAsync(() =>
        {
            if (worker.Rounds < 3) time.Advance(TimeSpan.FromSeconds(30));
            return worker.Rounds == 3;
        }, Deadline, "the round after the interval");
        await worker.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_worker_that_waits_first_runs_its_first_round_after_one_interval()
    {
        var time = new FakeTimeProvider();
        using var worker = new CountingWorker(time, LoggerOf(new LogCapture()), runAtStart: false);
        await worker.StartAsync(CancellationToken.None);
        Assert.Equal(0, worker.Rounds);
        await Wait.UntilAsync(() =>
        {
            if (worker.Rounds < 1) time.Advance(TimeSpan.FromSeconds(10));
            return worker.Rounds == 1;
        }, Deadline, "the first round");
        await worker.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failed_round_is_logged_and_the_loop_goes_on_after_the_retry_delay()
    {
        var time = new FakeTimeProvider();
        var logs = new LogCapture(LogLevel.Warning);
        using var worker = new CountingWorker(time, LoggerOf(logs));
        worker.Failing.Add(1);
        await worker.StartAsync(CancellationToken.None);
        await Wait.UntilAsync(() => logs.Entries.Count == 1, Deadline, "the failure's log line");

        var failure = Assert.Single(logs.Entries);
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.Contains("CountingWorker", failure.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(failure.Exception);

        // The retry delay (5 s), not the interval (1 min), brings the next round.
        await Wait.UntilAsync(() =>
        {
            if (worker.Rounds < 2) time.Advance(TimeSpan.FromSeconds(1));
            return worker.Rounds == 2;
        }, Deadline, "the round after the failure");
        Assert.True(time.GetUtcNow() - time.Start < TimeSpan.FromMinutes(1));
        Assert.Single(logs.Entries);
        await worker.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stopping_cancels_the_round_in_progress_and_ends_the_loop()
    {
        var time = new FakeTimeProvider();
        var logs = new LogCapture(LogLevel.Warning);
        using var worker = new CountingWorker(time, LoggerOf(logs)) { Gate = new TaskCompletionSource() };
        await worker.StartAsync(CancellationToken.None);
        await Wait.UntilAsync(() => worker.Rounds == 1, Deadline, "the round at start");

        await Wait.ForAsync(worker.StopAsync(CancellationToken.None), Deadline, "the worker to stop");

        Assert.True(worker.RoundCancelled);
        Assert.True(worker.ExecuteTask!.IsCompletedSuccessfully);
        Assert.Empty(logs.Entries);
    }
}
