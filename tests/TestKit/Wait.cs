using System.Diagnostics;

namespace LlmMarketplace.TestKit;

/// <summary>
/// Waits for a condition with a deadline, polling with a short pause between looks: the tests' only way to wait.
/// Every overload asks at least once, so a deadline already spent still gets one look.
/// </summary>
public static class Wait
{
    /// <summary>The pause between two looks: short enough not to slow a test, long enough not to spin.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <summary>The same for a condition that has to ask (an HTTP call, a query).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        await UntilAsync(condition, static holds => holds, timeout, what, describe: null);

    /// <summary>
    /// Reads a value until <paramref name="condition"/> holds for it and returns that value; on timeout the message
    /// carries the last value read.
    /// </summary>
    public static Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan timeout, string what) =>
        UntilAsync(read, condition, timeout, what, describe: static last => $"; last answer: {last}");

    private static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> condition, TimeSpan timeout, string what, Func<T, string>? describe)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await read();
            if (condition(value)) return value;
            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}{describe?.Invoke(value)}.");
            }
            await Task.Delay(Poll);
        }
    }

    /// <summary>
    /// Waits until a program we started answers 200 at <paramref name="url"/> (its health endpoint), failing at once, with
    /// its output, if it exits first.
    /// </summary>
    public static async Task UntilAnswersAsync(Process process, Uri url, Func<string> output, TimeSpan timeout)
    {
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            await UntilAsync(async () =>
            {
                if (process.HasExited) throw new InvalidOperationException($"{url.Authority} exited with {process.ExitCode} before answering: {output()}");
                try
                {
                    using var response = await probe.GetAsync(url);
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return false; // not listening or not answering yet
                }
            }, timeout, $"{url} to answer");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} Its output: {output()}", ex);
        }
    }

    public static async Task ForAsync(Task task, TimeSpan timeout, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}.");
        }
        await task;
    }
}
