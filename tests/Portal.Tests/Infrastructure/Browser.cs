namespace LlmMarketplace.Portal.Tests.Infrastructure;

/// <summary>
/// Headless Chromium from the machine (Debian's <c>chromium</c>; no browser download), driven by Playwright.
/// <c>LLMM_TEST_CHROMIUM</c> names another executable; the test script sets it after installing the package.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string ExecutableVariable = "LLMM_TEST_CHROMIUM";

    private static readonly string[] Flags =
        ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private Browser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public static async Task<Browser> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"Chromium is not at {ExecutablePath}: install the Debian package 'chromium' (scripts/test.sh does) or set {ExecutableVariable}.");
        }
        // Generous deadlines for the auto-waiting expectations: the machine may be busy with other test runs
        // (password hashing and first renders slow down); a passing expectation returns as soon as it holds.
        Assertions.SetDefaultExpectTimeout(30_000);
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Flags,
        });
        return new Browser(playwright, browser);
    }

    /// <summary>A fresh browser context (its own cookies and session storage): one person.</summary>
    public async Task<IPage> NewPageAsync(Uri baseAddress, string? timezoneId = null)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
            Permissions = ["clipboard-read", "clipboard-write"],
            TimezoneId = timezoneId,
        });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
