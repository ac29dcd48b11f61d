namespace LlmMarketplace.Portal.Tests.Infrastructure;

/// <summary>
/// Saves screenshots as test artifacts: under <c>LLMM_TEST_RESULTS</c> (the test script's results directory) or,
/// without it, under <c>TestResults/portal-screenshots</c> next to the test assembly.
/// </summary>
public sealed class Screenshots(string test)
{
    private int _n;

    public static string Directory
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("LLMM_TEST_RESULTS") is { Length: > 0 } results
                ? results
                : Path.Combine(AppContext.BaseDirectory, "TestResults");
            return Path.Combine(root, "portal-screenshots");
        }
    }

    public List<string> Saved { get; } = [];

    public async Task TakeAsync(IPage page, string step)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, $"{test}-{++_n:00}-{step}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        Saved.Add(path);
    }
}
